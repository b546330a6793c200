//! What a hit may hand to cargo, checked before anything is placed: the
//! files of an artifact must be exactly the outputs rustc would write for
//! this invocation, the stored status must be a success, and the replayed
//! output must be what a successful rustc prints (pure).
//!
//! An artifact comes from a publisher or a gateway that may be hostile, and
//! its files land in `target/*/deps/`, which every unit of the build
//! shares; its output reaches cargo, which reads JSON messages from rustc's
//! standard error, and then the user's terminal. So:
//!
//! - **Files**: the artifact's names, compared with
//!   [`Invocation::expected_outputs`](super::args::Invocation::expected_outputs),
//!   derived from the arguments. One name too many could overwrite another
//!   unit's output (the project's own rlibs included); one too few would
//!   leave cargo with a unit that lacks an output.
//! - **Status**: rustc exits 0 when it writes its outputs, and only
//!   successful runs are recorded; any other stored status is refused, so
//!   that a cached artifact never fails a build.
//! - **Messages** (with `--error-format=json`): each line that is a JSON
//!   object must be a `diagnostic` that is not an error, a
//!   `future_incompat` report, or an `artifact` notification naming one of
//!   this invocation's outputs with its emit kind. Terminal control
//!   sequences are accepted only inside the `rendered` fields, which rustc
//!   fills with ANSI colours when cargo asks for them, and there only as
//!   colour changes (SGR: `ESC [ digits;... m`); any other string holds no
//!   control character but newline and tab. A line that is not JSON (a
//!   proc-macro's own printing) follows the `rendered` rule, and so does the
//!   whole text in the human error format and on standard output.
//!
//! A refusal is a miss: the caller compiles.

use super::args::OutputKind;
use serde_json::Value;
use std::path::Path;
use thiserror::Error;

/// The most bytes of output a hit replays (standard output and error
/// together). A crate with thousands of warnings prints a few MiB.
pub const MAX_REPLAY: usize = 32 << 20;

/// Why an artifact is not restored for this invocation.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum Refused {
    /// A file that this invocation does not write.
    #[error("it holds {name:?}, which this invocation does not write")]
    Unexpected {
        /// The file's name, from the artifact.
        name: String,
    },
    /// An output of this invocation that the artifact lacks.
    #[error("it lacks {name}, an output of this invocation")]
    Missing {
        /// The output's name.
        name: String,
    },
    /// The stored exit status is not a success.
    #[error("its stored exit status is {status}, not a success")]
    Status {
        /// The stored status.
        status: i32,
    },
    /// The output is larger than [`MAX_REPLAY`].
    #[error("its output is {size} bytes, over the {MAX_REPLAY} replayed")]
    TooLong {
        /// Its size.
        size: usize,
    },
    /// A line of output that a successful rustc does not print.
    #[error("its output line {line} is not one a successful rustc prints: {why}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
}

/// Checks that `names` (the artifact's files) are exactly `expected`, each
/// once.
pub fn check_files<'a>(
    names: impl IntoIterator<Item = &'a str>,
    expected: &[(String, OutputKind)],
) -> Result<(), Refused> {
    let mut seen = vec![false; expected.len()];
    for name in names {
        match expected.iter().position(|(n, _)| n == name) {
            Some(i) if !seen[i] => seen[i] = true,
            _ => return Err(Refused::Unexpected { name: name.to_owned() }),
        }
    }
    match seen.iter().position(|s| !s) {
        Some(i) => Err(Refused::Missing { name: expected[i].0.clone() }),
        None => Ok(()),
    }
}

/// Checks a stored exit status.
pub fn check_status(status: i32) -> Result<(), Refused> {
    if status == 0 {
        Ok(())
    } else {
        Err(Refused::Status { status })
    }
}

/// Checks the output a hit would replay, already expanded to this
/// machine's paths: `stdout`, and `stderr` in the JSON error format when
/// `json`, against the invocation's `out_dir` and `expected` outputs.
pub fn check_output(
    stdout: &str,
    stderr: &str,
    json: bool,
    out_dir: &Path,
    expected: &[(String, OutputKind)],
) -> Result<(), Refused> {
    let size = stdout.len() + stderr.len();
    if size > MAX_REPLAY {
        return Err(Refused::TooLong { size });
    }
    for (i, line) in stdout.lines().enumerate() {
        colours_only(line).map_err(|why| Refused::Line { line: i + 1, why })?;
    }
    for (i, line) in stderr.lines().enumerate() {
        let checked = if json { json_line(line, out_dir, expected) } else { colours_only(line) };
        checked.map_err(|why| Refused::Line { line: i + 1, why })?;
    }
    Ok(())
}

/// One line of rustc's standard error in the JSON error format.
fn json_line(line: &str, out_dir: &Path, expected: &[(String, OutputKind)]) -> Result<(), String> {
    let object = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(object)) => object,
        // Not a message: printed as it is, so it is text.
        _ => return colours_only(line),
    };
    let kind = object.get("$message_type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "diagnostic" => {
            let level = object.get("level").and_then(Value::as_str).unwrap_or_default();
            if level.starts_with("error") {
                return Err(format!("an {level} diagnostic in a successful compilation"));
            }
        }
        "future_incompat" => {}
        "artifact" => {
            let path = object.get("artifact").and_then(Value::as_str).unwrap_or_default();
            let emit = object.get("emit").and_then(Value::as_str).unwrap_or_default();
            let named =
                expected.iter().any(|(name, kind)| out_dir.join(name) == Path::new(path) && emit_of(*kind) == emit);
            if !named {
                return Err(format!(
                    "an artifact notification for {path:?} ({emit}), not an output of this invocation"
                ));
            }
        }
        other => return Err(format!("a message of type {other:?}")),
    }
    strings_in(&Value::Object(object), false)
}

/// What `--emit` kind rustc names in the artifact notification of an output.
fn emit_of(kind: OutputKind) -> &'static str {
    match kind {
        OutputKind::Rmeta => "metadata",
        OutputKind::DepInfo => "dep-info",
        OutputKind::Other => "",
        OutputKind::Rlib | OutputKind::ProcMacro | OutputKind::Dylib | OutputKind::Staticlib | OutputKind::Bin => {
            "link"
        }
    }
}

/// Checks every string of a message (keys included): colours are allowed
/// only in a `rendered` field's value.
fn strings_in(value: &Value, rendered: bool) -> Result<(), String> {
    match value {
        Value::String(s) if rendered => colours_only(s),
        Value::String(s) => no_controls(s),
        Value::Array(items) => items.iter().try_for_each(|v| strings_in(v, false)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            no_controls(k)?;
            strings_in(v, k == "rendered")
        }),
        _ => Ok(()),
    }
}

/// Text with no control character but newline and tab.
fn no_controls(s: &str) -> Result<(), String> {
    match s.chars().find(|c| is_control(*c)) {
        Some(c) => Err(format!("it holds the control character U+{:04X}", c as u32)),
        None => Ok(()),
    }
}

/// Text whose only control sequences are colour changes.
fn colours_only(s: &str) -> Result<(), String> {
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // SGR: ESC [ then digits and semicolons, then `m`.
            if chars.next() != Some('[') {
                return Err("it holds an escape sequence that is not a colour".to_owned());
            }
            let mut length = 0;
            loop {
                match chars.next() {
                    Some('m') => break,
                    Some('0'..='9' | ';') if length < 32 => length += 1,
                    _ => return Err("it holds an escape sequence that is not a colour".to_owned()),
                }
            }
        } else if is_control(c) {
            return Err(format!("it holds the control character U+{:04X}", c as u32));
        }
    }
    Ok(())
}

fn is_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\t')
}

#[cfg(test)]
mod tests;
