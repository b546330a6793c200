//! Build-script runs in the index: what a run entry signs besides the
//! fields every entry has.
//!
//! A run is looked up in two steps (see `docs/ARCHITECTURE.md`, "What a
//! build-script run's key covers"): its pre-key, from what cargo hands
//! every run, leads to the recorded runs, and each is restored only when
//! the inputs it declared (variables, files, host tools) are in the state
//! recorded. A run entry carries both, so that a subscriber files it under
//! its pre-key exactly as a run recorded on its own machine is filed, and
//! checks the declared inputs on its own machine before any restore.

use serde::{Deserialize, Serialize};

/// The names of a run's declared inputs, as recorded (file paths normalized).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputNames {
    /// Declared variables.
    pub env: Vec<String>,
    /// Declared files and directories, normalized paths.
    pub files: Vec<String>,
    /// Host tools: `cc`, `c++`, `ar`.
    pub tools: Vec<String>,
}

/// The state of declared inputs: what must be equal for a recorded run to
/// be restored.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputState {
    /// Each variable's value (paths normalized), `None` when unset.
    pub env: Vec<(String, Option<String>)>,
    /// Each file's digest, a directory's tree digest, or `missing`.
    pub files: Vec<(String, String)>,
    /// Each tool's command and identity.
    pub tools: Vec<(String, String)>,
}

/// What a run entry signs besides the fields of every entry. The entry's
/// `key` is the run's full key (pre-key and declared state), its `cid`
/// the packed run (`artifact::run_pack`), its `outputs` empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunInfo {
    /// The pre-key (64 hex digits) the run is filed under.
    pub pre_key: String,
    /// The host the script ran on (`HOST`): a run's tools are the host's.
    pub host: String,
    /// The inputs it declared.
    pub names: InputNames,
    /// Their state when it ran.
    pub state: InputState,
}

impl RunInfo {
    /// Checks what a reader relies on; `Err` says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex64(&self.pre_key) {
            return Err("run pre_key must be 64 lower-case hex digits".into());
        }
        if self.host.is_empty() {
            return Err("run host must be a target triple".into());
        }
        let same = |a: Vec<&String>, b: Vec<&String>| a == b;
        if !same(self.names.env.iter().collect(), self.state.env.iter().map(|(n, _)| n).collect())
            || !same(self.names.files.iter().collect(), self.state.files.iter().map(|(n, _)| n).collect())
            || !same(self.names.tools.iter().collect(), self.state.tools.iter().map(|(n, _)| n).collect())
        {
            return Err("run state must name the declared inputs, in order".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::entry::tests::sample;

    fn run_entry() -> crate::index::Entry {
        let mut entry = sample("cfix", "0.1.0", &"e2".repeat(32));
        entry.outputs.clear();
        entry.run = Some(RunInfo {
            pre_key: "c4".repeat(32),
            host: "x86_64-unknown-linux-gnu".into(),
            names: InputNames { env: vec!["A".into()], files: vec!["/vendor/x".into()], tools: vec!["cc".into()] },
            state: InputState {
                env: vec![("A".into(), Some("1".into()))],
                files: vec![("/vendor/x".into(), "missing".into())],
                tools: vec![("cc".into(), "cc 00".into())],
            },
        });
        entry
    }

    #[test]
    fn a_run_entry_is_refused_unless_a_reader_can_file_it_as_signed() {
        run_entry().validate().unwrap();
        let broken: [fn(&mut crate::index::Entry); 6] = [
            |e| e.run.as_mut().unwrap().pre_key = "../../etc".into(),
            |e| e.run.as_mut().unwrap().host.clear(),
            |e| e.run.as_mut().unwrap().state.env.clear(),
            |e| e.run.as_mut().unwrap().names.tools.push("ar".into()),
            |e| e.key = "e2".into(),
            |e| e.outputs = sample("cfix", "0.1.0", "01").outputs,
        ];
        for (i, breaks) in broken.iter().enumerate() {
            let mut entry = run_entry();
            breaks(&mut entry);
            assert!(entry.validate().is_err(), "case {i} must be refused");
        }
    }

    #[test]
    fn a_run_entry_round_trips_and_a_unit_entry_names_no_run() {
        let entry = run_entry();
        let shard = crate::index::entry::encode_shard(std::slice::from_ref(&entry));
        assert_eq!(crate::index::entry::decode_shard::<crate::index::Entry>("cfix", &shard).unwrap(), [entry]);
        let unit = sample("cfix", "0.1.0", "01");
        let text = String::from_utf8(crate::index::entry::encode_shard(&[unit])).unwrap();
        assert!(!text.contains("\"run\"") && !text.contains("\"inputs\""), "format 2 readers' shape: {text}");
    }
}
