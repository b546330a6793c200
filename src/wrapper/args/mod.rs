//! Rustc argument analysis: is this invocation cacheable, and what does it do?
//!
//! [`analyze`] reads the arguments cargo passes to rustc (after the rustc
//! path) and returns either an [`Invocation`] (the facts a cache key and the
//! output list need) or the [`NotCacheable`] reason. Anything it does not
//! understand is not cacheable: a wrong hit is worse than a miss. The
//! function is pure: it looks at no file, no environment variable and no
//! other process, so `@argfile` arguments and custom target names found
//! through `RUST_TARGET_PATH` are the caller's business.
//!
//! The work is split three ways: `flags` holds rustc's option table and the
//! getopts-style tokenizer, `rules` what each flag means for the cache, and
//! `naming` the names of the files a cacheable compilation writes.

mod flags;
mod naming;
mod rules;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

pub(crate) use flags::{split_extern, split_option, split_search, tokenize, Flag, Token};
pub use naming::TargetNaming;
use rules::{refuse, Parts};

/// The kind of a file rustc writes. The same type names the files of an
/// index entry, so the wrapper and the index cannot disagree on kinds.
pub use crate::index::OutputKind;

/// The verdict on one rustc command line.
// Built once per rustc run and matched at once, so the size of the
// `Cacheable` variant costs nothing that a box would save.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Analysis {
    /// A compilation whose outputs can be cached.
    Cacheable(Invocation),
    /// Anything else, with the reason.
    NotCacheable(NotCacheable),
}

/// A cacheable compilation, as far as its arguments tell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// `--crate-name`.
    pub crate_name: String,
    /// `--crate-type` values in order, without repeats. Cargo passes none
    /// with `--test`, where rustc builds an executable whatever they say.
    pub crate_types: Vec<String>,
    /// The one source file.
    pub input: PathBuf,
    /// `--emit` kinds in order (`dep-info`, `metadata`, `link`); `link`
    /// alone when `--emit` is absent, as in rustc.
    pub emit: Vec<String>,
    /// `--out-dir`.
    pub out_dir: PathBuf,
    /// `-C extra-filename` (empty when absent).
    pub extra_filename: String,
    /// `--extern` arguments in order.
    pub externs: Vec<Extern>,
    /// `--target` (a target name; target spec files are not cacheable).
    pub target: Option<String>,
    /// `--edition`.
    pub edition: Option<String>,
    /// `--cfg` values in order.
    pub cfgs: Vec<String>,
    /// `--check-cfg` values in order.
    pub check_cfgs: Vec<String>,
    /// `-C` options in order, names spelled with `-` (rustc also accepts
    /// `_`); the last one of a name is the one rustc uses.
    pub codegen: Vec<(String, Option<String>)>,
    /// `-L [KIND=]PATH` in order.
    pub lib_search: Vec<(Option<String>, PathBuf)>,
    /// `-l` values in order, as written (`static=foo`, `dylib=bar:baz`).
    pub libs: Vec<String>,
    /// `--cap-lints`.
    pub cap_lints: Option<String>,
    /// `--error-format`.
    pub error_format: Option<String>,
    /// `--json` values, split at commas.
    pub json: Vec<String>,
    /// `-Z` values in order.
    pub unstable: Vec<String>,
    /// `--test`: build a test harness executable.
    pub test: bool,
    /// `-C incremental=DIR`: rustc also keeps a session in DIR, which is
    /// local state outside the outputs. The caller decides whether such a
    /// compilation may be cached (see [`NotCacheable::Incremental`]).
    pub incremental: bool,
    /// `--sysroot`. The sysroot's identity must be in the key; the caller
    /// finds it.
    pub sysroot: Option<PathBuf>,
    /// Every argument, as given.
    pub args: Vec<String>,
}

/// One `--extern [MODIFIERS:]NAME[=PATH]` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extern {
    /// The crate name the dependency is known by.
    pub name: String,
    /// The library file, absent for sysroot crates such as `proc_macro`.
    pub path: Option<PathBuf>,
    /// `priv`, `noprelude`, `force`, ... in order.
    pub modifiers: Vec<String>,
}

/// Why an invocation is not cached. [`NotCacheable::as_str`] is the stable
/// label that statistics count by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotCacheable {
    /// An argument is not valid UTF-8, so it cannot be normalized or keyed.
    NonUtf8,
    /// Not a compilation: `--print`, `-vV`, `--help`, `--explain`,
    /// `-C help`... Cargo's target-info probe
    /// (`rustc - --crate-name ___ --print=file-names ...`) lands here.
    Print,
    /// An `@file` argument: the real arguments are in a file this pure
    /// function does not read.
    ArgFile,
    /// A flag this module does not know, or a malformed one.
    UnknownFlag(String),
    /// A flag that takes a value came last.
    MissingValue(String),
    /// A single-valued flag given twice; rustc refuses that.
    Duplicate(String),
    /// `-o FILE`: the output name is chosen by the caller, not derived from
    /// the crate name, and the file may live anywhere.
    OutputFile,
    /// `--emit KIND=PATH`.
    EmitPath,
    /// An emit kind other than `dep-info`, `metadata` and `link`, whose
    /// file names depend on codegen units.
    EmitKind(String),
    /// `-C incremental` on a crate that is not cached locally: its outputs
    /// depend on the session directory's history, so they are not
    /// reproducible and must not be published. Path and git crates cached
    /// with `CARGO_IPFS_LOCAL` are cached with it (the analysis accepts the
    /// flag; the wrapper refuses it for everything else).
    Incremental,
    /// `-C profile-generate`, `profile-use` or `profile-sample-use`: the
    /// profile is a file outside the key, or the binary writes one.
    ProfileGuided,
    /// `-C target-cpu=native` or `-Z tune-cpu=native`: the code depends on
    /// the CPU of the machine that built it, which the arguments do not name.
    TargetCpuNative,
    /// `--target FILE.json`: the target is defined by a file outside the key.
    TargetSpecFile,
    /// An argument that names a file rustc reads, which the key would hold
    /// by name only: `--sysroot` (the identity is the default sysroot's),
    /// `-Z codegen-backend=PATH`, a `-l` library with the `verbatim`
    /// modifier, a `-C link-arg(s)` path on a linked output.
    FileArgument(String),
    /// A `-Z` flag that writes extra files or does not compile
    /// (`unpretty`, `self-profile`, `dump-*`, `ls`).
    UnstableFlag(String),
    /// A crate type this cache does not handle.
    CrateType(String),
    /// No `--crate-type` and no `--test`: the source's `#![crate_type]`
    /// decides, and the outputs cannot be known from the arguments.
    NoCrateType,
    /// No `--crate-name`.
    NoCrateName,
    /// No source file.
    NoInput,
    /// More than one source file.
    SeveralInputs,
    /// The source is read from stdin (`-`).
    Stdin,
    /// No `--out-dir`, so rustc writes beside the input or in the current
    /// directory.
    NoOutDir,
}

impl NotCacheable {
    /// A short, stable label for statistics.
    pub fn as_str(&self) -> &'static str {
        match self {
            NotCacheable::NonUtf8 => "non-utf8",
            NotCacheable::Print => "print",
            NotCacheable::ArgFile => "argfile",
            NotCacheable::UnknownFlag(_) => "unknown-flag",
            NotCacheable::MissingValue(_) => "missing-value",
            NotCacheable::Duplicate(_) => "duplicate-flag",
            NotCacheable::OutputFile => "output-file",
            NotCacheable::EmitPath => "emit-path",
            NotCacheable::EmitKind(_) => "emit-kind",
            NotCacheable::Incremental => "incremental",
            NotCacheable::ProfileGuided => "profile-guided",
            NotCacheable::TargetCpuNative => "target-cpu-native",
            NotCacheable::TargetSpecFile => "target-spec-file",
            NotCacheable::FileArgument(_) => "file-argument",
            NotCacheable::UnstableFlag(_) => "unstable-flag",
            NotCacheable::CrateType(_) => "crate-type",
            NotCacheable::NoCrateType => "no-crate-type",
            NotCacheable::NoCrateName => "no-crate-name",
            NotCacheable::NoInput => "no-input",
            NotCacheable::SeveralInputs => "several-inputs",
            NotCacheable::Stdin => "stdin",
            NotCacheable::NoOutDir => "no-out-dir",
        }
    }
}

impl fmt::Display for NotCacheable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotCacheable::UnknownFlag(flag) => write!(f, "unknown flag `{flag}`"),
            NotCacheable::MissingValue(flag) => write!(f, "flag `{flag}` has no value"),
            NotCacheable::Duplicate(flag) => write!(f, "flag `{flag}` given twice"),
            NotCacheable::EmitKind(kind) => write!(f, "unsupported emit kind `{kind}`"),
            NotCacheable::UnstableFlag(flag) => write!(f, "unsupported flag `-Z {flag}`"),
            NotCacheable::CrateType(kind) => write!(f, "unsupported crate type `{kind}`"),
            NotCacheable::FileArgument(flag) => write!(f, "`{flag}` names a file outside the key"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Analyzes the arguments cargo passes to rustc (those after the rustc path).
pub fn analyze(args: &[OsString]) -> Analysis {
    let Some(args) = args.iter().map(|a| a.to_str().map(str::to_string)).collect::<Option<Vec<_>>>() else {
        return Analysis::NotCacheable(NotCacheable::NonUtf8);
    };
    let mut parts = Parts::default();
    let mut inputs = Vec::new();
    for token in tokenize(&args) {
        match token {
            Token::Flag(flag, value) => parts.flag(flag, value),
            Token::Input(input) => inputs.push(input),
            Token::ArgFile(_) => refuse(&mut parts.refused, NotCacheable::ArgFile),
            Token::Unknown(arg) => refuse(&mut parts.refused, NotCacheable::UnknownFlag(arg.to_string())),
            Token::MissingValue(arg) => refuse(&mut parts.refused, NotCacheable::MissingValue(arg.to_string())),
        }
    }
    let input = match inputs.as_slice() {
        [input] => Some(input.to_string()),
        _ => None,
    };
    let count = inputs.len();
    match parts.finish(input.as_deref(), count, args) {
        Ok(invocation) => Analysis::Cacheable(invocation),
        Err(reason) => Analysis::NotCacheable(reason),
    }
}

impl Invocation {
    /// The value of the last `-C NAME[=VALUE]` (name spelled with `-`).
    pub fn codegen_value(&self, name: &str) -> Option<Option<&str>> {
        self.codegen.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_deref())
    }
}

#[cfg(test)]
pub(crate) mod tests;
