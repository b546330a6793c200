//! What a build script told cargo on its standard output, as far as the
//! cache needs it: the inputs it declared (`rerun-if-changed`,
//! `rerun-if-env-changed`) and the directories it asked to link from
//! (`rustc-link-search`). Both syntaxes count, `cargo:KEY=VALUE` and
//! `cargo::KEY=VALUE`; lines are trimmed as cargo trims them.
//!
//! Pure: the caller hands the text in.

/// The declarations of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Declared {
    /// `rerun-if-env-changed` names, sorted, without repeats.
    pub env: Vec<String>,
    /// `rerun-if-changed` paths as written (relative to the package
    /// directory unless absolute), sorted, without repeats.
    pub files: Vec<String>,
    /// `rustc-link-search` directories, the `KIND=` removed.
    pub link_search: Vec<String>,
    /// An empty `rerun-if-changed=`, which cargo reads as "always rerun".
    pub always_rerun: bool,
}

/// Reads the declarations in a script's standard output.
pub fn parse(stdout: &str) -> Declared {
    let mut declared = Declared::default();
    for line in stdout.split('\n') {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("cargo::").or_else(|| line.strip_prefix("cargo:")) else { continue };
        let Some((key, value)) = rest.split_once('=') else { continue };
        match key {
            "rerun-if-env-changed" => declared.env.push(value.to_string()),
            "rerun-if-changed" if value.is_empty() => declared.always_rerun = true,
            "rerun-if-changed" => declared.files.push(value.to_string()),
            "rustc-link-search" => {
                let dir = value.split_once('=').map_or(value, |(_, dir)| dir);
                declared.link_search.push(dir.to_string());
            }
            _ => {}
        }
    }
    for list in [&mut declared.env, &mut declared.files] {
        list.sort();
        list.dedup();
    }
    declared
}

impl Declared {
    /// Whether the run declared anything: a run that declares nothing is
    /// run again by cargo whenever any file of its package changes, so its
    /// input is the whole package.
    pub fn is_empty(&self) -> bool {
        self.env.is_empty() && self.files.is_empty() && !self.always_rerun
    }

    /// Whether the run used the `cc` crate (or a script like it), which
    /// declares every variable it reads: `CC`, `CFLAGS`, `AR` and their
    /// target-specific forms.
    pub fn uses_c_compiler(&self) -> bool {
        self.env.iter().any(|n| is_tool_var(n, "CC") || is_tool_var(n, "CXX"))
    }

    /// Whether the run declared `CXX`: it may compile C++.
    pub fn uses_cxx(&self) -> bool {
        self.env.iter().any(|n| is_tool_var(n, "CXX"))
    }

    /// A tool the run declared whose identity the cache does not know how
    /// to take: `pkg-config` and `cmake` find files all over the system.
    pub fn unknown_tool(&self) -> Option<&'static str> {
        for name in &self.env {
            if name.starts_with("PKG_CONFIG") || name.ends_with("_NO_PKG_CONFIG") {
                return Some("uses pkg-config");
            }
            if name.starts_with("CMAKE") {
                return Some("uses cmake");
            }
        }
        None
    }
}

/// Whether `name` is the variable `base` as `cc` spells it: plain,
/// `HOST_`/`TARGET_` prefixed, or `_<target>` suffixed.
fn is_tool_var(name: &str, base: &str) -> bool {
    let stripped = name.strip_prefix("HOST_").or_else(|| name.strip_prefix("TARGET_")).unwrap_or(name);
    stripped == base || stripped.strip_prefix(base).is_some_and(|rest| rest.starts_with('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_syntaxes_and_cargo_trimming() {
        let out = "cargo:rerun-if-env-changed=CC_x86_64-unknown-linux-gnu\n  cargo::rerun-if-changed=src/a.c \n\
                   cargo:rerun-if-env-changed=CC\ncargo:rustc-link-search=native=/t/out\n\
                   cargo:rustc-link-lib=static=a\nCC = None\ncargo:rerun-if-changed=src/a.c\n";
        let d = parse(out);
        assert_eq!(d.env, ["CC", "CC_x86_64-unknown-linux-gnu"]);
        assert_eq!(d.files, ["src/a.c"]);
        assert_eq!(d.link_search, ["/t/out"]);
        assert!(!d.always_rerun && !d.is_empty() && d.uses_c_compiler() && !d.uses_cxx());
        assert!(d.unknown_tool().is_none());
    }

    #[test]
    fn nothing_declared_and_always_rerun() {
        assert!(parse("cargo:rustc-cfg=has_x\nwarning\n").is_empty());
        let d = parse("cargo:rerun-if-changed=\n");
        assert!(d.always_rerun && !d.is_empty());
    }

    #[test]
    fn tools_are_told_apart() {
        assert!(!parse("cargo:rerun-if-env-changed=CCACHE_DIR\n").uses_c_compiler());
        assert!(parse("cargo:rerun-if-env-changed=TARGET_CXX\n").uses_cxx());
        let d = parse("cargo:rerun-if-env-changed=PKG_CONFIG_PATH\n");
        assert_eq!(d.unknown_tool(), Some("uses pkg-config"));
    }
}
