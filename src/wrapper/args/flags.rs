//! Rustc's options and the getopts-style tokenizer that splits a command
//! line into flags, their values and inputs.
//!
//! Rustc parses its command line with getopts: long options take their value
//! as `--flag value` or `--flag=value`, short ones as `-X value` or `-Xvalue`,
//! and value-less short flags can be grouped (`-vV`).
//!
//! The value syntaxes shared by the analysis and the key's normalization
//! (`-C`/`-Z` options, `--extern`, `-L`) are split here too.

use std::path::PathBuf;

use super::Extern;

/// The `-L` kinds rustc recognises; any other `KIND=` is part of the path.
const SEARCH_KINDS: &[&str] = &["dependency", "crate", "native", "framework", "all"];

/// A rustc option this module knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flag {
    CrateName,
    CrateType,
    Edition,
    Emit,
    OutDir,
    Output,
    Codegen,
    Cfg,
    CheckCfg,
    LibSearch,
    Lib,
    Extern,
    Target,
    CapLints,
    ErrorFormat,
    Json,
    DiagnosticWidth,
    Color,
    Allow,
    Warn,
    ForceWarn,
    Deny,
    Forbid,
    Debuginfo,
    Optimize,
    Test,
    Sysroot,
    RemapPathPrefix,
    RemapPathScope,
    Unstable,
    EnvSet,
    Verbose,
    Print,
    Explain,
    Unpretty,
    Help,
    Version,
}

/// How a flag is spelled and whether it takes a value.
pub(super) struct Spec {
    flag: Flag,
    long: Option<&'static str>,
    short: Option<char>,
    takes_value: bool,
    /// getopts refuses a second occurrence of a single-valued option.
    pub(super) single: bool,
}

const fn spec(flag: Flag, long: Option<&'static str>, short: Option<char>, takes_value: bool, single: bool) -> Spec {
    Spec { flag, long, short, takes_value, single }
}

/// Rustc's options (`rustc --help -v`, plus `-Z` and `--env-set`).
const SPECS: &[Spec] = &[
    spec(Flag::CrateName, Some("crate-name"), None, true, true),
    spec(Flag::CrateType, Some("crate-type"), None, true, false),
    spec(Flag::Edition, Some("edition"), None, true, true),
    spec(Flag::Emit, Some("emit"), None, true, false),
    spec(Flag::OutDir, Some("out-dir"), None, true, true),
    spec(Flag::Output, None, Some('o'), true, true),
    spec(Flag::Codegen, Some("codegen"), Some('C'), true, false),
    spec(Flag::Cfg, Some("cfg"), None, true, false),
    spec(Flag::CheckCfg, Some("check-cfg"), None, true, false),
    spec(Flag::LibSearch, None, Some('L'), true, false),
    spec(Flag::Lib, None, Some('l'), true, false),
    spec(Flag::Extern, Some("extern"), None, true, false),
    spec(Flag::Target, Some("target"), None, true, true),
    spec(Flag::CapLints, Some("cap-lints"), None, true, true),
    spec(Flag::ErrorFormat, Some("error-format"), None, true, true),
    spec(Flag::Json, Some("json"), None, true, false),
    spec(Flag::DiagnosticWidth, Some("diagnostic-width"), None, true, true),
    spec(Flag::Color, Some("color"), None, true, true),
    spec(Flag::Allow, Some("allow"), Some('A'), true, false),
    spec(Flag::Warn, Some("warn"), Some('W'), true, false),
    spec(Flag::ForceWarn, Some("force-warn"), None, true, false),
    spec(Flag::Deny, Some("deny"), Some('D'), true, false),
    spec(Flag::Forbid, Some("forbid"), Some('F'), true, false),
    spec(Flag::Debuginfo, None, Some('g'), false, false),
    spec(Flag::Optimize, None, Some('O'), false, false),
    spec(Flag::Test, Some("test"), None, false, false),
    spec(Flag::Sysroot, Some("sysroot"), None, true, true),
    spec(Flag::RemapPathPrefix, Some("remap-path-prefix"), None, true, false),
    spec(Flag::RemapPathScope, Some("remap-path-scope"), None, true, false),
    spec(Flag::Unstable, None, Some('Z'), true, false),
    spec(Flag::EnvSet, Some("env-set"), None, true, false),
    spec(Flag::Verbose, Some("verbose"), Some('v'), false, false),
    spec(Flag::Print, Some("print"), None, true, false),
    spec(Flag::Explain, Some("explain"), None, true, false),
    spec(Flag::Unpretty, Some("unpretty"), None, true, false),
    spec(Flag::Help, Some("help"), Some('h'), false, false),
    spec(Flag::Version, Some("version"), Some('V'), false, false),
];

impl Flag {
    pub(super) fn spec(self) -> &'static Spec {
        SPECS.iter().find(|s| s.flag == self).expect("every flag has a spec")
    }

    /// One spelling per flag: the long one where there is one.
    pub(crate) fn canonical(self) -> String {
        let spec = self.spec();
        match (spec.long, spec.short) {
            (Some(long), _) => format!("--{long}"),
            (None, Some(short)) => format!("-{short}"),
            (None, None) => unreachable!("a flag has a spelling"),
        }
    }
}

/// One command-line item after splitting flags from their values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    Flag(Flag, Option<&'a str>),
    Input(&'a str),
    ArgFile(&'a str),
    Unknown(&'a str),
    MissingValue(&'a str),
}

/// Splits arguments the way getopts does for rustc's option set.
pub(crate) fn tokenize(args: &[String]) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let arg = arg.as_str();
        if arg == "-" {
            tokens.push(Token::Input(arg));
        } else if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            let Some(spec) = SPECS.iter().find(|s| s.long == Some(name)) else {
                tokens.push(Token::Unknown(arg));
                continue;
            };
            tokens.push(match (spec.takes_value, inline) {
                (true, Some(value)) => Token::Flag(spec.flag, Some(value)),
                (true, None) => match rest.next() {
                    Some(value) => Token::Flag(spec.flag, Some(value)),
                    None => Token::MissingValue(arg),
                },
                (false, None) => Token::Flag(spec.flag, None),
                (false, Some(_)) => Token::Unknown(arg),
            });
        } else if let Some(short) = arg.strip_prefix('-') {
            let first = short.chars().next().expect("`-` alone is handled above");
            match SPECS.iter().find(|s| s.short == Some(first)) {
                Some(spec) if spec.takes_value => {
                    let glued = &short[first.len_utf8()..];
                    tokens.push(if !glued.is_empty() {
                        Token::Flag(spec.flag, Some(glued))
                    } else {
                        match rest.next() {
                            Some(value) => Token::Flag(spec.flag, Some(value)),
                            None => Token::MissingValue(arg),
                        }
                    });
                }
                _ => {
                    // A group of value-less flags such as `-vV` or `-gO`.
                    let group: Option<Vec<Flag>> = short
                        .chars()
                        .map(|c| SPECS.iter().find(|s| s.short == Some(c) && !s.takes_value).map(|s| s.flag))
                        .collect();
                    match group {
                        Some(flags) => tokens.extend(flags.into_iter().map(|f| Token::Flag(f, None))),
                        None => tokens.push(Token::Unknown(arg)),
                    }
                }
            }
        } else if arg.starts_with('@') {
            tokens.push(Token::ArgFile(arg));
        } else {
            tokens.push(Token::Input(arg));
        }
    }
    tokens
}

/// Splits a `-C`/`-Z` value into its option name (spelled with `-`) and value.
pub(crate) fn split_option(value: &str) -> (String, Option<&str>) {
    let (name, value) = match value.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (value, None),
    };
    (name.replace('_', "-"), value)
}

/// Splits an `--extern` value into modifiers, name and path.
pub(crate) fn split_extern(value: &str) -> Extern {
    // The path may hold `:` (a Windows drive), the modifiers may not hold `=`.
    let (spec, path) = match value.split_once('=') {
        Some((spec, path)) => (spec, Some(PathBuf::from(path))),
        None => (value, None),
    };
    let (modifiers, name) = match spec.rsplit_once(':') {
        Some((modifiers, name)) => (modifiers.split(',').map(str::to_string).collect(), name),
        None => (Vec::new(), spec),
    };
    Extern { name: name.to_string(), path, modifiers }
}

/// Splits an `-L` value into its kind (if it names one) and path.
pub(crate) fn split_search(value: &str) -> (Option<&str>, &str) {
    match value.split_once('=') {
        Some((kind, path)) if SEARCH_KINDS.contains(&kind) => (Some(kind), path),
        _ => (None, value),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::wrapper::args::tests::{cacheable, BASE, SAME_MEANING};
    use crate::wrapper::args::Extern;

    #[test]
    fn both_flag_syntaxes_mean_the_same() {
        for (a, b) in SAME_MEANING {
            let line = |flags: &str| {
                let mut line = format!("{flags} a.rs");
                for required in ["--crate-name a", "--crate-type lib", "--out-dir /o"] {
                    if !a.contains(required.split(' ').next().unwrap()) {
                        line = format!("{line} {required}");
                    }
                }
                line
            };
            let mut left = cacheable(&line(a));
            let mut right = cacheable(&line(b));
            left.args.clear();
            right.args.clear();
            assert_eq!(left, right, "{a} vs {b}");
        }
        // And the values land where they belong.
        let inv = cacheable(&format!(
            "{BASE} -Copt_level=2 -Lnative=/n -L /p --extern priv,noprelude:x=C:\\d\\libx.rlib \
             --extern=y --target=aarch64-apple-darwin -Zthreads=2"
        ));
        assert_eq!(inv.codegen, [("opt-level".to_string(), Some("2".to_string()))]);
        assert_eq!(inv.lib_search, [(Some("native".into()), PathBuf::from("/n")), (None, PathBuf::from("/p"))]);
        assert_eq!(inv.externs[0].name, "x");
        assert_eq!(inv.externs[0].modifiers, ["priv", "noprelude"]);
        assert_eq!(inv.externs[0].path, Some(PathBuf::from("C:\\d\\libx.rlib")));
        assert_eq!(inv.externs[1], Extern { name: "y".into(), path: None, modifiers: vec![] });
        assert_eq!(inv.target.as_deref(), Some("aarch64-apple-darwin"));
        assert_eq!(inv.unstable, ["threads=2"]);
    }
}
