//! A kubo node as a pinning target: `pin/ls` to find what it keeps, then
//! `pin/add` recursive for the rest, each with kubo's own timeout so that
//! the node stops searching the network when the wait ends.

use super::http::RemoteError;
use super::{Labels, Outcome, Pace, Target, Wanted};
use crate::store::kubo::{KuboError, KuboOptions, KuboStore};
use std::time::{Duration, Instant};

/// A kubo node.
pub struct KuboTarget {
    name: String,
    node: KuboStore,
    pace: Pace,
}

impl KuboTarget {
    /// The node at `addr` (an `http://` URL or a multiaddr), named `name`.
    pub fn connect(name: &str, addr: &str, pace: Pace) -> anyhow::Result<Self> {
        let options = KuboOptions { timeout: pace.retry.timeout, ..KuboOptions::default() };
        let node = KuboStore::connect(addr, options)?;
        node.checked_version()?;
        Ok(KuboTarget { name: name.to_string(), node, pace })
    }

    fn unreachable(&self, e: KuboError) -> RemoteError {
        RemoteError::Unreachable {
            service: self.name.clone(),
            url: self.node.url().to_string(),
            reason: e.to_string(),
            attempts: 1,
        }
    }
}

impl Target for KuboTarget {
    fn describe(&self) -> String {
        format!("{} (kubo at {})", self.name, self.node.url())
    }

    fn pin_all(
        &self,
        wanted: &[Wanted],
        _labels: &Labels,
        progress: &mut dyn FnMut(&Wanted, &Outcome),
    ) -> Result<Vec<Outcome>, RemoteError> {
        let deadline = Instant::now() + self.pace.wait;
        let mut outcomes = Vec::with_capacity(wanted.len());
        for w in wanted {
            let outcome = match self.node.is_pinned(&w.cid) {
                Ok(true) => Outcome::Already,
                Ok(false) => {
                    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
                    match self.node.pin_add(&w.cid, left) {
                        Ok(()) => Outcome::Pinned,
                        Err(e @ KuboError::Unreachable { .. }) => return Err(self.unreachable(e)),
                        Err(KuboError::Timeout { .. }) => Outcome::Pending(format!(
                            "kubo was still fetching it when the wait ({:?}) ended",
                            self.pace.wait
                        )),
                        Err(e) => Outcome::Failed(e.to_string()),
                    }
                }
                Err(e @ KuboError::Unreachable { .. }) => return Err(self.unreachable(e)),
                Err(e) => Outcome::Failed(e.to_string()),
            };
            progress(w, &outcome);
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}
