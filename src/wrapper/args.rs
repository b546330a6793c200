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
//! Rustc parses its command line with getopts: long options take their value
//! as `--flag value` or `--flag=value`, short ones as `-X value` or `-Xvalue`,
//! and value-less short flags can be grouped (`-vV`).

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;

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
    /// `-C target-cpu=native`: the code depends on the CPU of the machine
    /// that built it, which the arguments do not name.
    TargetCpuNative,
    /// `--target FILE.json`: the target is defined by a file outside the key.
    TargetSpecFile,
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
            other => f.write_str(other.as_str()),
        }
    }
}

/// The crate types this cache handles. All of them name their outputs from
/// the crate name; the linked ones (see [`Invocation::is_linked`]) need the
/// linker's identity in the key, which the caller adds.
const CRATE_TYPES: &[&str] = &["lib", "rlib", "proc-macro", "bin", "dylib", "cdylib", "staticlib"];

/// The emit kinds this cache handles.
const EMITS: &[&str] = &["dep-info", "metadata", "link"];

/// `-Z` flags (names spelled with `-`) that write files beside the outputs
/// or replace compilation with printing. A name ending in `-` is a prefix.
const UNSTABLE_DENY: &[&str] = &["unpretty", "self-profile", "dump-", "ls"];

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
struct Spec {
    flag: Flag,
    long: Option<&'static str>,
    short: Option<char>,
    takes_value: bool,
    /// getopts refuses a second occurrence of a single-valued option.
    single: bool,
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
    fn spec(self) -> &'static Spec {
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

/// Keeps the first reason found; later ones are not reported.
fn refuse(refused: &mut Option<NotCacheable>, reason: NotCacheable) {
    refused.get_or_insert(reason);
}

/// What the flags said so far.
#[derive(Default)]
struct Parts {
    print: bool,
    refused: Option<NotCacheable>,
    seen_single: Vec<Flag>,
    crate_name: Option<String>,
    out_dir: Option<PathBuf>,
    /// Everything else, filled in as flags come.
    inv: Invocation,
}

impl Parts {
    fn flag(&mut self, flag: Flag, value: Option<&str>) {
        let spec = flag.spec();
        if spec.single {
            if self.seen_single.contains(&flag) {
                refuse(&mut self.refused, NotCacheable::Duplicate(flag.canonical()));
            }
            self.seen_single.push(flag);
        }
        let text = value.unwrap_or_default();
        let inv = &mut self.inv;
        match flag {
            Flag::CrateName => self.crate_name = Some(text.to_string()),
            Flag::CrateType => {
                for kind in text.split(',').map(str::trim) {
                    if !CRATE_TYPES.contains(&kind) {
                        refuse(&mut self.refused, NotCacheable::CrateType(kind.to_string()));
                    } else if !inv.crate_types.iter().any(|k| k == kind) {
                        inv.crate_types.push(kind.to_string());
                    }
                }
            }
            Flag::Edition => inv.edition = Some(text.to_string()),
            Flag::Emit => {
                for item in text.split(',').map(str::trim) {
                    let (kind, path) = match item.split_once('=') {
                        Some((kind, path)) => (kind, Some(path)),
                        None => (item, None),
                    };
                    if path.is_some() {
                        refuse(&mut self.refused, NotCacheable::EmitPath);
                    } else if !EMITS.contains(&kind) {
                        refuse(&mut self.refused, NotCacheable::EmitKind(kind.to_string()));
                    } else if !inv.emit.iter().any(|k| k == kind) {
                        inv.emit.push(kind.to_string());
                    }
                }
            }
            Flag::OutDir => self.out_dir = Some(PathBuf::from(text)),
            Flag::Output => refuse(&mut self.refused, NotCacheable::OutputFile),
            Flag::Codegen => {
                let (name, value) = split_option(text);
                match (name.as_str(), value) {
                    ("help", _) => self.print = true,
                    ("incremental", _) => inv.incremental = true,
                    ("profile-generate" | "profile-use" | "profile-sample-use", _) => {
                        refuse(&mut self.refused, NotCacheable::ProfileGuided)
                    }
                    ("target-cpu", Some("native")) => refuse(&mut self.refused, NotCacheable::TargetCpuNative),
                    ("extra-filename", value) => inv.extra_filename = value.unwrap_or_default().to_string(),
                    _ => {}
                }
                inv.codegen.push((name, value.map(str::to_string)));
            }
            Flag::Cfg => inv.cfgs.push(text.to_string()),
            Flag::CheckCfg => inv.check_cfgs.push(text.to_string()),
            Flag::LibSearch => {
                let (kind, path) = split_search(text);
                inv.lib_search.push((kind.map(str::to_string), PathBuf::from(path)));
            }
            Flag::Lib => inv.libs.push(text.to_string()),
            Flag::Extern => inv.externs.push(split_extern(text)),
            Flag::Target => {
                if text.ends_with(".json") {
                    refuse(&mut self.refused, NotCacheable::TargetSpecFile);
                }
                inv.target = Some(text.to_string());
            }
            Flag::CapLints => inv.cap_lints = Some(text.to_string()),
            Flag::ErrorFormat => inv.error_format = Some(text.to_string()),
            Flag::Json => inv.json.extend(text.split(',').map(str::to_string)),
            Flag::Allow | Flag::Warn | Flag::ForceWarn | Flag::Deny | Flag::Forbid => {
                // `-W help` lists the lints instead of compiling.
                if text == "help" {
                    self.print = true;
                }
            }
            Flag::Test => inv.test = true,
            Flag::Sysroot => inv.sysroot = Some(PathBuf::from(text)),
            Flag::Unstable => {
                let (name, _) = split_option(text);
                if name == "help" {
                    self.print = true;
                } else if UNSTABLE_DENY.iter().any(|d| name == *d || (d.ends_with('-') && name.starts_with(d))) {
                    refuse(&mut self.refused, NotCacheable::UnstableFlag(name));
                }
                inv.unstable.push(text.to_string());
            }
            Flag::Print | Flag::Explain | Flag::Unpretty | Flag::Help | Flag::Version => self.print = true,
            // These shape diagnostics or debug info paths, not which files
            // are written; they stay in `args` and so in the key.
            Flag::DiagnosticWidth
            | Flag::Color
            | Flag::Debuginfo
            | Flag::Optimize
            | Flag::RemapPathPrefix
            | Flag::RemapPathScope
            | Flag::EnvSet
            | Flag::Verbose => {}
        }
    }

    /// Picks the verdict. Not being a compilation outranks every other
    /// reason, so that cargo's probes are counted as probes; then the first
    /// refused flag; then what is missing.
    fn finish(self, input: Option<&str>, inputs: usize, args: Vec<String>) -> Result<Invocation, NotCacheable> {
        if self.print {
            return Err(NotCacheable::Print);
        }
        if let Some(reason) = self.refused {
            return Err(reason);
        }
        let input = match (input, inputs) {
            (_, 0) => return Err(NotCacheable::NoInput),
            (Some("-"), _) => return Err(NotCacheable::Stdin),
            (Some(input), _) => input,
            (None, _) => return Err(NotCacheable::SeveralInputs),
        };
        let mut inv = self.inv;
        inv.crate_name = self.crate_name.ok_or(NotCacheable::NoCrateName)?;
        inv.out_dir = self.out_dir.ok_or(NotCacheable::NoOutDir)?;
        if inv.crate_types.is_empty() && !inv.test {
            return Err(NotCacheable::NoCrateType);
        }
        if inv.emit.is_empty() {
            inv.emit.push("link".to_string());
        }
        inv.input = PathBuf::from(input);
        inv.args = args;
        Ok(inv)
    }
}

/// How a target names its libraries and executables (rustc's
/// `dll_prefix`, `dll_suffix`, `exe_suffix`, `staticlib_prefix` and
/// `staticlib_suffix`; `rustc --print=file-names` shows them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetNaming {
    /// Before a dynamic library's name (`lib` on Unix).
    pub dll_prefix: String,
    /// After a dynamic library's name (`.so`, `.dylib`, `.dll`).
    pub dll_suffix: String,
    /// After an executable's name (`.exe` on Windows).
    pub exe_suffix: String,
    /// Before a static library's name.
    pub staticlib_prefix: String,
    /// After a static library's name (`.a`, `.lib`).
    pub staticlib_suffix: String,
}

impl TargetNaming {
    /// The naming of a target triple, by its family: Apple, Windows (MSVC or
    /// GNU), WebAssembly, and everything else named like Linux.
    pub fn for_target(triple: &str) -> TargetNaming {
        let (dll_prefix, dll_suffix, exe_suffix, staticlib_prefix, staticlib_suffix) = if triple.contains("-apple-") {
            ("lib", ".dylib", "", "lib", ".a")
        } else if triple.contains("-windows-msvc") {
            ("", ".dll", ".exe", "", ".lib")
        } else if triple.contains("-windows-gnu") {
            ("", ".dll", ".exe", "lib", ".a")
        } else if triple.starts_with("wasm") {
            ("", ".wasm", ".wasm", "lib", ".a")
        } else {
            ("lib", ".so", "", "lib", ".a")
        };
        TargetNaming {
            dll_prefix: dll_prefix.into(),
            dll_suffix: dll_suffix.into(),
            exe_suffix: exe_suffix.into(),
            staticlib_prefix: staticlib_prefix.into(),
            staticlib_suffix: staticlib_suffix.into(),
        }
    }
}

impl Invocation {
    fn emits(&self, kind: &str) -> bool {
        self.emit.iter().any(|e| e == kind)
    }

    /// Whether rustc writes a dep-info file (the list of sources it read).
    pub fn emits_dep_info(&self) -> bool {
        self.emits("dep-info")
    }

    /// The crate types rustc builds: an executable under `--test`.
    fn effective_crate_types(&self) -> Vec<&str> {
        if self.test {
            vec!["bin"]
        } else {
            self.crate_types.iter().map(String::as_str).collect()
        }
    }

    /// Whether the system linker runs: `link` is emitted and the crate type
    /// is `bin`, `proc-macro`, `dylib` or `cdylib`, or `--test` is given.
    /// A linked output depends on the linker and the native libraries, so
    /// the caller must put their identity in the key.
    pub fn is_linked(&self) -> bool {
        self.emits("link")
            && self.effective_crate_types().iter().any(|k| matches!(*k, "bin" | "proc-macro" | "dylib" | "cdylib"))
    }

    /// The value of the last `-C NAME[=VALUE]` (name spelled with `-`).
    pub fn codegen_value(&self, name: &str) -> Option<Option<&str>> {
        self.codegen.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_deref())
    }

    /// The files rustc writes into `out_dir`, named from the crate name, the
    /// extra file name, the crate types and the emit kinds, without repeats.
    ///
    /// Side files that depend on the platform's debug-info handling (`.pdb`,
    /// `.dwp`, `.dSYM`, split-debuginfo objects) and Windows import libraries
    /// (`.dll.lib`, `.dll.a`) are not listed.
    pub fn expected_outputs(&self, naming: &TargetNaming) -> Vec<(String, OutputKind)> {
        // Rustc refuses `-` in crate names; cargo passes `_` already.
        let stem = format!("{}{}", self.crate_name.replace('-', "_"), self.extra_filename);
        let mut outputs: Vec<(String, OutputKind)> = Vec::new();
        let mut add = |name: String, kind: OutputKind| {
            if !outputs.iter().any(|(n, _)| *n == name) {
                outputs.push((name, kind));
            }
        };
        if self.emits("link") {
            for kind in self.effective_crate_types() {
                match kind {
                    "lib" | "rlib" => add(format!("lib{stem}.rlib"), OutputKind::Rlib),
                    "proc-macro" => {
                        add(format!("{}{stem}{}", naming.dll_prefix, naming.dll_suffix), OutputKind::ProcMacro)
                    }
                    "dylib" | "cdylib" => {
                        add(format!("{}{stem}{}", naming.dll_prefix, naming.dll_suffix), OutputKind::Dylib)
                    }
                    "staticlib" => add(
                        format!("{}{stem}{}", naming.staticlib_prefix, naming.staticlib_suffix),
                        OutputKind::Staticlib,
                    ),
                    "bin" => add(format!("{stem}{}", naming.exe_suffix), OutputKind::Bin),
                    _ => unreachable!("crate types are checked by analyze"),
                }
            }
        }
        if self.emits("metadata") {
            add(format!("lib{stem}.rmeta"), OutputKind::Rmeta);
        }
        if self.emits("dep-info") {
            add(format!("{stem}.d"), OutputKind::DepInfo);
        }
        outputs
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Splits a command line at spaces; `'...'` quotes an argument.
    pub(crate) fn split(line: &str) -> Vec<OsString> {
        let mut args = Vec::new();
        let mut current: Option<String> = None;
        let mut quoted = false;
        for c in line.chars() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    current.get_or_insert_with(String::new);
                }
                ' ' if !quoted => args.extend(current.take()),
                c => current.get_or_insert_with(String::new).push(c),
            }
        }
        args.extend(current);
        args.into_iter().map(OsString::from).collect()
    }

    pub(crate) fn cacheable(line: &str) -> Invocation {
        match analyze(&split(line)) {
            Analysis::Cacheable(inv) => inv,
            Analysis::NotCacheable(why) => panic!("{line}: not cacheable: {why}"),
        }
    }

    // Real command lines from `cargo build` and `cargo test` (cargo 1.95.0)
    // on a package depending on itoa and paste, logged by a RUSTC_WRAPPER
    // script. CARGO_HOME is shortened to `/c`, the target directory to `/t`.
    const R: &str = "/c/registry/src/index.crates.io-1949cf8c6b5b557f";
    const JSON: &str = "--error-format=json --json=diagnostic-rendered-ansi,artifacts,future-incompat";

    pub(crate) fn itoa_lib() -> String {
        format!(
            "--crate-name itoa --edition=2021 {R}/itoa-1.0.19/src/lib.rs {JSON} --crate-type lib \
             --emit=dep-info,metadata,link -C embed-bitcode=no -C debuginfo=2 --check-cfg 'cfg(docsrs,test)' \
             --check-cfg 'cfg(feature, values(\"no-panic\"))' -C metadata=a9c1468c251272ca \
             -C extra-filename=-6c1e270c698fa6a6 --out-dir /t/debug/deps -L dependency=/t/debug/deps --cap-lints allow"
        )
    }

    fn paste_proc_macro() -> String {
        format!(
            "--crate-name paste --edition=2018 {R}/paste-1.0.15/src/lib.rs {JSON} --crate-type proc-macro \
             --emit=dep-info,link -C prefer-dynamic -C embed-bitcode=no --check-cfg 'cfg(docsrs,test)' \
             --check-cfg 'cfg(feature, values())' -C metadata=0b3a49489f2512d4 -C extra-filename=-1f46112c5ce27040 \
             --out-dir /t/debug/deps -L dependency=/t/debug/deps --extern proc_macro --cap-lints allow \
             --check-cfg 'cfg(no_literal_fromstr)' --check-cfg 'cfg(feature, values(\"protocol_feature_paste\"))'"
        )
    }

    fn paste_build_script() -> String {
        format!(
            "--crate-name build_script_build --edition=2018 {R}/paste-1.0.15/build.rs {JSON} --crate-type bin \
             --emit=dep-info,link -C embed-bitcode=no --check-cfg 'cfg(docsrs,test)' \
             --check-cfg 'cfg(feature, values())' -C metadata=0f1dc8795ae17029 -C extra-filename=-3dcca4d54cf01214 \
             --out-dir /t/debug/build/paste-3dcca4d54cf01214 -L dependency=/t/debug/deps --cap-lints allow"
        )
    }

    /// The workspace's own lib: cargo adds `-C incremental`, a build script's
    /// `-L native`, `-l static` and `--cfg`, and the `[lints]` table.
    const DEMO_LIB: &str = "--crate-name demo --edition=2024 src/lib.rs --error-format=json \
        --json=diagnostic-rendered-ansi,artifacts,future-incompat --crate-type lib --emit=dep-info,metadata,link \
        -C embed-bitcode=no -C debuginfo=2 --forbid=unsafe_code --warn=missing_docs --check-cfg 'cfg(docsrs,test)' \
        --check-cfg 'cfg(feature, values())' -C metadata=a172994a945f1c21 -C extra-filename=-5e21635b2f268fe1 \
        --out-dir /t/debug/deps -C incremental=/t/debug/incremental -L dependency=/t/debug/deps \
        --extern itoa=/t/debug/deps/libitoa-6c1e270c698fa6a6.rmeta \
        --extern paste=/t/debug/deps/libpaste-1f46112c5ce27040.so -L native=/t/debug/build/demo-7144df01b6689c94/out \
        -l static=nat --cfg has_nat --check-cfg 'cfg(has_nat)'";

    /// `cargo test` of the workspace's bin, with `-C incremental` removed
    /// (cargo adds it to workspace members only) to reach the `--test` rules.
    const DEMO_TEST: &str = "--crate-name demo --edition=2024 src/main.rs --error-format=json \
        --json=diagnostic-rendered-ansi,artifacts,future-incompat --emit=dep-info,link -C embed-bitcode=no \
        -C debuginfo=2 --forbid=unsafe_code --warn=missing_docs --test --check-cfg 'cfg(docsrs,test)' \
        --check-cfg 'cfg(feature, values())' -C metadata=8b3c23e5815036b5 -C extra-filename=-71d9da223d41c70e \
        --out-dir /t/debug/deps -L dependency=/t/debug/deps --extern demo=/t/debug/deps/libdemo-5e21635b2f268fe1.rlib \
        --extern itoa=/t/debug/deps/libitoa-6c1e270c698fa6a6.rlib \
        --extern paste=/t/debug/deps/libpaste-1f46112c5ce27040.so -L native=/t/debug/build/demo-7144df01b6689c94/out \
        --cfg has_nat --check-cfg 'cfg(has_nat)'";

    /// Cargo's target-info probe, run before any build.
    const PROBE: &str = "- --crate-name ___ --print=file-names --crate-type bin --crate-type rlib --crate-type dylib \
        --crate-type cdylib --crate-type staticlib --crate-type proc-macro --print=sysroot --print=split-debuginfo \
        --print=crate-name --print=cfg -Wwarnings";

    fn linux() -> TargetNaming {
        TargetNaming::for_target("x86_64-unknown-linux-gnu")
    }

    fn outputs(inv: &Invocation, naming: &TargetNaming) -> Vec<(String, OutputKind)> {
        inv.expected_outputs(naming)
    }

    fn names(list: &[(&str, OutputKind)]) -> Vec<(String, OutputKind)> {
        list.iter().map(|(n, k)| (n.to_string(), *k)).collect()
    }

    #[test]
    fn real_registry_lib() {
        let inv = cacheable(&itoa_lib());
        assert_eq!(inv.crate_name, "itoa");
        assert_eq!(inv.crate_types, ["lib"]);
        assert_eq!(inv.input, PathBuf::from(format!("{R}/itoa-1.0.19/src/lib.rs")));
        assert_eq!(inv.emit, ["dep-info", "metadata", "link"]);
        assert_eq!(inv.out_dir, PathBuf::from("/t/debug/deps"));
        assert_eq!(inv.extra_filename, "-6c1e270c698fa6a6");
        assert_eq!(inv.edition.as_deref(), Some("2021"));
        assert_eq!(inv.error_format.as_deref(), Some("json"));
        assert_eq!(inv.json, ["diagnostic-rendered-ansi", "artifacts", "future-incompat"]);
        assert_eq!(inv.check_cfgs, ["cfg(docsrs,test)", "cfg(feature, values(\"no-panic\"))"]);
        assert_eq!(inv.cap_lints.as_deref(), Some("allow"));
        assert_eq!(inv.lib_search, [(Some("dependency".to_string()), PathBuf::from("/t/debug/deps"))]);
        assert_eq!(inv.codegen_value("debuginfo"), Some(Some("2")));
        assert_eq!(inv.codegen_value("opt-level"), None);
        assert_eq!(inv.args.len(), 27);
        assert!(!inv.is_linked());
        assert_eq!(
            outputs(&inv, &linux()),
            names(&[
                ("libitoa-6c1e270c698fa6a6.rlib", OutputKind::Rlib),
                ("libitoa-6c1e270c698fa6a6.rmeta", OutputKind::Rmeta),
                ("itoa-6c1e270c698fa6a6.d", OutputKind::DepInfo),
            ])
        );
    }

    #[test]
    fn real_check_build_writes_metadata_only() {
        let inv = cacheable(&itoa_lib().replace("dep-info,metadata,link", "dep-info,metadata"));
        assert!(!inv.is_linked());
        assert_eq!(
            outputs(&inv, &linux()),
            names(&[
                ("libitoa-6c1e270c698fa6a6.rmeta", OutputKind::Rmeta),
                ("itoa-6c1e270c698fa6a6.d", OutputKind::DepInfo),
            ])
        );
    }

    #[test]
    fn real_proc_macro_and_build_script() {
        let inv = cacheable(&paste_proc_macro());
        assert_eq!(inv.externs, [Extern { name: "proc_macro".into(), path: None, modifiers: vec![] }]);
        assert_eq!(inv.codegen[0], ("prefer-dynamic".to_string(), None));
        assert!(inv.is_linked());
        assert_eq!(
            outputs(&inv, &linux()),
            names(&[
                ("libpaste-1f46112c5ce27040.so", OutputKind::ProcMacro),
                ("paste-1f46112c5ce27040.d", OutputKind::DepInfo),
            ])
        );

        let inv = cacheable(&paste_build_script());
        assert!(inv.is_linked());
        assert_eq!(
            outputs(&inv, &linux()),
            names(&[
                ("build_script_build-3dcca4d54cf01214", OutputKind::Bin),
                ("build_script_build-3dcca4d54cf01214.d", OutputKind::DepInfo),
            ])
        );
    }

    #[test]
    fn real_workspace_lib_is_incremental() {
        assert!(cacheable(DEMO_LIB).incremental);
        assert!(cacheable(&DEMO_LIB.replace("-C incremental=/t/debug/incremental", "-Cincremental=/t/i")).incremental);
        let inv = cacheable(&DEMO_LIB.replace("-C incremental=/t/debug/incremental ", ""));
        assert!(!inv.incremental);
        assert_eq!(
            inv.externs,
            [
                Extern {
                    name: "itoa".into(),
                    path: Some("/t/debug/deps/libitoa-6c1e270c698fa6a6.rmeta".into()),
                    modifiers: vec![]
                },
                Extern {
                    name: "paste".into(),
                    path: Some("/t/debug/deps/libpaste-1f46112c5ce27040.so".into()),
                    modifiers: vec![]
                },
            ]
        );
        assert_eq!(inv.libs, ["static=nat"]);
        assert_eq!(inv.cfgs, ["has_nat"]);
        assert_eq!(
            inv.lib_search[1],
            (Some("native".into()), PathBuf::from("/t/debug/build/demo-7144df01b6689c94/out"))
        );
    }

    #[test]
    fn real_test_harness() {
        let inv = cacheable(DEMO_TEST);
        assert!(inv.test);
        assert!(inv.crate_types.is_empty());
        assert!(inv.is_linked());
        assert_eq!(
            outputs(&inv, &TargetNaming::for_target("x86_64-pc-windows-msvc")),
            names(&[("demo-71d9da223d41c70e.exe", OutputKind::Bin), ("demo-71d9da223d41c70e.d", OutputKind::DepInfo)])
        );
    }

    const BASE: &str = "--crate-name a --crate-type lib --out-dir /o a.rs";

    #[test]
    fn every_reason_not_to_cache() {
        use NotCacheable::*;
        let cases: Vec<(String, NotCacheable)> = vec![
            (PROBE.into(), Print),
            ("-vV".into(), Print),
            ("-V".into(), Print),
            ("--version".into(), Print),
            ("--help".into(), Print),
            ("--explain E0308".into(), Print),
            (format!("{BASE} --print cfg"), Print),
            (format!("{BASE} -C help"), Print),
            (format!("{BASE} -W help"), Print),
            (format!("{BASE} -Zhelp"), Print),
            // Printing outranks everything else.
            (format!("--bogus {BASE} --print=cfg"), Print),
            (format!("{BASE} @/tmp/args"), ArgFile),
            (format!("{BASE} --bogus"), UnknownFlag("--bogus".into())),
            (format!("{BASE} -q"), UnknownFlag("-q".into())),
            (format!("{BASE} --test=yes"), UnknownFlag("--test=yes".into())),
            (format!("{BASE} -vX"), UnknownFlag("-vX".into())),
            (format!("{BASE} --"), UnknownFlag("--".into())),
            (format!("{BASE} --cfg"), MissingValue("--cfg".into())),
            (format!("{BASE} -C"), MissingValue("-C".into())),
            (format!("{BASE} --crate-name b"), Duplicate("--crate-name".into())),
            (format!("{BASE} --out-dir=/o"), Duplicate("--out-dir".into())),
            (format!("{BASE} -o a.out"), OutputFile),
            (format!("{BASE} --emit=link=/x/liba.rlib"), EmitPath),
            (format!("{BASE} --emit=dep-info=-"), EmitPath),
            (format!("{BASE} --emit=asm"), EmitKind("asm".into())),
            (format!("{BASE} --emit=link,llvm-ir"), EmitKind("llvm-ir".into())),
            (format!("{BASE} -C profile-generate=/tmp/pgo"), ProfileGuided),
            (format!("{BASE} --codegen=profile_use=/tmp/x.profdata"), ProfileGuided),
            (format!("{BASE} -Ctarget-cpu=native"), TargetCpuNative),
            (format!("{BASE} --target /x/my-target.json"), TargetSpecFile),
            (format!("{BASE} -Z unpretty=expanded"), UnstableFlag("unpretty".into())),
            (format!("{BASE} -Zself_profile"), UnstableFlag("self-profile".into())),
            (format!("{BASE} -Zdump-mir=all"), UnstableFlag("dump-mir".into())),
            (format!("{BASE} --crate-type=sdylib"), CrateType("sdylib".into())),
            (format!("{BASE} --crate-type bin,staticlibs"), CrateType("staticlibs".into())),
            ("--crate-name a --out-dir /o a.rs".into(), NoCrateType),
            ("--crate-type lib --out-dir /o a.rs".into(), NoCrateName),
            ("--crate-name a --crate-type lib --out-dir /o".into(), NoInput),
            (format!("{BASE} b.rs"), SeveralInputs),
            ("--crate-name a --crate-type lib --out-dir /o -".into(), Stdin),
            ("--crate-name a --crate-type lib a.rs".into(), NoOutDir),
        ];
        for (line, reason) in cases {
            assert_eq!(analyze(&split(&line)), Analysis::NotCacheable(reason), "{line}");
        }
    }

    #[test]
    fn non_utf8_is_not_cacheable() {
        #[cfg(unix)]
        let bad = {
            use std::os::unix::ffi::OsStringExt;
            OsString::from_vec(vec![b'a', 0xff, b'.', b'r', b's'])
        };
        #[cfg(windows)]
        let bad = {
            use std::os::windows::ffi::OsStringExt;
            OsString::from_wide(&[0xd800])
        };
        let mut args = split(BASE);
        args.push(bad);
        assert_eq!(analyze(&args), Analysis::NotCacheable(NotCacheable::NonUtf8));
    }

    #[test]
    fn labels_are_stable_and_distinct() {
        use NotCacheable::*;
        let all = [
            NonUtf8,
            Print,
            ArgFile,
            UnknownFlag("x".into()),
            MissingValue("x".into()),
            Duplicate("x".into()),
            OutputFile,
            EmitPath,
            EmitKind("x".into()),
            Incremental,
            ProfileGuided,
            TargetCpuNative,
            TargetSpecFile,
            UnstableFlag("x".into()),
            CrateType("x".into()),
            NoCrateType,
            NoCrateName,
            NoInput,
            SeveralInputs,
            Stdin,
            NoOutDir,
        ];
        let mut labels: Vec<&str> = all.iter().map(NotCacheable::as_str).collect();
        assert!(labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())));
        labels.sort();
        labels.dedup();
        assert_eq!(labels.len(), all.len());
        assert_eq!(UnknownFlag("--bogus".into()).to_string(), "unknown flag `--bogus`");
    }

    /// Pairs of spellings rustc reads the same way.
    pub(crate) const SAME_MEANING: &[(&str, &str)] = &[
        ("--crate-name a", "--crate-name=a"),
        ("--crate-type lib", "--crate-type=lib"),
        ("--edition 2021", "--edition=2021"),
        ("--emit dep-info,link", "--emit=dep-info,link"),
        ("-C opt-level=3", "-Copt-level=3"),
        ("-C opt-level=3", "--codegen opt-level=3"),
        ("-C opt-level=3", "--codegen=opt-level=3"),
        ("-C opt-level=3", "-C opt_level=3"),
        ("-L dependency=/t/deps", "-Ldependency=/t/deps"),
        ("-L /t/deps", "-L/t/deps"),
        ("-l static=nat", "-lstatic=nat"),
        ("--extern itoa=/t/libitoa.rlib", "--extern=itoa=/t/libitoa.rlib"),
        ("--cfg feature=\"std\"", "--cfg=feature=\"std\""),
        ("--check-cfg cfg(x)", "--check-cfg=cfg(x)"),
        ("--target x86_64-unknown-linux-gnu", "--target=x86_64-unknown-linux-gnu"),
        ("--cap-lints allow", "--cap-lints=allow"),
        ("--error-format json", "--error-format=json"),
        ("--json artifacts", "--json=artifacts"),
        ("-A dead_code", "--allow=dead_code"),
        ("-W missing_docs", "--warn missing_docs"),
        ("-D warnings", "-Dwarnings"),
        ("-F unsafe_code", "--forbid=unsafe_code"),
        ("-Z threads=2", "-Zthreads=2"),
        ("-g -O", "-gO"),
    ];

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

    #[test]
    fn missing_emit_means_link() {
        let inv = cacheable(&format!("{BASE} -C extra-filename=-x"));
        assert_eq!(inv.emit, ["link"]);
        assert_eq!(outputs(&inv, &linux()), names(&[("liba-x.rlib", OutputKind::Rlib)]));
    }

    #[test]
    fn names_outputs_per_target() {
        let inv = cacheable(
            "--crate-name my-crate --crate-type lib --crate-type proc-macro,bin --crate-type rlib \
             --emit=dep-info,metadata,link -C extra-filename=-h --out-dir /o a.rs",
        );
        assert_eq!(inv.crate_types, ["lib", "proc-macro", "bin", "rlib"]);
        let cases: &[(&str, &[&str])] = &[
            (
                "x86_64-unknown-linux-gnu",
                &["libmy_crate-h.rlib", "libmy_crate-h.so", "my_crate-h", "libmy_crate-h.rmeta", "my_crate-h.d"],
            ),
            (
                "aarch64-apple-darwin",
                &["libmy_crate-h.rlib", "libmy_crate-h.dylib", "my_crate-h", "libmy_crate-h.rmeta", "my_crate-h.d"],
            ),
            (
                "x86_64-pc-windows-msvc",
                &["libmy_crate-h.rlib", "my_crate-h.dll", "my_crate-h.exe", "libmy_crate-h.rmeta", "my_crate-h.d"],
            ),
            (
                "x86_64-pc-windows-gnu",
                &["libmy_crate-h.rlib", "my_crate-h.dll", "my_crate-h.exe", "libmy_crate-h.rmeta", "my_crate-h.d"],
            ),
        ];
        let kinds = [OutputKind::Rlib, OutputKind::ProcMacro, OutputKind::Bin, OutputKind::Rmeta, OutputKind::DepInfo];
        for (triple, expected) in cases {
            let got = outputs(&inv, &TargetNaming::for_target(triple));
            let expected: Vec<(String, OutputKind)> =
                expected.iter().zip(kinds).map(|(n, k)| (n.to_string(), k)).collect();
            assert_eq!(got, expected, "{triple}");
        }

        let libs = cacheable("--crate-name n --crate-type staticlib,cdylib --out-dir /o a.rs");
        assert!(libs.is_linked());
        let cases: &[(&str, [&str; 2])] = &[
            ("x86_64-unknown-linux-gnu", ["libn.a", "libn.so"]),
            ("x86_64-apple-darwin", ["libn.a", "libn.dylib"]),
            ("x86_64-pc-windows-msvc", ["n.lib", "n.dll"]),
            ("x86_64-pc-windows-gnu", ["libn.a", "n.dll"]),
            ("wasm32-unknown-unknown", ["libn.a", "n.wasm"]),
        ];
        for (triple, [staticlib, dylib]) in cases {
            assert_eq!(
                outputs(&libs, &TargetNaming::for_target(triple)),
                names(&[(staticlib, OutputKind::Staticlib), (dylib, OutputKind::Dylib)]),
                "{triple}"
            );
        }
    }

    #[test]
    fn linking_depends_on_crate_type_and_emit() {
        let cases = [
            ("--crate-type lib", false),
            ("--crate-type rlib,staticlib", false),
            ("--crate-type bin", true),
            ("--crate-type proc-macro", true),
            ("--crate-type dylib", true),
            ("--crate-type cdylib", true),
            ("--crate-type lib --test", true),
            ("--test", true),
            ("--crate-type bin --emit=dep-info,metadata", false),
            ("--test --emit=metadata", false),
        ];
        for (flags, linked) in cases {
            let inv = cacheable(&format!("--crate-name a --out-dir /o a.rs {flags}"));
            assert_eq!(inv.is_linked(), linked, "{flags}");
        }
    }
}
