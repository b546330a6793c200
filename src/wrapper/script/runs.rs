//! Recorded runs: `<store>/wrapper/runs/<ab>/<pre-key>.json` lists, newest
//! first, the runs recorded under one pre-key, each with the names and
//! state of the inputs it declared and the artifact it left; and
//! `<store>/runs-journal.jsonl` lists the runs that may go to other
//! machines (a verified registry package, no machine path inside), one
//! line each, for a later `publish`.

use super::inputs::{InputNames, InputState};
use crate::artifact::cache::ArtifactRef;
use crate::atomic_file::Durability;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Runs kept per pre-key, newest first: one per state of the declared
/// inputs seen (a variable switched back and forth), bounded like the
/// candidates of path crates.
pub const MAX_RUN_CANDIDATES: usize = 8;

/// One recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The inputs the run declared.
    pub names: InputNames,
    /// Their state when it ran.
    pub state: InputState,
    /// The full key (pre-key and state).
    pub key: String,
    /// The packed run.
    pub artifact: ArtifactRef,
    /// For a run whose files hold this machine's paths in binary form: the
    /// paths it needs (the path map's prefixes), which must be the same
    /// for a restore. `None` for a portable run.
    pub bound_to: Option<Vec<String>>,
}

/// A run that may go to other machines, as the journal lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEntry {
    /// The package.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its source, as index entries spell it.
    pub source: String,
    /// Its `.crate` checksum.
    pub checksum: String,
    /// The pre-key.
    pub pre_key: String,
    /// The run as recorded.
    pub candidate: Candidate,
    /// The target the script ran for.
    pub target: String,
    /// Seconds since the epoch.
    pub built_at: u64,
}

/// The recorded runs of a store.
#[derive(Debug, Clone)]
pub struct Runs {
    dir: PathBuf,
    journal: PathBuf,
}

impl Runs {
    /// The runs of the store at `store_dir`.
    pub fn new(store_dir: &Path) -> Self {
        Runs { dir: store_dir.join("wrapper").join("runs"), journal: store_dir.join("runs-journal.jsonl") }
    }

    fn path(&self, pre_key: &str) -> PathBuf {
        self.dir.join(&pre_key[..2]).join(format!("{pre_key}.json"))
    }

    /// The runs under `pre_key`, newest first (none when unreadable).
    pub fn candidates(&self, pre_key: &str) -> Vec<Candidate> {
        std::fs::read(self.path(pre_key)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// Files a run first under `pre_key`, dropping an older one with the
    /// same key and the oldest beyond [`MAX_RUN_CANDIDATES`].
    pub fn add(&self, pre_key: &str, candidate: Candidate) -> std::io::Result<()> {
        let mut candidates = self.candidates(pre_key);
        candidates.retain(|c| c.key != candidate.key);
        candidates.insert(0, candidate);
        candidates.truncate(MAX_RUN_CANDIDATES);
        let path = self.path(pre_key);
        std::fs::create_dir_all(path.parent().expect("run paths have a parent"))?;
        crate::atomic_file::replace(
            &path,
            &serde_json::to_vec(&candidates).expect("candidates serialize"),
            Durability::Unsynced,
        )
    }

    /// Appends a run to the journal, one line in one write.
    pub fn journal(&self, entry: &RunEntry) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(entry).expect("entries serialize");
        line.push(b'\n');
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&self.journal)?;
        file.write_all(&line)
    }

    /// The journaled runs (lines that do not parse are skipped).
    pub fn journal_entries(&self) -> Vec<RunEntry> {
        let text = std::fs::read_to_string(&self.journal).unwrap_or_default();
        text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }
}
