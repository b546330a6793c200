//! The names of the files a cacheable compilation writes: [`TargetNaming`],
//! how a target spells libraries and executables, and the [`Invocation`]
//! methods that say what is linked and which outputs to expect.

use super::{Invocation, OutputKind};

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
mod tests {
    use super::*;
    use crate::wrapper::args::tests::{cacheable, linux, names, outputs, BASE};

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
