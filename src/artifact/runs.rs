//! Build-script runs known to a store: `<store>/wrapper/runs/<ab>/<pre-key>.json`
//! lists, newest first, the runs filed under one pre-key, each with the
//! names and state of the inputs it declared and its packed run. The
//! wrapper files the runs it records (and journals those that may go to
//! other machines as index entries, in the journal of [`super::cache`]);
//! `fetch` files the runs an index signs.

use super::cache::ArtifactRef;
use super::read::read_artifact;
use super::run_pack::{unpack_run, MAX_RUN};
use crate::atomic_file::Durability;
use crate::index::run::{InputNames, InputState};
use crate::index::Entry;
use crate::store::{BlockStore, DiskStore, StoreError};
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

/// The recorded runs of a store.
#[derive(Debug, Clone)]
pub struct Runs {
    dir: PathBuf,
}

impl Runs {
    /// The runs of the store at `store_dir`.
    pub fn new(store_dir: &Path) -> Self {
        Runs { dir: store_dir.join("wrapper").join("runs") }
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
        let path = self.path(pre_key);
        let dir = path.parent().expect("run paths have a parent");
        std::fs::create_dir_all(dir)?;
        crate::atomic_file::locked(&dir.join(".lock"), || self.add_unlocked(pre_key, candidate))
    }

    fn add_unlocked(&self, pre_key: &str, candidate: Candidate) -> std::io::Result<()> {
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

    /// Marks the runs under `pre_key` as used now (their file's modification
    /// time), for the least-recently-used order of `gc`; a restore calls it.
    pub fn touch(&self, pre_key: &str) -> std::io::Result<()> {
        std::fs::File::options().write(true).open(self.path(pre_key))?.set_modified(std::time::SystemTime::now())
    }

    /// Drops the runs of the map file `file` (one of this store's) whose
    /// packed run is `cid`, and the file when none is left; under the lock
    /// that [`Runs::add`] takes, so that a run filed meanwhile stays.
    pub fn forget(&self, file: &Path, cid: &str) -> std::io::Result<()> {
        let Some(dir) = file.parent().filter(|d| d.parent() == Some(self.dir.as_path())) else {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file of the runs' map"));
        };
        crate::atomic_file::edit_json(&dir.join(".lock"), file, |candidates: &mut Vec<Candidate>| {
            candidates.retain(|c| c.artifact.cid != cid);
            !candidates.is_empty()
        })
    }

    /// Whether the run a signed index entry names is filed here already,
    /// attested by at least `attested_by` (or made here).
    pub fn has_entry(&self, entry: &Entry, attested_by: &[String]) -> bool {
        let Some(run) = &entry.run else { return false };
        self.candidates(&run.pre_key).iter().any(|c| {
            c.key == entry.key
                && c.artifact.cid == entry.cid
                && (c.artifact.local || attested_by.iter().all(|k| c.artifact.attested_by.contains(k)))
        })
    }

    /// Checks a run an index signs, whose blocks `download` brought into
    /// `store`, and files it under its pre-key: read back verified (a block
    /// that rotted on disk since is fetched again through `reader`),
    /// refused unless it is the size and sha256 the entry names, and
    /// unpacked once to check its paths, counts and signed unpacked size.
    pub fn file_entry(
        &self,
        store: &DiskStore,
        reader: &dyn BlockStore,
        entry: &Entry,
        attested_by: &[String],
    ) -> anyhow::Result<()> {
        let what = || format!("build-script run {} of {} {}", entry.cid, entry.name, entry.version);
        let Some(run) = &entry.run else { bail!("{} is not a run", what()) };
        check_sizes(entry)?;
        let mut get = |c: &cid::Cid| match store.get_required(c) {
            Ok(block) => Ok(block),
            Err(_) => reader.get_required(c),
        };
        let packed = read_artifact(&entry.cid, entry.size, &mut get).with_context(what)?;
        let digest = hex::encode(Sha256::digest(&packed));
        if digest != entry.sha256 {
            bail!("{}: its sha256 is {digest} where its signed entry names {}; refused", what(), entry.sha256);
        }
        unpack_run(&packed, entry.unpacked_size).with_context(|| format!("{}: refused", what()))?;
        let artifact = ArtifactRef {
            cid: entry.cid.clone(),
            sha256: entry.sha256.clone(),
            size: entry.size,
            compile_ms: entry.build_ms,
            local: false,
            attested_by: attested_by.to_vec(),
        };
        let (names, state) = (run.names.clone(), run.state.clone());
        let candidate = Candidate { names, state, key: entry.key.clone(), artifact, bound_to: None };
        self.add(&run.pre_key, candidate).map_err(|e| StoreError::io(store.root(), e))?;
        Ok(())
    }
}

/// Refuses a run whose signed sizes are over [`MAX_RUN`], before anything
/// is downloaded for it.
pub fn check_sizes(entry: &Entry) -> anyhow::Result<()> {
    if entry.size > MAX_RUN || entry.unpacked_size > MAX_RUN {
        bail!(
            "build-script run {} of {} {}: its entry names {} bytes packed and {} unpacked, over the {MAX_RUN}-byte \
             limit of a run; refused",
            entry.cid,
            entry.name,
            entry.version,
            entry.size,
            entry.unpacked_size
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::pack::PackedFile;
    use crate::artifact::run_pack::{pack_run, tests::climbing_pack, RunMeta, RUN_PACK_VERSION};
    use crate::formats::unixfs::{import_bytes, ImportParams};
    use crate::index::run::RunInfo;

    /// A store holding `packed`, and a run entry naming it as signed.
    fn stored(dir: &Path, packed: &[u8]) -> (DiskStore, Entry) {
        let store = DiskStore::open(dir).unwrap();
        let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, packed).unwrap();
        for block in &blocks {
            store.put(block).unwrap();
        }
        let mut entry = crate::index::entry::tests::sample("cfix", "0.1.0", &"e2".repeat(32));
        entry.cid = file.cid.to_string();
        entry.size = packed.len() as u64;
        entry.unpacked_size = crate::artifact::pack::unpacked_size(packed).unwrap_or(1 << 20);
        entry.sha256 = hex::encode(Sha256::digest(packed));
        entry.outputs.clear();
        entry.run = Some(RunInfo {
            pre_key: "c4".repeat(32),
            host: "x86_64-unknown-linux-gnu".into(),
            names: InputNames { env: vec!["CFIX_VALUE".into()], files: vec![], tools: vec![] },
            state: InputState { env: vec![("CFIX_VALUE".into(), None)], files: vec![], tools: vec![] },
        });
        entry.validate().unwrap();
        (store, entry)
    }

    fn a_run() -> Vec<u8> {
        let meta = RunMeta {
            stdout: "cargo:rustc-link-lib=static=answer\n".into(),
            stderr: String::new(),
            text_files: vec![],
            format: RUN_PACK_VERSION,
        };
        let file = PackedFile { name: "libanswer.a".into(), executable: false, bytes: b"!<arch>\n"[..].into() };
        pack_run(&meta, &[file])
    }

    #[test]
    fn a_run_an_index_signs_is_filed_under_its_pre_key() {
        let dir = tempfile::tempdir().unwrap();
        let (store, entry) = stored(dir.path(), &a_run());
        let runs = Runs::new(dir.path());
        assert!(!runs.has_entry(&entry, &[]));
        runs.file_entry(&store, &store, &entry, &[]).unwrap();
        assert!(runs.has_entry(&entry, &[]));
        let filed = runs.candidates(&"c4".repeat(32));
        let signed = entry.run.as_ref().unwrap();
        assert_eq!((filed.len(), &filed[0].names, &filed[0].state), (1, &signed.names, &signed.state));
        assert_eq!((filed[0].key.as_str(), filed[0].bound_to.as_ref()), (entry.key.as_str(), None));
    }

    /// Files `entry` and returns the error, checking nothing was filed.
    fn refused(dir: &Path, store: &DiskStore, entry: &Entry) -> String {
        let runs = Runs::new(dir);
        let e = runs.file_entry(store, store, entry, &[]).unwrap_err();
        assert!(runs.candidates(&entry.run.as_ref().unwrap().pre_key).is_empty(), "nothing filed");
        format!("{e:#}")
    }

    #[test]
    fn a_run_that_is_not_what_its_entry_signs_is_refused_and_not_filed() {
        let dir = tempfile::tempdir().unwrap();
        // Another sha256 than the bytes have.
        let (store, mut entry) = stored(dir.path(), &a_run());
        entry.sha256 = "0".repeat(64);
        let e = refused(dir.path(), &store, &entry);
        assert!(e.contains("sha256") && e.contains("refused"), "{e}");
        // Another size.
        let (store, mut entry) = stored(dir.path(), &a_run());
        entry.size -= 1;
        assert!(!refused(dir.path(), &store, &entry).is_empty());
        // An unpacked size smaller than the pack decompresses to.
        let (store, mut entry) = stored(dir.path(), &a_run());
        entry.unpacked_size = 100;
        let e = refused(dir.path(), &store, &entry);
        assert!(e.contains("refused"), "{e}");
    }

    #[test]
    fn a_signed_run_whose_files_climb_out_of_out_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, entry) = stored(dir.path(), &climbing_pack());
        let e = refused(dir.path(), &store, &entry);
        assert!(e.contains("../evil"), "{e}");
    }

    #[test]
    fn a_run_signed_over_the_size_limit_is_refused_before_any_download() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut entry) = stored(dir.path(), &a_run());
        entry.unpacked_size = MAX_RUN + 1;
        let e = check_sizes(&entry).unwrap_err().to_string();
        assert!(e.contains("limit of a run") && e.contains(&entry.cid), "{e}");
        entry.unpacked_size = 1;
        entry.size = MAX_RUN + 1;
        assert!(check_sizes(&entry).is_err());
    }
}
