//! What each flag means for the cache: the crate types, emit kinds and `-Z`
//! flags it accepts, and [`Parts`], which collects an [`Invocation`] flag
//! by flag and then picks the verdict.

use std::path::PathBuf;

use super::{split_extern, split_option, split_search, Flag, Invocation, NotCacheable};

/// The crate types this cache handles. All of them name their outputs from
/// the crate name; the linked ones (see [`Invocation::is_linked`]) need the
/// linker's identity in the key, which the caller adds.
const CRATE_TYPES: &[&str] = &["lib", "rlib", "proc-macro", "bin", "dylib", "cdylib", "staticlib"];

/// The emit kinds this cache handles.
const EMITS: &[&str] = &["dep-info", "metadata", "link"];

/// `-Z` flags (names spelled with `-`) that write files beside the outputs
/// or replace compilation with printing. A name ending in `-` is a prefix.
const UNSTABLE_DENY: &[&str] = &["unpretty", "self-profile", "dump-", "ls"];

/// Keeps the first reason found; later ones are not reported.
pub(super) fn refuse(refused: &mut Option<NotCacheable>, reason: NotCacheable) {
    refused.get_or_insert(reason);
}

/// What the flags said so far.
#[derive(Default)]
pub(super) struct Parts {
    print: bool,
    pub(super) refused: Option<NotCacheable>,
    seen_single: Vec<Flag>,
    crate_name: Option<String>,
    out_dir: Option<PathBuf>,
    /// Everything else, filled in as flags come.
    inv: Invocation,
}

impl Parts {
    pub(super) fn flag(&mut self, flag: Flag, value: Option<&str>) {
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
            Flag::Lib => {
                // `KIND:MODIFIERS=NAME`: with `verbatim` the name is a file
                // name that the library search does not resolve here.
                let modifiers = text.split_once('=').and_then(|(kind, _)| kind.split_once(':')).map(|(_, m)| m);
                if modifiers.is_some_and(|m| m.split(',').any(|m| m.trim_start_matches(['+', '-']) == "verbatim")) {
                    refuse(&mut self.refused, NotCacheable::FileArgument(format!("-l {text}")));
                }
                inv.libs.push(text.to_string())
            }
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
            Flag::Sysroot => {
                refuse(&mut self.refused, NotCacheable::FileArgument("--sysroot".into()));
                inv.sysroot = Some(PathBuf::from(text))
            }
            Flag::Unstable => {
                let (name, value) = split_option(text);
                if name == "help" {
                    self.print = true;
                } else if name == "tune-cpu" && value == Some("native") {
                    refuse(&mut self.refused, NotCacheable::TargetCpuNative);
                } else if name == "codegen-backend" && value.is_some_and(|v| v.contains(['/', '\\'])) {
                    refuse(&mut self.refused, NotCacheable::FileArgument("-Z codegen-backend".into()));
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
    pub(super) fn finish(
        self,
        input: Option<&str>,
        inputs: usize,
        args: Vec<String>,
    ) -> Result<Invocation, NotCacheable> {
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
        // A path among the linker's arguments names a file the linker reads
        // (an archive, a version script) by name only.
        let link_path = |(name, value): &(String, Option<String>)| {
            matches!(name.as_str(), "link-arg" | "link-args") && value.as_deref().is_some_and(|v| v.contains('/'))
        };
        if inv.is_linked() && inv.codegen.iter().any(link_path) {
            return Err(NotCacheable::FileArgument("-C link-arg".into()));
        }
        inv.input = PathBuf::from(input);
        inv.args = args;
        Ok(inv)
    }
}

#[cfg(test)]
mod tests {
    use crate::wrapper::args::tests::{split, BASE, PROBE};
    use crate::wrapper::args::{analyze, Analysis, NotCacheable};

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
            (format!("{BASE} -Z tune-cpu=native"), TargetCpuNative),
            (format!("{BASE} --target /x/my-target.json"), TargetSpecFile),
            (format!("{BASE} --sysroot /opt/my-sysroot"), FileArgument("--sysroot".into())),
            (format!("{BASE} -Zcodegen-backend=/x/libcg.so"), FileArgument("-Z codegen-backend".into())),
            (format!("{BASE} -l static:+verbatim=libfoo.a"), FileArgument("-l static:+verbatim=libfoo.a".into())),
            (format!("{BASE} -lstatic:-bundle,+verbatim=foo"), FileArgument("-l static:-bundle,+verbatim=foo".into())),
            (format!("{BASE} --crate-type bin -C link-arg=/abs/libx.a"), FileArgument("-C link-arg".into())),
            (
                format!("{BASE} --crate-type bin -Clink-args=-Wl,--version-script=v/x.map"),
                FileArgument("-C link-arg".into()),
            ),
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
}
