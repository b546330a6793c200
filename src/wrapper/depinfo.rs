//! Rustc's dep-info (`.d`) files: which source files and environment
//! variables a compilation read.
//!
//! Rustc writes a Makefile fragment (`write_out_deps` in
//! `rustc_interface/src/passes.rs`):
//!
//! ```text
//! /out/libfoo.rmeta: src/lib.rs src/a\ b.rs
//!
//! src/lib.rs:
//! src/a\ b.rs:
//!
//! # env-dep:CARGO_PKG_NAME=foo
//! # env-dep:NOT_SET
//! ```
//!
//! One rule per output file with every input file, an empty rule per input,
//! then one comment per environment variable read through `env!` or
//! `option_env!` (or tracked by a proc-macro): `NAME=VALUE` when it was set,
//! `NAME` alone when it was not. File names escape only spaces (`\ `), so a
//! Windows backslash is literal; variable names and values escape `\n`,
//! `\r` and `\\`. With `-Z checksum-hash-algorithm` rustc adds
//! `# checksum:...` comments, which this parser ignores.
//!
//! Parsing is a pure function over the text; no file is opened.

use thiserror::Error;

/// What a compilation read, from its dep-info file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DepInfo {
    /// The inputs of the first rule, in order, without repeats.
    pub files: Vec<String>,
    /// `(name, value)` for every `# env-dep:` line, in order; `None` when
    /// the variable was not set.
    pub env: Vec<(String, Option<String>)>,
}

/// Why a dep-info file was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DepInfoError {
    /// The file has no rule at all.
    #[error("dep-info has no `target: dependencies` line")]
    NoTarget,
    /// A line is neither a rule, a comment nor blank.
    #[error("dep-info line {line}: expected `target: dependencies`")]
    NotARule {
        /// The 1-based line number.
        line: usize,
    },
    /// An `env-dep` comment has a backslash that is not `\n`, `\r` or `\\`.
    #[error("dep-info line {line}: invalid escape in an env-dep comment")]
    BadEscape {
        /// The 1-based line number.
        line: usize,
    },
}

/// Parses the text of a dep-info file.
pub fn parse(text: &str) -> Result<DepInfo, DepInfoError> {
    let mut info = DepInfo::default();
    let mut seen_rule = false;
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        // A value ending in CR is written as `\r`, so a raw CR is a line end.
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if let Some(env) = line.strip_prefix("# env-dep:") {
            let (name, value) = match env.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (env, None),
            };
            let bad = || DepInfoError::BadEscape { line: number };
            let name = unescape_env(name).ok_or_else(bad)?;
            let value = value.map(|v| unescape_env(v).ok_or_else(bad)).transpose()?;
            info.env.push((name, value));
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let deps = rule_inputs(line).ok_or(DepInfoError::NotARule { line: number })?;
        if !seen_rule {
            seen_rule = true;
            for dep in split_escaped(deps) {
                if !info.files.contains(&dep) {
                    info.files.push(dep);
                }
            }
        }
    }
    if !seen_rule {
        return Err(DepInfoError::NoTarget);
    }
    Ok(info)
}

/// The part of a rule after `target:`. The separator is the first colon
/// followed by a space or the end of the line, so that `C:\dir` (a drive)
/// and `a:\ b` (an escaped space) stay inside the target.
fn rule_inputs(line: &str) -> Option<&str> {
    line.match_indices(':').find_map(|(at, _)| {
        let after = &line[at + 1..];
        (after.is_empty() || after.starts_with(' ')).then_some(after)
    })
}

/// Splits a list of file names at unescaped spaces and unescapes `\ `.
fn split_escaped(list: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    let mut chars = list.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&' ') => {
                current.push(' ');
                chars.next();
            }
            ' ' => {
                if !current.is_empty() {
                    names.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        names.push(current);
    }
    names
}

/// Reverses rustc's `escape_dep_env`; `None` on any other escape.
fn unescape_env(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            '\\' => out.push('\\'),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dep-info text, its files, and its environment variables.
    type Case = (&'static str, &'static [&'static str], &'static [(&'static str, Option<&'static str>)]);

    /// Written by rustc 1.95.0 for `sp ace/m od.rs`, which reads
    /// `env!("MYVAR")` (set to "line1\nline2\back slash"),
    /// `option_env!("NOT_SET_VAR")` (unset) and `include_str!("dat a.txt")`.
    const SPACES_AND_ENV: &str = "/tmp/o/sp.d: sp\\ ace/m\\ od.rs sp\\ ace/dat\\ a.txt

/tmp/o/libsp.rmeta: sp\\ ace/m\\ od.rs sp\\ ace/dat\\ a.txt

sp\\ ace/m\\ od.rs:
sp\\ ace/dat\\ a.txt:

# env-dep:MYVAR=line1\\nline2\\\\back slash
# env-dep:NOT_SET_VAR
";

    /// Written by cargo's rustc for the `paste` proc-macro (paths shortened).
    const PROC_MACRO: &str =
        "/t/debug/deps/paste-1f46112c5ce27040.d: /c/paste-1.0.15/src/lib.rs /c/paste-1.0.15/src/attr.rs

/t/debug/deps/libpaste-1f46112c5ce27040.so: /c/paste-1.0.15/src/lib.rs /c/paste-1.0.15/src/attr.rs

/c/paste-1.0.15/src/lib.rs:
/c/paste-1.0.15/src/attr.rs:
";

    #[test]
    fn parses_real_files() {
        let cases: &[Case] = &[
            (
                SPACES_AND_ENV,
                &["sp ace/m od.rs", "sp ace/dat a.txt"],
                &[("MYVAR", Some("line1\nline2\\back slash")), ("NOT_SET_VAR", None)],
            ),
            (PROC_MACRO, &["/c/paste-1.0.15/src/lib.rs", "/c/paste-1.0.15/src/attr.rs"], &[]),
        ];
        for (text, files, env) in cases {
            let info = parse(text).unwrap();
            assert_eq!(info.files, *files);
            let env: Vec<(String, Option<String>)> =
                env.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
            assert_eq!(info.env, env);
        }
    }

    #[test]
    fn handles_edge_cases() {
        let cases: &[Case] = &[
            // Repeats are dropped; only the first rule counts.
            ("out.d: a.rs b.rs a.rs\n\nother: c.rs\n", &["a.rs", "b.rs"], &[]),
            // A Windows drive letter is not the separator; backslashes are literal.
            ("C:\\t\\x.d: C:\\src\\lib.rs\r\n\r\nC:\\src\\lib.rs:\r\n", &["C:\\src\\lib.rs"], &[]),
            // A rule without inputs; checksum comments are ignored; `=` in a value.
            (
                "out.d:\n# checksum:sha256=00ff file_len:3 a.rs\n# env-dep:A=b=c\n# env-dep:CR=x\\r\n",
                &[],
                &[("A", Some("b=c")), ("CR", Some("x\r"))],
            ),
            // An empty value is not an unset variable.
            ("out.d: a.rs\n# env-dep:EMPTY=\n", &["a.rs"], &[("EMPTY", Some(""))]),
        ];
        for (text, files, env) in cases {
            let info = parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(info.files, *files, "{text:?}");
            let env: Vec<(String, Option<String>)> =
                env.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect();
            assert_eq!(info.env, env, "{text:?}");
        }
    }

    #[test]
    fn refuses_malformed_files() {
        let cases = [
            ("", DepInfoError::NoTarget),
            ("# env-dep:A=1\n", DepInfoError::NoTarget),
            ("out.d: a.rs\njust words\n", DepInfoError::NotARule { line: 2 }),
            ("out.d: a.rs\n\n# env-dep:A=\\t\n", DepInfoError::BadEscape { line: 3 }),
            ("out.d: a.rs\n# env-dep:A=trailing\\\n", DepInfoError::BadEscape { line: 2 }),
        ];
        for (text, error) in cases {
            assert_eq!(parse(text), Err(error), "{text:?}");
        }
    }
}
