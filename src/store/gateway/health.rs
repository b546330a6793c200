//! Which gateways failed or were too slow lately, so that one bad gateway
//! costs a build seconds once rather than again for every block and every
//! artifact.
//!
//! A gateway is remembered when it costs its callers time: it made the
//! client wait (no answer in
//! [`ClientOptions::first_byte`](super::ClientOptions::first_byte), a CAR
//! stream behind its pace), sent junk blocks, or kept failing after its
//! retries (5xx, no connection). A quick refusal (wrong bytes, not a CAR)
//! costs a round trip and sends the request on to the next gateway at
//! once, and an honest mirror whose disk rotted one block answers so for
//! that block only; a 404 or a stream cut short is what an honest mirror
//! that lacks a block answers. None of these is remembered.
//!
//! A gateway whose CAR stream was behind its pace when a faster gateway
//! raced beside it ended first (`hedge.rs`) has not failed: it is marked
//! as *behind* instead, which only puts it after the others in the order
//! later requests ask them in, for as long as a failing one is skipped. A
//! mark as failing replaces a mark as behind, never the other way round.
//!
//! A remembered gateway is skipped for [`AVOID_FOR`]. Within a process the
//! memory is a map; across processes (the rustc wrappers of one
//! `cargo ipfs install` each open their own client) it is a directory,
//! `<store>/gateway-health/`, with one small file per gateway, named after
//! the digest of its URL and replaced whole (`atomic_file`), so that two
//! processes remembering two gateways at once lose neither. Resolving an
//! index (the start of every `fetch`, `build` and `install`) forgets them
//! all ([`forget_all`]): a new command tries every gateway again.

use crate::atomic_file::{replace, Durability};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a gateway that failed is skipped: longer than most builds, so
/// that the build that saw it fail does not ask it again, and short enough
/// that a gateway that recovers is used again without anyone acting.
pub const AVOID_FOR: Duration = Duration::from_secs(10 * 60);

/// The folder under the store directory where failing gateways are kept.
pub const HEALTH_DIR: &str = "gateway-health";

/// One remembered gateway, as its file holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Mark {
    gateway: String,
    /// Seconds since the Unix epoch until which it is skipped.
    until: u64,
    reason: String,
    /// Only behind its pace: asked last rather than skipped.
    #[serde(default)]
    behind: bool,
}

/// The gateways to skip, in memory and, when a folder is given, in files
/// other processes read.
#[derive(Debug, Default)]
pub struct Health {
    dir: Option<PathBuf>,
    marks: Mutex<HashMap<String, Mark>>,
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Health {
    /// Remembers in this process only.
    pub fn in_memory() -> Self {
        Health::default()
    }

    /// Remembers in `dir` too (see [`HEALTH_DIR`]), for other processes.
    pub fn shared(dir: PathBuf) -> Self {
        Health { dir: Some(dir), marks: Mutex::default() }
    }

    fn file(&self, gateway: &str) -> Option<PathBuf> {
        let digest = hex::encode(Sha256::digest(gateway.as_bytes()));
        self.dir.as_ref().map(|dir| dir.join(format!("{}.json", &digest[..32])))
    }

    /// Skips `gateway` for [`AVOID_FOR`] from now, saying why in debug logs
    /// and in its file. Failing to write the file only loses the memory
    /// across processes.
    pub fn avoid(&self, gateway: &str, reason: &str) {
        tracing::debug!(gateway, reason, "gateway remembered as failing");
        self.mark(gateway, reason, false);
    }

    /// Marks `gateway` as behind its pace for [`AVOID_FOR`] from now, unless
    /// it is remembered as failing already.
    pub fn fell_behind(&self, gateway: &str, reason: &str) {
        if self.avoided(gateway).is_some() {
            return;
        }
        tracing::debug!(gateway, reason, "gateway behind its pace");
        self.mark(gateway, reason, true);
    }

    fn mark(&self, gateway: &str, reason: &str, behind: bool) {
        let mark = Mark {
            gateway: gateway.to_string(),
            until: now_secs() + AVOID_FOR.as_secs(),
            reason: reason.chars().take(500).collect(),
            behind,
        };
        if let Some(path) = self.file(gateway) {
            if let Ok(bytes) = serde_json::to_vec(&mark) {
                let _ = replace(&path, &bytes, Durability::Unsynced);
            }
        }
        self.marks.lock().unwrap_or_else(|e| e.into_inner()).insert(gateway.to_string(), mark);
    }

    /// Whether `gateway` is to be skipped now, and why.
    pub fn avoided(&self, gateway: &str) -> Option<String> {
        self.live(gateway).filter(|m| !m.behind).map(|m| m.reason)
    }

    /// Whether `gateway` was behind its pace lately (and is to be asked
    /// after the others); a gateway remembered as failing is not.
    pub fn behind(&self, gateway: &str) -> bool {
        self.live(gateway).is_some_and(|m| m.behind)
    }

    /// The mark of `gateway` in force now: this process's mark as failing,
    /// else the file's mark (another process may have found it failing),
    /// else this process's mark as behind.
    fn live(&self, gateway: &str) -> Option<Mark> {
        let now = now_secs();
        // A mark from the future past `AVOID_FOR` (a clock set back) is
        // not believed.
        let live = |m: &Mark| m.gateway == gateway && m.until > now && m.until <= now + AVOID_FOR.as_secs();
        let mine = self.marks.lock().unwrap_or_else(|e| e.into_inner()).get(gateway).filter(|m| live(m)).cloned();
        if mine.as_ref().is_some_and(|m| !m.behind) {
            return mine;
        }
        let file = self.file(gateway).and_then(|path| std::fs::read(path).ok());
        let theirs = file.and_then(|bytes| serde_json::from_slice::<Mark>(&bytes).ok()).filter(live);
        theirs.or(mine)
    }
}

/// Forgets every gateway remembered under the store directory `store_dir`.
pub fn forget_all(store_dir: &Path) {
    let dir = store_dir.join(HEALTH_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".json") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_remembered_by_one_process_is_skipped_by_another_until_forgotten() {
        let store = tempfile::tempdir().unwrap();
        let one = Health::shared(store.path().join(HEALTH_DIR));
        let other = Health::shared(store.path().join(HEALTH_DIR));
        let alone = Health::in_memory();
        assert_eq!(other.avoided("http://a"), None);
        one.avoid("http://a", "too slow");
        one.avoid("http://b", "wrong bytes");
        alone.avoid("http://c", "down");
        assert_eq!(other.avoided("http://a").as_deref(), Some("too slow"));
        assert_eq!(other.avoided("http://b").as_deref(), Some("wrong bytes"));
        assert_eq!(other.avoided("http://c"), None, "in memory only");
        assert_eq!(alone.avoided("http://c").as_deref(), Some("down"));

        // A file that names another gateway, or that says "for a year", is
        // not believed.
        let path = one.file("http://a").unwrap();
        let forged = Mark { gateway: "http://x".into(), until: now_secs() + 100, reason: String::new(), behind: false };
        std::fs::write(&path, serde_json::to_vec(&forged).unwrap()).unwrap();
        assert_eq!(other.avoided("http://a"), None);
        let forever =
            Mark { gateway: "http://a".into(), until: now_secs() + 365 * 86400, reason: String::new(), behind: false };
        std::fs::write(&path, serde_json::to_vec(&forever).unwrap()).unwrap();
        assert_eq!(other.avoided("http://a"), None);

        forget_all(store.path());
        assert_eq!(Health::shared(store.path().join(HEALTH_DIR)).avoided("http://b"), None);
    }

    #[test]
    fn a_gateway_behind_its_pace_is_asked_last_not_skipped_and_a_failure_outweighs_it() {
        let store = tempfile::tempdir().unwrap();
        let one = Health::shared(store.path().join(HEALTH_DIR));
        let other = Health::shared(store.path().join(HEALTH_DIR));
        one.fell_behind("http://a", "behind");
        assert_eq!(one.avoided("http://a"), None);
        assert!(one.behind("http://a"));
        assert!(other.behind("http://a"), "shared with the other processes");
        assert_eq!(other.avoided("http://a"), None);

        // Found failing by the other process: skipped by both.
        other.avoid("http://a", "timed out");
        assert_eq!(one.avoided("http://a").as_deref(), Some("timed out"));
        assert!(!one.behind("http://a"));
        // And falling behind later does not turn that back into "behind".
        one.fell_behind("http://a", "behind again");
        assert_eq!(other.avoided("http://a").as_deref(), Some("timed out"));

        forget_all(store.path());
        assert!(!Health::shared(store.path().join(HEALTH_DIR)).behind("http://a"));
    }
}
