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
