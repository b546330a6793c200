//! `version`, and the oldest kubo this client speaks to.
//!
//! The RPC shapes used here are those of kubo 0.27 and later: records go
//! through `routing/get` and `routing/put` (the `dht` variants were removed
//! from `/api/v0` in 0.27), blocks are put with `cid-codec`, and
//! `dag/import` answers each root with `PinErrorMsg`. An older node is
//! refused at once with what to do, rather than failing later on a
//! command it names differently. Blocks made here are at most 1 MiB (the
//! limit kubo enforced before 0.40), so every supported version takes them.

use super::{KuboError, KuboStore};

/// The oldest kubo version spoken to.
pub const MIN_KUBO: (u64, u64, u64) = (0, 27, 0);

impl KuboStore {
    /// kubo's version (`version`): a check that the node answers.
    pub fn version(&self) -> Result<String, KuboError> {
        self.run("version", async {
            use ipfs_api_backend_hyper::IpfsApi;
            self.client.version().await.map(|v| v.version).map_err(|e| self.error("version", e))
        })
    }

    /// [`KuboStore::version`], refused when older than [`MIN_KUBO`] (a
    /// version that does not read as `X.Y.Z...` is let through: a
    /// development build).
    pub fn checked_version(&self) -> Result<String, KuboError> {
        let version = self.version()?;
        if parse(&version).is_some_and(|v| v < MIN_KUBO) {
            let (a, b, c) = MIN_KUBO;
            return Err(KuboError::Refused {
                url: self.url.clone(),
                endpoint: "version",
                message: format!(
                    "kubo {version} is older than {a}.{b}.{c}, the oldest this tool speaks to; upgrade the node"
                ),
            });
        }
        Ok(version)
    }
}

/// `0.41.0`, `0.41.0-rc1`, `v0.41.0` as numbers.
fn parse(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.trim_start_matches('v').split(['.', '-', '+']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn versions_read_as_kubo_writes_them() {
        assert_eq!(parse("0.41.0"), Some((0, 41, 0)));
        assert_eq!(parse("0.27.0-rc1"), Some((0, 27, 0)));
        assert_eq!(parse("v0.9.1"), Some((0, 9, 1)));
        assert_eq!(parse("dev"), None);
        assert!(parse("0.26.9").unwrap() < super::MIN_KUBO);
    }
}
