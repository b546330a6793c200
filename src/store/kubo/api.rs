//! The kubo RPC endpoints used here, as `ipfs-api-prelude` requests.
//!
//! The crate's own request types cover the older API: its `block/put` sends
//! the deprecated `format` where kubo now takes `cid-codec`, and it has no
//! `routing`, `dag/export` or `dag/import`, nor kubo's global `offline` and `timeout`
//! options on a request. These types add them through its [`ApiRequest`]
//! trait; the shapes follow the kubo RPC reference
//! (<https://docs.ipfs.tech/reference/kubo/rpc/>).

use ipfs_api_prelude::ApiRequest;
use serde::{Deserialize, Serialize, Serializer};
use std::time::Duration;

/// kubo's options valid on every command, sent in the query string.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub(super) struct Global {
    /// Answer from the node's own repository only, never the network.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub offline: bool,
    /// How long the node may work on the command (a Go duration).
    #[serde(serialize_with = "go_duration", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
}

fn go_duration<S: Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match duration {
        Some(d) => serializer.serialize_str(&format!("{}ms", d.as_millis())),
        None => serializer.serialize_none(),
    }
}

/// `POST /api/v0/block/get?arg=<cid>`: the block's bytes.
#[derive(Serialize)]
pub(super) struct BlockGet<'a> {
    pub arg: &'a str,
    #[serde(flatten)]
    pub global: Global,
}

impl ApiRequest for BlockGet<'_> {
    const PATH: &'static str = "/block/get";
}

/// `POST /api/v0/block/stat?arg=<cid>`: [`BlockStat`].
#[derive(Serialize)]
pub(super) struct BlockStatRequest<'a> {
    pub arg: &'a str,
    #[serde(flatten)]
    pub global: Global,
}

impl ApiRequest for BlockStatRequest<'_> {
    const PATH: &'static str = "/block/stat";
}

/// `POST /api/v0/block/put?cid-codec=..&mhtype=..` with the block as the
/// multipart file (kubo's `data` argument): [`BlockStat`].
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct BlockPut<'a> {
    pub cid_codec: &'a str,
    pub mhtype: &'a str,
    pub pin: bool,
}

impl ApiRequest for BlockPut<'_> {
    const PATH: &'static str = "/block/put";
}

/// The answer of `block/stat` and `block/put`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BlockStat {
    pub key: String,
    pub size: u64,
}

/// `POST /api/v0/dag/export?arg=<cid>&progress=false`: the CAR of the DAG
/// under the root, streamed.
#[derive(Serialize)]
pub(super) struct DagExport<'a> {
    pub arg: &'a str,
    pub progress: bool,
    #[serde(flatten)]
    pub global: Global,
}

impl ApiRequest for DagExport<'_> {
    const PATH: &'static str = "/dag/export";
}

/// `POST /api/v0/dag/import?pin-roots=true` with a CAR as the multipart
/// file (kubo's `path` argument): one [`ImportLine`] per root.
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct DagImport {
    pub pin_roots: bool,
    #[serde(flatten)]
    pub global: Global,
}

impl ApiRequest for DagImport {
    const PATH: &'static str = "/dag/import";
}

/// A line of `dag/import`'s answer: a root and how pinning it went (with
/// `stats=true`, a last line has the import's counts instead).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ImportLine {
    #[serde(default)]
    pub root: Option<ImportRoot>,
}

/// A root of an imported CAR.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ImportRoot {
    pub cid: Link,
    #[serde(default)]
    pub pin_error_msg: String,
}

/// A CID as DAG-JSON writes it: `{"/": "bafy..."}`.
#[derive(Debug, Deserialize)]
pub(super) struct Link {
    #[serde(rename = "/")]
    pub cid: String,
}

/// `POST /api/v0/routing/get?arg=/ipns/<name>`: a [`QueryEvent`] whose
/// `Extra` is the record, base64-encoded.
#[derive(Serialize)]
pub(super) struct RoutingGet<'a> {
    pub arg: &'a str,
    #[serde(flatten)]
    pub global: Global,
}

impl ApiRequest for RoutingGet<'_> {
    const PATH: &'static str = "/routing/get";
}

/// `POST /api/v0/routing/put?arg=/ipns/<name>&allow-offline=true` with the
/// record as the multipart file (kubo's `value-file` argument): a [`QueryEvent`].
#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RoutingPut<'a> {
    pub arg: &'a str,
    pub allow_offline: bool,
}

impl ApiRequest for RoutingPut<'_> {
    const PATH: &'static str = "/routing/put";
}

/// The event `routing/get` and `routing/put` answer with.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct QueryEvent {
    #[serde(default)]
    pub extra: String,
    #[serde(rename = "Type")]
    pub kind: u32,
}

/// `QueryEvent.Type` for a value (`routing.Value` in kubo).
pub(super) const QUERY_VALUE: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    fn url(request: impl ApiRequest) -> String {
        request.absolute_url(&"http://127.0.0.1:5001/api/v0".parse().unwrap()).unwrap().to_string()
    }

    #[test]
    fn requests_encode_as_the_reference_shows() {
        let global = Global { offline: true, timeout: Some(Duration::from_secs(30)) };
        assert_eq!(
            url(BlockGet { arg: "bafkqaaa", global }),
            "http://127.0.0.1:5001/api/v0/block/get?arg=bafkqaaa&offline=true&timeout=30000ms"
        );
        assert_eq!(
            url(BlockStatRequest { arg: "x", global: Global::default() }),
            "http://127.0.0.1:5001/api/v0/block/stat?arg=x"
        );
        assert_eq!(
            url(BlockPut { cid_codec: "dag-pb", mhtype: "sha2-256", pin: false }),
            "http://127.0.0.1:5001/api/v0/block/put?cid-codec=dag-pb&mhtype=sha2-256&pin=false"
        );
        assert_eq!(
            url(RoutingPut { arg: "/ipns/k51", allow_offline: true }),
            "http://127.0.0.1:5001/api/v0/routing/put?arg=%2Fipns%2Fk51&allow-offline=true"
        );
        let global = Global { offline: false, timeout: Some(Duration::from_secs(61)) };
        assert_eq!(
            url(DagImport { pin_roots: true, global }),
            "http://127.0.0.1:5001/api/v0/dag/import?pin-roots=true&timeout=61000ms"
        );
        let global = Global { offline: false, timeout: Some(Duration::from_millis(1500)) };
        assert_eq!(
            url(DagExport { arg: "bafkqaaa", progress: false, global }),
            "http://127.0.0.1:5001/api/v0/dag/export?arg=bafkqaaa&progress=false&timeout=1500ms"
        );
    }
}
