//! What a rebuild found, entry by entry (pure): each artifact the rebuild
//! recorded set against the signed entry of the same key, and each signed
//! entry of the rebuilt packages that the rebuild did not make, with why.

use crate::index::Entry;
use serde::Serialize;
use std::collections::BTreeSet;

/// One artifact compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Compared {
    /// The crate.
    pub name: String,
    /// Its version.
    pub version: String,
    /// `unit` or `run`.
    pub kind: &'static str,
    /// The key.
    pub key: String,
    /// The signed CID.
    pub cid: String,
    /// The rebuilt CID (the signed one when they match).
    pub rebuilt_cid: String,
    /// For a mismatch: the files that differ (filled in by the caller).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
}

/// A signed entry the rebuild did not make here, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotRebuilt {
    /// The crate.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The entry's key.
    pub key: String,
    /// Why it was not rebuilt here.
    pub reason: String,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The index and version compared with.
    pub index: String,
    /// Its version.
    pub version: u64,
    /// Rebuilt artifacts whose sha256 and CID are the signed entry's.
    pub matched: Vec<Compared>,
    /// Rebuilt artifacts under a signed key whose bytes differ.
    pub mismatched: Vec<Compared>,
    /// Signed entries of the rebuilt packages not rebuilt here.
    pub not_rebuilt: Vec<NotRebuilt>,
    /// Rebuilt artifacts the index has no entry for (another feature set,
    /// a unit the publisher did not publish).
    pub not_in_index: usize,
    /// The signed entries that matched, whole (what `attest` signs for).
    #[serde(skip)]
    pub matched_entries: Vec<Entry>,
}

fn kind(entry: &Entry) -> &'static str {
    if entry.is_run() {
        "run"
    } else {
        "unit"
    }
}

/// Sets the artifacts `rebuilt` against `signed` (the index's entries for
/// the same crates), for a rebuild with compiler `rustc` (`release
/// commit-hash`) for `target` on `host`.
pub fn compare(rebuilt: &[Entry], signed: &[Entry], rustc: &str, target: &str, host: &str) -> Report {
    let mut report = Report::default();
    let mut made: BTreeSet<&str> = BTreeSet::new();
    for local in rebuilt {
        let Some(theirs) = signed.iter().find(|e| e.key == local.key && e.name == local.name) else {
            report.not_in_index += 1;
            continue;
        };
        made.insert(theirs.key.as_str());
        let compared = Compared {
            name: local.name.clone(),
            version: local.version.clone(),
            kind: kind(local),
            key: local.key.clone(),
            cid: theirs.cid.clone(),
            rebuilt_cid: local.cid.clone(),
            differences: Vec::new(),
        };
        if theirs.sha256 == local.sha256 && theirs.cid == local.cid {
            report.matched.push(compared);
            report.matched_entries.push(theirs.clone());
        } else {
            report.mismatched.push(compared);
        }
    }
    let versions: BTreeSet<(&str, &str)> = rebuilt.iter().map(|e| (e.name.as_str(), e.version.as_str())).collect();
    for entry in signed {
        if made.contains(entry.key.as_str()) || !versions.contains(&(entry.name.as_str(), entry.version.as_str())) {
            continue;
        }
        let reason = if entry.rustc != rustc {
            format!("built with rustc {}, this machine has {rustc}", entry.rustc)
        } else if entry.target != target {
            format!("built for {}, rebuilt for {target}", entry.target)
        } else if entry.run.as_ref().is_some_and(|r| r.host != host) {
            "a build-script run on another host".to_string()
        } else if entry.is_run() {
            "a build-script run whose inputs differ here (its declared variables, files or C tools)".to_string()
        } else {
            "another profile or feature set than this project's build".to_string()
        };
        report.not_rebuilt.push(NotRebuilt {
            name: entry.name.clone(),
            version: entry.version.clone(),
            key: entry.key.clone(),
            reason,
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::entry::tests::sample;

    #[test]
    fn each_artifact_is_matched_mismatched_or_said_why_not_rebuilt() {
        let rustc = sample("a", "1.0.0", "01").rustc;
        let target = sample("a", "1.0.0", "01").target;
        let same = sample("serde", "1.0.0", "01");
        let swapped = Entry { sha256: "c".repeat(64), ..sample("tokio", "1.0.0", "02") };
        let rebuilt = vec![same.clone(), sample("tokio", "1.0.0", "02"), sample("serde", "1.0.0", "09")];
        let signed = vec![
            same.clone(),
            swapped,
            Entry { rustc: "1.80.0 abc".into(), ..sample("serde", "1.0.0", "03") },
            Entry { target: "aarch64-apple-darwin".into(), ..sample("serde", "1.0.0", "04") },
            sample("serde", "1.0.0", "05"),
            sample("rand", "0.8.5", "06"),
        ];
        let report = compare(&rebuilt, &signed, &rustc, &target, "x86_64-unknown-linux-gnu");
        assert_eq!(report.matched.iter().map(|c| c.key.as_str()).collect::<Vec<_>>(), ["01"]);
        assert_eq!(report.mismatched.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["tokio"]);
        assert_eq!(report.not_in_index, 1, "serde 09 is in no entry");
        let why: Vec<(&str, &str)> = report.not_rebuilt.iter().map(|n| (n.key.as_str(), n.reason.as_str())).collect();
        assert_eq!(why.len(), 3, "rand was not rebuilt at all: not listed; {why:?}");
        assert!(why[0].1.contains("rustc 1.80.0") && why[1].1.contains("aarch64") && why[2].1.contains("feature"));
    }
}
