//! Why a unit or a run missed: its named inputs compared, input by input,
//! with the nearest entry of the same crate version among the records of
//! this machine and the entries of a trusted index. Pure: the caller reads
//! them (see `cargo ipfs why-miss`).

use super::misses::{Keyed, MissKind};
use std::collections::{BTreeMap, BTreeSet};

/// Where an entry compared with comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// An index, by name.
    Index(String),
    /// This machine's records.
    Local,
}

impl Origin {
    fn place(&self) -> &'static str {
        match self {
            Origin::Index(_) => "in the index",
            Origin::Local => "in the local record",
        }
    }
}

/// An entry of the same crate version and kind, with the named inputs of
/// its key (empty for an entry of an index written before they were).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Where it comes from.
    pub origin: Origin,
    /// Its key.
    pub key: String,
    /// Its compiler, as entries name it.
    pub rustc: String,
    /// Its named inputs.
    pub inputs: BTreeMap<String, String>,
}

/// One named input that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// Its name.
    pub name: String,
    /// Its value here (`None`: no such input).
    pub here: Option<String>,
    /// Its value in the entry.
    pub there: Option<String>,
}

/// The named inputs that differ between `here` and `there`.
pub fn differences(here: &BTreeMap<String, String>, there: &BTreeMap<String, String>) -> Vec<Difference> {
    let names: BTreeSet<&String> = here.keys().chain(there.keys()).collect();
    names
        .into_iter()
        .filter(|name| here.get(*name) != there.get(*name))
        .map(|name| Difference { name: name.clone(), here: here.get(name).cloned(), there: there.get(name).cloned() })
        .collect()
}

/// What missed, in words: `compilation (lib)`, `build-script run`.
pub fn what(miss: &Keyed) -> String {
    match miss.kind {
        MissKind::Compilation if miss.crate_types.is_empty() => "compilation".into(),
        MissKind::Compilation => format!("compilation ({})", miss.crate_types.join(", ")),
        MissKind::Run => "build-script run".into(),
    }
}

/// The lines explaining `miss` of `krate`: what the index lacks or was
/// built with, then the nearest entry (fewest differing named inputs) and
/// each input that differs from it. `index` is the index read (its name
/// and its entries for the crate version and kind), `None` when none could
/// be read.
pub fn explain(krate: &str, miss: &Keyed, local: &[Candidate], index: Option<(&str, &[Candidate])>) -> Vec<String> {
    let what = what(miss);
    let mut lines = Vec::new();
    let mut compared: Vec<&Candidate> = Vec::new();
    match index {
        None => lines.push("no trusted index readable here".to_string()),
        Some((name, [])) => {
            lines.push(format!("not in the index: index {name} holds no {what} of {krate} {}", miss.version));
        }
        Some((name, entries)) => {
            if entries.iter().all(|e| e.rustc != miss.rustc) {
                let theirs: BTreeSet<&str> = entries.iter().map(|e| e.rustc.as_str()).collect();
                let theirs: Vec<&str> = theirs.into_iter().collect();
                lines.push(format!(
                    "index built with another toolchain (rustc {} here, rustc {} in index {name})",
                    miss.rustc,
                    theirs.join(" or ")
                ));
            }
            compared.extend(entries.iter().filter(|e| !e.inputs.is_empty()));
            if compared.is_empty() {
                lines.push(format!(
                    "index {name}'s entries for {krate} {} name no key inputs (written before index format 3)",
                    miss.version
                ));
            }
        }
    }
    // A local record with the very inputs that missed is the one the miss
    // itself made.
    compared.extend(local.iter().filter(|c| !c.inputs.is_empty() && c.inputs != miss.inputs));
    let nearest = compared
        .into_iter()
        .map(|c| (differences(&miss.inputs, &c.inputs), c))
        .min_by(|(a, x), (b, y)| (a.len(), &x.origin).cmp(&(b.len(), &y.origin)));
    let Some((diffs, entry)) = nearest else {
        lines.push(format!("no entry of {krate} {} to compare with, here or in the index", miss.version));
        return lines;
    };
    let short = &entry.key[..entry.key.len().min(16)];
    let from = match &entry.origin {
        Origin::Index(name) => format!("index {name}'s entry {short}"),
        Origin::Local => format!("the local record {short}"),
    };
    if diffs.is_empty() {
        lines.push(format!(
            "no key input differs from {from}: the variables the crate reads, or a failed fetch, made the miss"
        ));
        return lines;
    }
    lines.push(format!("nearest: {from}, {} input(s) differ:", diffs.len()));
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
    for d in diffs {
        lines.push(format!("  {}: {} here, {} {}", d.name, show(&d.here), show(&d.there), entry.origin.place()));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    fn miss(pairs: &[(&str, &str)]) -> Keyed {
        Keyed {
            kind: MissKind::Compilation,
            version: "0.1.0".into(),
            crate_types: vec!["lib".into()],
            key: "k0".into(),
            rustc: "1.95.0 aaa".into(),
            inputs: inputs(pairs),
            at: 0,
        }
    }

    fn entry(origin: Origin, key: &str, rustc: &str, pairs: &[(&str, &str)]) -> Candidate {
        Candidate { origin, key: key.into(), rustc: rustc.into(), inputs: inputs(pairs) }
    }

    fn index() -> Origin {
        Origin::Index("cdemo".into())
    }

    #[test]
    fn the_nearest_entry_names_the_input_that_differs() {
        let here = miss(&[("features", r#"["extra"]"#), ("rustc", "rustc 1.95.0"), ("out_dir", "sha256:1")]);
        let entries = [
            entry(
                index(),
                "k1",
                "1.95.0 aaa",
                &[("features", "[]"), ("rustc", "rustc 1.95.0"), ("out_dir", "sha256:2")],
            ),
            entry(
                index(),
                "k2",
                "1.95.0 aaa",
                &[("features", "[]"), ("rustc", "rustc 1.95.0"), ("out_dir", "sha256:1")],
            ),
        ];
        let lines = explain("cfix", &here, &[], Some(("cdemo", &entries)));
        assert_eq!(lines[0], "nearest: index cdemo's entry k2, 1 input(s) differ:");
        assert_eq!(lines[1], r#"  features: ["extra"] here, [] in the index"#);
        assert_eq!(lines.len(), 2, "{lines:?}");
    }

    #[test]
    fn a_declared_variable_unset_in_the_index_is_named() {
        let mut here = miss(&[("declared variable CFIX_VALUE", "\"9\""), ("script", "s")]);
        here.kind = MissKind::Run;
        let entries =
            [entry(index(), "k1", "1.95.0 aaa", &[("declared variable CFIX_VALUE", "unset"), ("script", "s")])];
        let lines = explain("cfix", &here, &[], Some(("cdemo", &entries)));
        assert_eq!(lines[1], "  declared variable CFIX_VALUE: \"9\" here, unset in the index");
    }

    #[test]
    fn an_entry_the_index_lacks_and_another_toolchain_are_said() {
        let here = miss(&[("rustc", "rustc 1.95.0")]);
        let local = [entry(Origin::Local, "k9", "1.95.0 aaa", &[("rustc", "rustc 1.95.0"), ("features", "[]")])];
        let lines = explain("cfix", &here, &local, Some(("cdemo", &[])));
        assert_eq!(lines[0], "not in the index: index cdemo holds no compilation (lib) of cfix 0.1.0");
        assert_eq!(lines[1], "nearest: the local record k9, 1 input(s) differ:");
        assert_eq!(lines[2], "  features: (none) here, [] in the local record");

        let entries = [entry(index(), "k1", "1.94.0 bbb", &[("rustc", "rustc 1.94.0")])];
        let lines = explain("cfix", &here, &[], Some(("cdemo", &entries)));
        assert_eq!(
            lines[0],
            "index built with another toolchain (rustc 1.95.0 aaa here, rustc 1.94.0 bbb in index cdemo)"
        );
        assert_eq!(lines[2], "  rustc: rustc 1.95.0 here, rustc 1.94.0 in the index");
        // One entry with this toolchain: not the toolchain's fault.
        let both = [entries[0].clone(), entry(index(), "k2", "1.95.0 aaa", &[("rustc", "rustc 1.95.0"), ("x", "1")])];
        let lines = explain("cfix", &here, &[], Some(("cdemo", &both)));
        assert!(!lines[0].contains("toolchain"), "{lines:?}");
    }

    #[test]
    fn the_record_a_miss_made_itself_and_entries_without_inputs_are_not_compared() {
        let here = miss(&[("rustc", "rustc 1.95.0")]);
        let local = [entry(Origin::Local, "k0", "1.95.0 aaa", &[("rustc", "rustc 1.95.0")])];
        let old = [entry(index(), "k1", "1.95.0 aaa", &[])];
        let lines = explain("cfix", &here, &local, Some(("cdemo", &old)));
        assert!(lines[0].contains("name no key inputs"), "{lines:?}");
        assert_eq!(lines[1], "no entry of cfix 0.1.0 to compare with, here or in the index");
        let lines = explain("cfix", &here, &local, None);
        assert_eq!(
            lines,
            ["no trusted index readable here", "no entry of cfix 0.1.0 to compare with, here or in the index"]
        );
    }
}
