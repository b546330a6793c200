//! `dag/export`: the DAG under a root as one CAR stream, verified block by
//! block as it arrives ([`CarStream`]), with kubo's `timeout` set so that
//! an online node stops searching the network for a missing root or block
//! when the client stops waiting, and the `X-Stream-Error` trailer read at
//! the end: kubo reports there an error met after the answer began (a
//! block missing further down), which the stream then ends with.

use super::api::{DagExport, Global};
use super::{KuboError, KuboStore};
use crate::formats::block::cid_to_string;
use crate::store::gateway::CarStream;
use crate::store::CarBlocks;
use cid::Cid;
use futures::{StreamExt, TryStreamExt};
use ipfs_api_prelude::Backend;
use std::time::Duration;

/// The slowest pace an export is waited for: kubo's `timeout` is the
/// store's timeout plus the DAG's size at this many bytes a second.
const MIN_EXPORT_RATE: u64 = 256 << 10;

/// The trailer kubo names in every answer.
const STREAM_ERROR: &str = "x-stream-error";

impl KuboStore {
    /// The DAG under `root` (`dag/export`), its blocks verified against their
    /// CIDs as they arrive, and checked complete when the stream ends. Each
    /// chunk may take the store's timeout, and the stream must keep to a
    /// minimum rate after that, as a gateway's CAR must; dropping the stream
    /// ends the request, which stops the node's work on it. `size`, when
    /// known, sets how long kubo may work on it in all (its `timeout`):
    /// the store's timeout plus the size at 256 KiB/s; unknown, four times
    /// the store's timeout.
    pub fn export(&self, root: &Cid, size: Option<u64>) -> Result<CarBlocks<'_>, KuboError> {
        const ENDPOINT: &str = "dag/export";
        // A stream for blocking code: its `next` blocks on the runtime.
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(KuboError::InAsyncContext);
        }
        let arg = cid_to_string(root);
        let within = match size {
            Some(size) => self.options.timeout + Duration::from_secs(size / MIN_EXPORT_RATE),
            None => self.options.timeout * 4,
        };
        let global = Global { offline: self.options.offline, timeout: Some(within) };
        let request = DagExport { arg: &arg, progress: false, global };
        // ipfs-api-backend-hyper's client (hyper 0.14) drops HTTP/1.1
        // trailers; the request it builds is sent with reqwest, which reads them.
        let request = self.client.build_base_request(request, None).map_err(|e| self.error(ENDPOINT, e))?;
        let uri = request.uri().to_string();
        let url = self.url.clone();
        let http = self.trailers_client.clone();
        let body =
            futures::stream::once(async move {
                let response =
                    http.post(uri).header(reqwest::header::TE, "trailers").send().await.map_err(|e| {
                        std::io::Error::other(format!("cannot reach kubo at {url} for dag/export: {e}"))
                    })?;
                let status = response.status();
                if !status.is_success() {
                    let text = response.text().await.unwrap_or_default();
                    let message = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v["Message"].as_str().map(str::to_string))
                        .unwrap_or_else(|| text.trim().chars().take(300).collect());
                    return Err(std::io::Error::other(format!("kubo at {url} refused dag/export: {message}")));
                }
                Ok(with_trailer(url, response))
            })
            .try_flatten();
        let source = format!("kubo at {} (dag/export)", self.url);
        let stream = CarStream::of_dag(Box::pin(body), source, *root, self.options.timeout);
        Ok(CarBlocks::new(&self.runtime, stream))
    }
}

/// The body's bytes, then an error if the `X-Stream-Error` trailer names one.
fn with_trailer(
    url: String,
    response: reqwest::Response,
) -> impl futures::Stream<Item = std::io::Result<bytes::Bytes>> {
    let body = http_body_util::BodyStream::new(reqwest::Body::from(response));
    futures::stream::unfold(Some((body, url)), |state| async move {
        let (mut body, url) = state?;
        match body.next().await {
            None => None,
            Some(Err(e)) => Some((Err(std::io::Error::other(format!("kubo at {url} failed dag/export: {e}"))), None)),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) => Some((Ok(chunk), Some((body, url)))),
                Err(frame) => {
                    let message = frame
                        .trailers_ref()
                        .and_then(|t| t.get(STREAM_ERROR))
                        .and_then(|v| v.to_str().ok())
                        .map(|m| m.trim().to_string())
                        .filter(|m| !m.is_empty());
                    match message {
                        Some(m) => {
                            Some((Err(std::io::Error::other(format!("kubo at {url} failed dag/export: {m}"))), None))
                        }
                        None => Some((Ok(bytes::Bytes::new()), Some((body, url)))),
                    }
                }
            },
        }
    })
}
