//! Index entries and the shard files that hold them.
//!
//! An entry describes one artifact: which crate, built how, stored under
//! which CID with which digest. A shard file holds every entry of one crate,
//! one JSON object per line, sorted by version and cache key, one entry per
//! cache key, so that the same set of entries always gives the same bytes
//! (and the same CID).

use super::manifest::IndexKind;
use super::run::RunInfo;
pub use super::shard::{decode_shard, encode_shard, merge, read_shard, ReadShard, ShardItem};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

/// The kind of a file an artifact contains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputKind {
    /// A Rust library (`.rlib`).
    Rlib,
    /// Crate metadata (`.rmeta`).
    Rmeta,
    /// A proc-macro shared library.
    ProcMacro,
    /// A dynamic library (`dylib`, `cdylib`).
    Dylib,
    /// A static library.
    Staticlib,
    /// An executable (a binary or a build script).
    Bin,
    /// A dep-info (`.d`) file.
    DepInfo,
    /// Anything else rustc wrote.
    Other,
}

/// One file inside an artifact.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Output {
    /// The file name as rustc wrote it.
    pub name: String,
    /// What it is.
    pub kind: OutputKind,
}

/// The `source` of a crates.io crate's entry, as in `Cargo.lock`: what the
/// wrapper records and what `publish` sends by default.
pub const CRATES_IO_SOURCE: &str = "registry+https://github.com/rust-lang/crates.io-index";

/// The `source` of a vendored crate's entry (`cargo vendor`): its registry
/// is not known from the vendor directory; the checksum says what it is.
pub const VENDORED_SOURCE: &str = "vendored";

/// One artifact in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The crate name as published.
    pub name: String,
    /// The crate version.
    pub version: String,
    /// The package source, as in Cargo.lock (`registry+https://...`).
    pub source: String,
    /// The `.crate` checksum from Cargo.lock (sha256, hex).
    pub checksum: String,
    /// The cache key (hex) that a build looks the artifact up by.
    pub key: String,
    /// The artifact's CID (a UnixFS file holding the packed outputs).
    pub cid: String,
    /// The artifact's size in bytes.
    pub size: u64,
    /// The size of the archive the artifact decompresses to, in bytes: a
    /// reader decompresses no further, so a pack cannot expand past what
    /// its publisher signed.
    pub unpacked_size: u64,
    /// The artifact's sha256 (hex), checked after download.
    pub sha256: String,
    /// The files the artifact contains.
    pub outputs: Vec<Output>,
    /// The compiler identity (the `release` and `commit-hash` of `rustc -vV`).
    pub rustc: String,
    /// The target triple.
    pub target: String,
    /// Codegen settings that shape the artifact (opt-level, debuginfo, ...).
    #[serde(default)]
    pub profile: BTreeMap<String, String>,
    /// Enabled features, sorted.
    #[serde(default)]
    pub features: Vec<String>,
    /// Crate types (`lib`, `proc-macro`, `bin`, ...).
    pub crate_types: Vec<String>,
    /// What it was built against: dependency name to artifact sha256.
    #[serde(default)]
    pub deps: BTreeMap<String, String>,
    /// When it was built (seconds since the Unix epoch).
    pub built_at: u64,
    /// The IPNS name (k51...) of the key that built it.
    pub builder: String,
    /// How long the compilation (or the run) took where it was built, in
    /// milliseconds, at most [`MAX_BUILD_MS`]: what a hit saves, for the
    /// statistics only. Absent in entries of index format 2 (and when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub build_ms: u64,
    /// The named inputs of the key, each with its digest (or, for short
    /// values, the value): what a miss is compared with, input by input,
    /// to say which one differed. Empty in entries of index format 2.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
    /// For a build-script run: its pre-key, host and declared inputs. Such
    /// an entry names no outputs and is never a compilation's hit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
}

/// Why an entry or shard was refused.
#[derive(Debug, Error)]
pub enum EntryError {
    /// A line is not a valid entry.
    #[error("line {line}: {source}")]
    Json {
        /// The 1-based line number.
        line: usize,
        /// The parse error.
        source: serde_json::Error,
    },
    /// A field has an invalid value.
    #[error("entry for {name} {version}: {what}")]
    Invalid {
        /// The crate.
        name: String,
        /// Its version.
        version: String,
        /// What is wrong.
        what: String,
    },
    /// An entry in a shard belongs to another crate.
    #[error("entry for {found} found in the shard of {expected}")]
    WrongShard {
        /// The shard's crate.
        expected: String,
        /// The entry's crate.
        found: String,
    },
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

impl Entry {
    /// Whether this entry is a build-script run (not a compilation).
    pub fn is_run(&self) -> bool {
        self.run.is_some()
    }

    /// Checks the fields a reader relies on.
    pub fn validate(&self) -> Result<(), EntryError> {
        let invalid = |what: &str| EntryError::Invalid {
            name: self.name.clone(),
            version: self.version.clone(),
            what: what.to_string(),
        };
        super::layout::shard_path(&self.name).map_err(|e| invalid(&e.to_string()))?;
        if !is_hex(&self.sha256, 64) {
            return Err(invalid("sha256 must be 64 lower-case hex digits"));
        }
        if !is_hex(&self.checksum, 64) {
            return Err(invalid("checksum must be 64 lower-case hex digits"));
        }
        if self.key.is_empty() || !self.key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid("key must be hex"));
        }
        // Only the canonical text form, which is what names the artifact's
        // files here (never `/ipfs/...`, another base or white space).
        let cid = crate::formats::block::parse_cid(&self.cid).map_err(|e| invalid(&e.to_string()))?;
        if cid.to_string() != self.cid {
            return Err(invalid(&format!("cid {:?} must be written in its canonical form, {cid}", self.cid)));
        }
        if self.build_ms > MAX_BUILD_MS {
            return Err(invalid(&format!("build_ms {} is over {MAX_BUILD_MS} (a week)", self.build_ms)));
        }
        if let Some(run) = &self.run {
            run.validate().map_err(|e| invalid(&e))?;
            if !is_hex(&self.key, 64) {
                return Err(invalid("a run's key must be 64 lower-case hex digits"));
            }
            if !self.outputs.is_empty() {
                return Err(invalid("a run entry names no outputs"));
            }
        }
        Ok(())
    }
}

/// The longest build time an entry may name: a week, in milliseconds.
pub const MAX_BUILD_MS: u64 = 7 * 24 * 3600 * 1000;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ShardItem for Entry {
    const KIND: IndexKind = IndexKind::Artifacts;

    fn crate_name(&self) -> &str {
        &self.name
    }

    fn validate(&self) -> Result<(), EntryError> {
        Entry::validate(self)
    }

    fn order(&self) -> (&str, &str, &str) {
        (&self.version, &self.key, "")
    }

    fn same(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid entry for tests.
    pub(crate) fn sample(name: &str, version: &str, key: &str) -> Entry {
        Entry {
            name: name.into(),
            version: version.into(),
            source: "registry+https://github.com/rust-lang/crates.io-index".into(),
            checksum: "a".repeat(64),
            key: key.into(),
            cid: "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4".into(),
            size: 12,
            unpacked_size: 3072,
            sha256: "b".repeat(64),
            outputs: vec![Output { name: format!("lib{name}.rlib"), kind: OutputKind::Rlib }],
            rustc: "1.95.0 59807616e1fa2540724bfbac14d7976d7e4a3860".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            profile: BTreeMap::from([("opt-level".into(), "0".into())]),
            features: vec!["std".into()],
            crate_types: vec!["lib".into()],
            deps: BTreeMap::new(),
            built_at: 1_700_000_000,
            build_ms: 0,
            builder: "k51qzi5uqu5dlkw8pxuw9qmqayfdeh4kfebhmreauqdc6a7c3y7d5i9fi8mk9w".into(),
            inputs: BTreeMap::new(),
            run: None,
        }
    }

    #[test]
    fn shard_bytes_do_not_depend_on_entry_order() {
        let a = sample("serde", "1.0.0", "01");
        let b = sample("serde", "1.0.1", "02");
        let c = sample("serde", "1.0.0", "03");
        let one = encode_shard(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(one, encode_shard(&[c.clone(), b.clone(), a.clone(), a.clone()]));
        assert_eq!(decode_shard::<Entry>("serde", &one).unwrap(), vec![a, c, b]);
    }

    #[test]
    fn merge_is_idempotent() {
        let mut entries = vec![sample("serde", "1.0.0", "01")];
        assert!(!merge(&mut entries, &[sample("serde", "1.0.0", "01")]));
        assert!(merge(&mut entries, &[sample("serde", "1.0.1", "02")]));
        assert_eq!(entries.len(), 2);
    }

    #[test]
    fn refuses_foreign_and_malformed_entries() {
        let shard = encode_shard(&[sample("serde", "1.0.0", "01")]);
        assert!(matches!(decode_shard::<Entry>("tokio", &shard), Err(EntryError::WrongShard { .. })));
        let mut bad = sample("serde", "1.0.0", "01");
        bad.sha256 = "zz".into();
        let err = decode_shard::<Entry>("serde", &encode_shard(&[bad])).unwrap_err().to_string();
        assert!(err.contains("sha256"), "{err}");
        let err = decode_shard::<Entry>("serde", b"{\"name\":\"serde\"}\n").unwrap_err().to_string();
        assert!(err.starts_with("line 1:"), "{err}");
        let mut extra = String::from_utf8(shard).unwrap();
        extra.insert_str(1, "\"surprise\":1,");
        assert!(decode_shard::<Entry>("serde", extra.as_bytes()).is_err(), "unknown fields are refused");
    }

    #[test]
    fn a_build_time_over_a_week_is_refused_and_zero_is_not_written() {
        let good = Entry { build_ms: MAX_BUILD_MS, ..sample("serde", "1.0.0", "01") };
        assert!(good.validate().is_ok());
        let lying = Entry { build_ms: u64::MAX, ..good.clone() };
        assert!(lying.validate().unwrap_err().to_string().contains("build_ms"));
        let zero = Entry { build_ms: 0, ..good };
        let line = String::from_utf8(encode_shard(&[zero])).unwrap();
        assert!(!line.contains("build_ms"), "format 2 readers' bytes: {line}");
    }

    #[test]
    fn a_cid_not_in_its_canonical_form_is_refused() {
        let good = sample("serde", "1.0.0", "01");
        assert!(good.validate().is_ok());
        let cid = good.cid.clone();
        let other_base =
            cid::Cid::try_from(cid.as_str()).unwrap().to_string_of_base(cid::multibase::Base::Base58Btc).unwrap();
        for bad in [format!("/ipfs/{cid}"), format!("ipfs://{cid}"), format!(" {cid}\n"), other_base] {
            let entry = Entry { cid: bad.clone(), ..good.clone() };
            let err = entry.validate().unwrap_err().to_string();
            assert!(err.contains("canonical form") && err.contains(&cid), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_reader_leaves_out_only_the_entries_it_cannot_understand() {
        let good = sample("serde", "1.0.0", "01");
        let shard = encode_shard(&[good.clone(), sample("serde", "1.0.1", "02")]);
        let mut text = String::from_utf8(shard).unwrap();
        // A field a newer publisher added, on the second entry only.
        let second = text.find("\n").unwrap() + 2;
        text.insert_str(second, "\"attestations\":[],");
        text.push_str(&String::from_utf8(encode_shard(&[sample("tokio", "1.0.0", "03")])).unwrap());
        let read = read_shard::<Entry>("serde", text.as_bytes());
        assert_eq!(read.entries, [good]);
        let reasons: Vec<&str> = read.skipped.iter().map(|(_, why)| why.as_str()).collect();
        assert_eq!(read.skipped.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [2, 3]);
        assert!(reasons[0].contains("attestations") && reasons[1].contains("tokio"), "{reasons:?}");
        // A publisher refuses the same shard whole.
        assert!(decode_shard::<Entry>("serde", text.as_bytes()).is_err());
    }

    #[test]
    fn an_entry_without_a_signed_unpacked_size_is_left_out() {
        // As a publisher of index format 1 wrote it.
        let good = sample("serde", "1.0.0", "01");
        let mut text = String::from_utf8(encode_shard(&[sample("serde", "1.0.1", "02")])).unwrap();
        text = text.replace("\"unpacked_size\":3072,", "");
        text.push_str(&String::from_utf8(encode_shard(std::slice::from_ref(&good))).unwrap());
        let read = read_shard::<Entry>("serde", text.as_bytes());
        assert_eq!(read.entries, [good]);
        assert!(read.skipped[0].1.contains("unpacked_size"), "{:?}", read.skipped);
        assert!(decode_shard::<Entry>("serde", text.as_bytes()).is_err());
    }
}
