//! `dag/import`: a CAR streamed into the node, its roots pinned, and kubo's
//! answer checked for every root. What goes into the CAR is the caller's
//! ([`crate::publish::push()`]).

use super::api::{DagImport, ImportLine};
use super::{KuboError, KuboStore};
use crate::formats::block::{cid_to_string, parse_cid};
use bytes::Bytes;
use cid::Cid;
use futures::TryStreamExt;
use ipfs_api_backend_hyper::Form;
use std::collections::BTreeSet;
use std::io;
use std::time::Duration;
use tokio::sync::mpsc;

/// The pace below which an import is given up: the node must take the CAR
/// at least this fast, after the first timeout.
const MIN_IMPORT_RATE: u64 = 1 << 20;

/// How one root of an imported CAR fared ([`KuboStore::dag_import`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRoot {
    /// The root, as the caller named it.
    pub cid: Cid,
    /// kubo's reason for not pinning it; `None` when it is pinned.
    pub pin_error: Option<String>,
}

impl KuboStore {
    /// Imports a CAR into the node and pins its roots (`dag/import` with
    /// `pin-roots`). `car` carries the CAR's bytes as another thread writes
    /// them (a [`crate::buffers::ChunkWriter`]), header first; an error on
    /// it ends the request as an error. `roots` are the roots the header
    /// lists, and `bytes` about how many bytes follow: the command may take
    /// the store's timeout plus those bytes at 1 MiB/s, and kubo is sent
    /// that limit as its `timeout`. An online node pinning a root whose DAG
    /// it holds only part of searches the network for the rest until then,
    /// and the import ends as [`KuboError::Timeout`]; offline it answers
    /// each such root with its reason. Every root must come
    /// back in the answer, pinned or with kubo's reason; the answer is one
    /// [`ImportedRoot`] per root, in the order given.
    pub fn dag_import(
        &self,
        roots: &[Cid],
        bytes: u64,
        car: mpsc::Receiver<io::Result<Bytes>>,
    ) -> Result<Vec<ImportedRoot>, KuboError> {
        const ENDPOINT: &str = "dag/import";
        let body = futures::stream::unfold(car, |mut r| async move { r.recv().await.map(|chunk| (chunk, r)) });
        let mut form = Form::default();
        form.add_async_reader_file("file", Box::pin(body).into_async_read(), "push.car");
        let limit = 4096 + roots.len() * 512;
        let after = self.options.timeout + Duration::from_secs(bytes / MIN_IMPORT_RATE);
        // kubo is told the same limit: pinning the roots of a partial DAG
        // searches the network for the rest, for good without one (kubo#10159).
        let global = super::api::Global { offline: self.options.offline, timeout: Some(after) };
        let request = DagImport { pin_roots: true, global };
        let answer = self.run_within(ENDPOINT, after, self.send(ENDPOINT, request, Some(form), limit))?;

        // kubo keys blocks by multihash, and may name a root in another CID version.
        let mut pins = BTreeSet::new();
        let mut unpinned = Vec::new();
        for line in answer.split(|&b| b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)) {
            let line: ImportLine =
                serde_json::from_slice(line).map_err(|e| self.faulty(ENDPOINT, format!("an unreadable line ({e})")))?;
            let Some(root) = line.root else { continue };
            let cid =
                parse_cid(&root.cid.cid).map_err(|e| self.faulty(ENDPOINT, format!("root {:?}: {e}", root.cid.cid)))?;
            if root.pin_error_msg.is_empty() {
                pins.insert(cid.hash().to_bytes());
            } else {
                unpinned.push((cid.hash().to_bytes(), root.pin_error_msg));
            }
        }
        roots
            .iter()
            .map(|root| {
                let key = root.hash().to_bytes();
                let pin_error = if pins.contains(&key) {
                    None
                } else {
                    let Some((_, message)) = unpinned.iter().find(|(k, _)| *k == key) else {
                        return Err(
                            self.faulty(ENDPOINT, format!("root {} is missing from the answer", cid_to_string(root)))
                        );
                    };
                    Some(message.clone())
                };
                Ok(ImportedRoot { cid: *root, pin_error })
            })
            .collect()
    }
}
