//! Machine paths out of keys and artifacts.
//!
//! Two machines share a hit only if neither the key nor the artifact names a
//! path that differs between them: CARGO_HOME, the target directory, the
//! workspace. A [`PathMap`] replaces those prefixes with fixed placeholders
//! (`/cargo-home`, `/target`, `/workspace`) in paths, in free text (dep-info
//! files, rustc's JSON diagnostics) and, through `--remap-path-prefix`, in
//! what rustc writes into the artifact; on a hit, [`PathMap::expand_text`]
//! puts this machine's prefixes back. [`normalize_args`] turns an
//! invocation's arguments into their machine-independent key form.
//!
//! A prefix matches whole path components only: `/a/b` is under `/a` but
//! `/a/bc` is not. In free text a match must also start a path (at the start
//! of the text or after a delimiter such as a space, a quote, `=` or an ANSI
//! colour code) and end one (before `/`, `\`, a delimiter or the end).
//!
//! Everything here is a pure function of its arguments.

use std::path::Path;

use thiserror::Error;

use super::args::{split_extern, split_option, split_search, tokenize, Flag, Invocation, Token};

/// Machine prefixes and the placeholders that stand for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMap {
    /// Longest prefix first.
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    prefix: String,
    placeholder: String,
}

/// How text that holds paths escapes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escaping {
    /// Paths appear as they are (human diagnostics, arguments).
    Plain,
    /// Makefile-style dep-info: spaces are written `\ `.
    DepInfo,
    /// Inside JSON strings: `\` and `"` are written `\\` and `\"`.
    Json,
}

/// Why a path map was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PathMapError {
    /// A prefix is relative, the root, or not UTF-8.
    #[error("path prefix {0:?} must be an absolute UTF-8 path other than the root")]
    BadPrefix(String),
    /// A placeholder is not a plain absolute path.
    #[error(
        "placeholder {0:?} must be `/` followed by letters, digits, `.`, `_`, `-` or `/`, without `//` or a final `/`"
    )]
    BadPlaceholder(String),
    /// The same prefix or placeholder appears twice, so one direction of the
    /// mapping would be ambiguous.
    #[error("{0:?} appears twice in the path map")]
    Duplicate(String),
}

impl PathMap {
    /// Builds a map from `(absolute prefix, placeholder)` pairs, such as
    /// `(CARGO_HOME, "/cargo-home")`. A final separator on a prefix is
    /// ignored. Placeholders should be paths that no real file uses, since
    /// expansion replaces every occurrence that stands as a path.
    pub fn new<P: AsRef<Path>, S: Into<String>>(
        pairs: impl IntoIterator<Item = (P, S)>,
    ) -> Result<PathMap, PathMapError> {
        let mut entries: Vec<Entry> = Vec::new();
        for (prefix, placeholder) in pairs {
            let prefix = prefix.as_ref();
            let text = prefix.to_str().ok_or_else(|| PathMapError::BadPrefix(prefix.display().to_string()))?;
            let trimmed = text.trim_end_matches(['/', '\\']);
            if !looks_absolute(text) || trimmed.is_empty() || trimmed.ends_with(':') {
                return Err(PathMapError::BadPrefix(text.to_string()));
            }
            let placeholder = placeholder.into();
            if !is_plain_placeholder(&placeholder) {
                return Err(PathMapError::BadPlaceholder(placeholder));
            }
            for entry in &entries {
                if entry.prefix == trimmed {
                    return Err(PathMapError::Duplicate(trimmed.to_string()));
                }
                if entry.placeholder == placeholder {
                    return Err(PathMapError::Duplicate(placeholder));
                }
            }
            entries.push(Entry { prefix: trimmed.to_string(), placeholder });
        }
        entries.sort_by(|a, b| b.prefix.len().cmp(&a.prefix.len()).then_with(|| a.prefix.cmp(&b.prefix)));
        Ok(PathMap { entries })
    }

    /// The path with its longest matching prefix replaced by the
    /// placeholder, components joined with `/`; any other path (relative, or
    /// under no prefix) as it is.
    pub fn normalize_path(&self, path: &Path) -> String {
        for entry in &self.entries {
            if let Ok(rest) = path.strip_prefix(&entry.prefix) {
                let mut out = entry.placeholder.clone();
                for component in rest.components() {
                    out.push('/');
                    out.push_str(&component.as_os_str().to_string_lossy());
                }
                return out;
            }
        }
        path.to_string_lossy().into_owned()
    }

    /// Replaces every prefix in free text by its placeholder, whether the
    /// text writes the prefix plainly, dep-info escaped or JSON escaped.
    pub fn normalize_text(&self, text: &str) -> String {
        let mut patterns = Vec::new();
        for entry in &self.entries {
            for escaping in [Escaping::Plain, Escaping::DepInfo, Escaping::Json] {
                let form = escape(&entry.prefix, escaping);
                if !patterns.iter().any(|(p, _): &(String, &str)| *p == form) {
                    patterns.push((form, entry.placeholder.as_str()));
                }
            }
        }
        replace_paths(text, &patterns)
    }

    /// Replaces every placeholder in free text by this machine's prefix,
    /// written plainly.
    pub fn expand_text(&self, text: &str) -> String {
        self.expand_text_escaped(text, Escaping::Plain)
    }

    /// Replaces every placeholder in free text by this machine's prefix,
    /// escaped as the surrounding text needs (a restored dep-info file must
    /// write a space in CARGO_HOME as `\ `).
    pub fn expand_text_escaped(&self, text: &str, escaping: Escaping) -> String {
        let mut patterns: Vec<(String, String)> =
            self.entries.iter().map(|e| (e.placeholder.clone(), escape(&e.prefix, escaping))).collect();
        patterns.sort_by_key(|(placeholder, _)| std::cmp::Reverse(placeholder.len()));
        replace_paths(text, &patterns)
    }

    /// The absolute prefixes this map replaces (this machine's paths).
    pub fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.prefix.as_str())
    }

    /// `--remap-path-prefix=PREFIX=PLACEHOLDER` for every entry, so that
    /// rustc writes placeholders into debug info, `file!()` and diagnostics.
    ///
    /// When several mappings match a path, rustc applies the one given last
    /// (the rustc book, "Remap source paths"; `FilePathMapping::map_prefix`
    /// walks the list in reverse and takes the first `FROM` that is a prefix
    /// by whole components). Checked with rustc 1.95: `/p=/short` then
    /// `/p/ws=/long` gives `/long/src/lib.rs`, the reverse order gives
    /// `/short/ws/src/lib.rs`, and `/p/w=/x` leaves `/p/ws` alone. So the
    /// longest prefix goes last: a target directory inside the workspace
    /// becomes `/target`, not `/workspace/target`. Rustc splits the value at
    /// its last `=`, which is why placeholders may not contain one.
    pub fn remap_args(&self) -> Vec<String> {
        let mut entries: Vec<&Entry> = self.entries.iter().collect();
        entries.sort_by(|a, b| a.prefix.len().cmp(&b.prefix.len()).then_with(|| a.prefix.cmp(&b.prefix)));
        entries.iter().map(|e| format!("--remap-path-prefix={}={}", e.prefix, e.placeholder)).collect()
    }
}

/// Absolute on Unix (`/x`) or Windows (`C:\x`, `C:/x`, `\\server\share`),
/// whatever the machine running this.
fn looks_absolute(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.starts_with('/')
        || text.starts_with("\\\\")
        || (bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' && matches!(bytes[2], b'\\' | b'/'))
}

/// A placeholder needs no escaping anywhere and no `=` (see `remap_args`).
fn is_plain_placeholder(text: &str) -> bool {
    text.len() > 1
        && text.starts_with('/')
        && !text.ends_with('/')
        && !text.contains("//")
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-'))
}

fn escape(prefix: &str, escaping: Escaping) -> String {
    match escaping {
        Escaping::Plain => prefix.to_string(),
        Escaping::DepInfo => prefix.replace(' ', "\\ "),
        Escaping::Json => prefix.replace('\\', "\\\\").replace('"', "\\\""),
    }
}

/// Characters that end a path in free text, or come just before one.
fn is_delimiter(c: char) -> bool {
    c.is_whitespace() || "\"'`()[]{}<>=,;:|".contains(c)
}

/// Whether a path may start at `at`: at the start, after a delimiter, after
/// a JSON escape (`\n`, `\t`, `\r`), or after an ANSI colour code, plain
/// (`ESC[1m`) or JSON-escaped (`\u001b[0m`) as in rustc's rendered diagnostics.
fn starts_path(text: &str, at: usize) -> bool {
    let before = &text[..at];
    let Some(last) = before.chars().next_back() else {
        return true;
    };
    if is_delimiter(last) {
        return true;
    }
    if [r"\n", r"\t", r"\r"].iter().any(|e| before.ends_with(e)) && !before.ends_with(r"\\n") {
        return true;
    }
    if let Some(codes) = before.strip_suffix('m') {
        let codes = codes.trim_end_matches(|c: char| c.is_ascii_digit() || c == ';');
        if let Some(intro) = codes.strip_suffix('[') {
            return intro.ends_with('\u{1b}') || intro.ends_with(r"\u001b");
        }
    }
    false
}

/// Whether a path may end at `at`: at the end, before a separator, or
/// before a delimiter.
fn ends_path(text: &str, at: usize) -> bool {
    match text[at..].chars().next() {
        None => true,
        Some(c) => c == '/' || c == '\\' || is_delimiter(c),
    }
}

/// One left-to-right pass, so that a replacement is never matched again.
/// `patterns` must be sorted longest first.
fn replace_paths<R: AsRef<str>>(text: &str, patterns: &[(String, R)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at < text.len() {
        if starts_path(text, at) {
            let found =
                patterns.iter().find(|(p, _)| text[at..].starts_with(p.as_str()) && ends_path(text, at + p.len()));
            if let Some((pattern, replacement)) = found {
                out.push_str(&text[copied..at]);
                out.push_str(replacement.as_ref());
                at += pattern.len();
                copied = at;
                continue;
            }
        }
        at += text[at..].chars().next().map_or(1, char::len_utf8);
    }
    out.push_str(&text[copied..]);
    out
}

/// The invocation's arguments in a machine-independent form for the key.
///
/// Each option becomes one `--long-name=value` (or `-X=value`) string, so the
/// `-Cx=y`, `-C x=y` and `--codegen=x=y` spellings give the same key, and
/// order is kept because rustc is order-sensitive (lint levels, repeated
/// `-C`). Paths are normalized with `map`: the input, `--out-dir`, `-L`,
/// `--sysroot`, the `FROM` side of `--remap-path-prefix`, and prefixes found
/// in any other value (`-C linker=`, `--env-set`).
///
/// `--extern NAME=PATH` keeps only the name and the file name: the caller
/// puts the file's content digest in the key, and the file name (which holds
/// cargo's hash of the dependency and says rlib or rmeta) is machine
/// independent while telling a path-less sysroot crate from a file.
///
/// `-C incremental=DIR` keeps only its name: the directory is this machine's
/// state, but whether rustc compiled incrementally changes the outputs.
///
/// Dropped, because it cannot change any output file:
/// - `--diagnostic-width`, which cargo passes only when stderr is a
///   terminal, with its width. Keeping it would split the cache between CI
///   and every terminal size; the cost is that replayed human-readable
///   diagnostics are wrapped for the width of the recording run.
///
/// Kept although they only shape diagnostics: `--error-format`, `--json`,
/// `--color`, `--cap-lints` and the lint levels, because replayed output
/// must be what rustc would print for these arguments, and lint levels can
/// turn a warning into a failed build.
pub fn normalize_args(inv: &Invocation, map: &PathMap) -> Vec<String> {
    let mut out = Vec::new();
    for token in tokenize(&inv.args) {
        match token {
            Token::Input(input) => out.push(map.normalize_path(Path::new(input))),
            Token::Flag(flag, None) => out.push(flag.canonical()),
            Token::Flag(flag, Some(value)) => {
                let value = match flag {
                    Flag::DiagnosticWidth => continue,
                    Flag::Codegen => match split_option(value) {
                        (name, _) if name == "incremental" => name,
                        (name, None) => name,
                        (name, Some(value)) => format!("{name}={}", map.normalize_text(value)),
                    },
                    Flag::OutDir | Flag::Sysroot => map.normalize_path(Path::new(value)),
                    Flag::LibSearch => match split_search(value) {
                        (Some(kind), path) => format!("{kind}={}", map.normalize_path(Path::new(path))),
                        (None, path) => map.normalize_path(Path::new(path)),
                    },
                    Flag::Extern => {
                        let ext = split_extern(value);
                        let mut text = ext.modifiers.join(",");
                        if !text.is_empty() {
                            text.push(':');
                        }
                        text.push_str(&ext.name);
                        if let Some(path) = &ext.path {
                            text.push('=');
                            text.push_str(&path.file_name().unwrap_or_default().to_string_lossy());
                        }
                        text
                    }
                    Flag::RemapPathPrefix => match value.rsplit_once('=') {
                        Some((from, to)) => format!("{}={to}", map.normalize_path(Path::new(from))),
                        None => value.to_string(),
                    },
                    _ => map.normalize_text(value),
                };
                out.push(format!("{}={value}", flag.canonical()));
            }
            // A cacheable invocation has none of these; keep them in any case.
            Token::ArgFile(arg) | Token::Unknown(arg) | Token::MissingValue(arg) => out.push(map.normalize_text(arg)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrapper::args::tests::{cacheable, itoa_lib, SAME_MEANING};

    /// CARGO_HOME, a target directory inside the workspace, and the workspace.
    fn map() -> PathMap {
        PathMap::new([("/c", "/cargo-home"), ("/w/target/", "/target"), ("/w", "/workspace")]).unwrap()
    }

    #[test]
    fn normalizes_paths_by_longest_whole_prefix() {
        let cases = [
            ("/w/target/debug/deps", "/target/debug/deps"),
            ("/w/target", "/target"),
            ("/w/src/lib.rs", "/workspace/src/lib.rs"),
            ("/w/targets/x", "/workspace/targets/x"),
            ("/wx/src/lib.rs", "/wx/src/lib.rs"),
            ("/c/registry/src/itoa/lib.rs", "/cargo-home/registry/src/itoa/lib.rs"),
            ("/c/../etc", "/cargo-home/../etc"),
            ("src/lib.rs", "src/lib.rs"),
            ("/elsewhere/c", "/elsewhere/c"),
        ];
        for (path, expected) in cases {
            assert_eq!(map().normalize_path(Path::new(path)), expected, "{path}");
        }
    }

    #[test]
    fn normalizes_paths_in_text() {
        let cases = [
            ("/w/target/debug/deps/x.d: /c/reg/a.rs", "/target/debug/deps/x.d: /cargo-home/reg/a.rs"),
            // Whole components, and only where a path starts.
            ("/w/targets /wx /tmp/w/src -L/w/x", "/workspace/targets /wx /tmp/w/src -L/w/x"),
            ("dependency=/w/target/deps,/c:1", "dependency=/target/deps,/cargo-home:1"),
            // JSON strings, JSON escapes and ANSI colour codes, as rustc writes them.
            (
                r#"{"file_name":"/c/a.rs","rendered":"\n/w/x \u001b[0m/c/b.rs"}"#,
                r#"{"file_name":"/cargo-home/a.rs","rendered":"\n/workspace/x \u001b[0m/cargo-home/b.rs"}"#,
            ),
            ("\u{1b}[1m/c/b.rs\u{1b}[0m", "\u{1b}[1m/cargo-home/b.rs\u{1b}[0m"),
            ("/c\\registry", "/cargo-home\\registry"),
            ("no paths here", "no paths here"),
        ];
        for (text, expected) in cases {
            assert_eq!(map().normalize_text(text), expected, "{text}");
        }
    }

    #[test]
    fn escaped_prefixes_round_trip() {
        // A space in CARGO_HOME is `\ ` in dep-info; Windows separators are
        // doubled in JSON.
        let map = PathMap::new([("/home/a b/.cargo", "/cargo-home"), ("C:\\Users\\x\\t", "/target")]).unwrap();
        let cases = [
            ("/t.d: /home/a\\ b/.cargo/r/lib.rs", "/t.d: /cargo-home/r/lib.rs", Escaping::DepInfo),
            (r#"{"file_name":"C:\\Users\\x\\t\\a.rs"}"#, r#"{"file_name":"/target\\a.rs"}"#, Escaping::Json),
            ("  --> /home/a b/.cargo/r/lib.rs:1:2", "  --> /cargo-home/r/lib.rs:1:2", Escaping::Plain),
        ];
        for (text, normalized, escaping) in cases {
            assert_eq!(map.normalize_text(text), normalized, "{text}");
            assert_eq!(map.expand_text_escaped(normalized, escaping), text, "{text}");
        }
    }

    /// A warning as rustc 1.95 prints it with `--error-format=json
    /// --json=diagnostic-rendered-ansi` (shortened), on two machines.
    const DIAGNOSTIC: &str = r#"{"$message_type":"diagnostic","message":"unused variable: `x`","spans":[{"file_name":"/home/ann/.cargo/registry/src/x-1.0.0/src/lib.rs","byte_start":17}],"rendered":"\u001b[1m\u001b[33mwarning\u001b[0m: unused variable\n \u001b[1m\u001b[94m--> \u001b[0m/home/ann/.cargo/registry/src/x-1.0.0/src/lib.rs:1:18\n"}"#;

    #[test]
    fn diagnostics_round_trip_between_machines() {
        let ann = PathMap::new([("/home/ann/.cargo", "/cargo-home"), ("/home/ann/p/target", "/target")]).unwrap();
        let bob = PathMap::new([("/opt/bob cargo", "/cargo-home"), ("/srv/t", "/target")]).unwrap();
        let stored = ann.normalize_text(DIAGNOSTIC);
        assert!(!stored.contains("/home/ann"), "{stored}");
        assert_eq!(stored.matches("/cargo-home/registry/src/x-1.0.0/src/lib.rs").count(), 2);
        assert_eq!(ann.expand_text(&stored), DIAGNOSTIC);
        assert_eq!(bob.expand_text(&stored), DIAGNOSTIC.replace("/home/ann/.cargo", "/opt/bob cargo"));
    }

    #[test]
    fn remaps_longest_prefix_last() {
        assert_eq!(
            map().remap_args(),
            [
                "--remap-path-prefix=/c=/cargo-home",
                "--remap-path-prefix=/w=/workspace",
                "--remap-path-prefix=/w/target=/target",
            ]
        );
    }

    #[test]
    fn refuses_bad_maps() {
        let cases: [(&[(&str, &str)], PathMapError); 6] = [
            (&[("relative/dir", "/x")], PathMapError::BadPrefix("relative/dir".into())),
            (&[("/", "/x")], PathMapError::BadPrefix("/".into())),
            (&[("/a", "x")], PathMapError::BadPlaceholder("x".into())),
            (&[("/a", "/x=y")], PathMapError::BadPlaceholder("/x=y".into())),
            (&[("/a", "/x"), ("/a/", "/y")], PathMapError::Duplicate("/a".into())),
            (&[("/a", "/x"), ("/b", "/x")], PathMapError::Duplicate("/x".into())),
        ];
        for (pairs, error) in cases {
            assert_eq!(PathMap::new(pairs.iter().copied()), Err(error), "{pairs:?}");
        }
    }

    #[test]
    fn normalizes_a_real_invocation() {
        let map = PathMap::new([("/c", "/cargo-home"), ("/t", "/target")]).unwrap();
        let inv = cacheable(&format!(
            "{} --diagnostic-width=117 --extern proc_macro --extern noprelude:b=/t/debug/deps/libb-1.rmeta \
             -C link-arg=-Wl,-rpath,/c/lib --remap-path-prefix=/c/registry=/r",
            itoa_lib()
        ));
        let expected = [
            "--crate-name=itoa",
            "--edition=2021",
            "/cargo-home/registry/src/index.crates.io-1949cf8c6b5b557f/itoa-1.0.19/src/lib.rs",
            "--error-format=json",
            "--json=diagnostic-rendered-ansi,artifacts,future-incompat",
            "--crate-type=lib",
            "--emit=dep-info,metadata,link",
            "--codegen=embed-bitcode=no",
            "--codegen=debuginfo=2",
            "--check-cfg=cfg(docsrs,test)",
            "--check-cfg=cfg(feature, values(\"no-panic\"))",
            "--codegen=metadata=a9c1468c251272ca",
            "--codegen=extra-filename=-6c1e270c698fa6a6",
            "--out-dir=/target/debug/deps",
            "-L=dependency=/target/debug/deps",
            "--cap-lints=allow",
            "--extern=proc_macro",
            "--extern=noprelude:b=libb-1.rmeta",
            "--codegen=link-arg=-Wl,-rpath,/cargo-home/lib",
            "--remap-path-prefix=/cargo-home/registry=/r",
        ];
        assert_eq!(normalize_args(&inv, &map), expected);

        // Another machine, other paths, the same key.
        let other = PathMap::new([("/home/bob/.cargo", "/cargo-home"), ("/tmp/tgt", "/target")]).unwrap();
        let moved = itoa_lib().replace(" /c/", " /home/bob/.cargo/").replace("/t/", "/tmp/tgt/");
        assert_eq!(normalize_args(&cacheable(&moved), &other), normalize_args(&cacheable(&itoa_lib()), &map));
    }

    #[test]
    fn incremental_keeps_its_name_not_its_directory() {
        let map = map();
        let line = |flags: &str| format!("{flags} a.rs --crate-name=n --crate-type=lib --out-dir=/o");
        let key = |flags: &str| normalize_args(&cacheable(&line(flags)), &map);
        assert_eq!(key("-C incremental=/w/target/debug/incremental"), key("-Cincremental=/elsewhere/inc"));
        assert!(key("-C incremental=/x").contains(&"--codegen=incremental".to_string()));
        assert_ne!(key("-C incremental=/x"), key(""), "incremental and whole compilations never share a key");
    }

    #[test]
    fn spellings_give_the_same_key() {
        let map = map();
        for (a, b) in SAME_MEANING {
            let line = |flags: &str| format!("{flags} a.rs --crate-name=n --crate-type=lib --out-dir=/o");
            if a.starts_with("--crate") {
                continue;
            }
            let left = normalize_args(&cacheable(&line(a)), &map);
            let right = normalize_args(&cacheable(&line(b)), &map);
            assert_eq!(left, right, "{a} vs {b}");
        }
    }
}
