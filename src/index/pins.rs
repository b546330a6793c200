//! The store's pin set: the roots it keeps on purpose, each with why.
//!
//! `pins.json` in the store directory holds the pins made explicitly: the
//! index versions a mirror keeps (the newest, and with `--keep-versions N`
//! the N newest), and what the user pinned (`cargo ipfs pin add`). The
//! roots kept implicitly (the newest verified version of each trusted
//! index, the journaled artifacts) are derived from the files that already
//! say so (`seen.json`, the journal) where the whole set is assembled
//! (`pinning::kept`), so that they can never disagree.
//!
//! A pin of an index version keeps the version's tree and every artifact
//! its entries name; a pin of any other CID keeps the DAG under it.

use serde::{Deserialize, Serialize};

/// Why a root is pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum PinReason {
    /// A version of an index this store mirrors.
    Mirror {
        /// The index name.
        index: String,
        /// The version's sequence number.
        seq: u64,
    },
    /// Pinned by the user.
    User {
        /// The name the user gave it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

/// One explicit pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The root.
    pub cid: String,
    /// Why.
    #[serde(flatten)]
    pub reason: PinReason,
    /// When it was pinned (seconds since the Unix epoch).
    pub pinned_at: u64,
}

/// `pins.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinFile {
    /// The pins, in the order they were made.
    #[serde(default)]
    pub pins: Vec<Pin>,
}

impl PinFile {
    /// The versions of `index` this store mirrors, newest first.
    pub fn mirrored(&self, index: &str) -> Vec<&Pin> {
        let mut versions: Vec<&Pin> = self
            .pins
            .iter()
            .filter(|p| matches!(&p.reason, PinReason::Mirror { index: i, .. } if i == index))
            .collect();
        versions.sort_by_key(|p| std::cmp::Reverse(p.mirror_seq()));
        versions
    }

    /// Records that version `seq` of `index` at `cid` is mirrored whole,
    /// and keeps only the `keep` newest mirrored versions of it (at least
    /// one). Returns the roots unpinned.
    pub fn mirror(&mut self, index: &str, seq: u64, cid: &str, keep: usize, now: u64) -> Vec<String> {
        if !self.mirrored(index).iter().any(|p| p.mirror_seq() == seq) {
            let reason = PinReason::Mirror { index: index.to_string(), seq };
            self.pins.push(Pin { cid: cid.to_string(), reason, pinned_at: now });
        }
        let kept: Vec<u64> = self.mirrored(index).iter().take(keep.max(1)).map(|p| p.mirror_seq()).collect();
        let mut dropped = Vec::new();
        self.pins.retain(|p| match &p.reason {
            PinReason::Mirror { index: i, seq } if i == index && !kept.contains(seq) => {
                dropped.push(p.cid.clone());
                false
            }
            _ => true,
        });
        dropped
    }

    /// Adds a user pin of `cid`; false when it is pinned by the user already.
    pub fn add_user(&mut self, cid: &str, name: Option<String>, now: u64) -> bool {
        if self.pins.iter().any(|p| p.cid == cid && matches!(p.reason, PinReason::User { .. })) {
            return false;
        }
        self.pins.push(Pin { cid: cid.to_string(), reason: PinReason::User { name }, pinned_at: now });
        true
    }

    /// Removes the user pin of `cid`; false when there was none.
    pub fn remove_user(&mut self, cid: &str) -> bool {
        let before = self.pins.len();
        self.pins.retain(|p| !(p.cid == cid && matches!(p.reason, PinReason::User { .. })));
        self.pins.len() != before
    }
}

impl Pin {
    /// The sequence number of a mirrored version; 0 for a user pin.
    pub fn mirror_seq(&self) -> u64 {
        match self.reason {
            PinReason::Mirror { seq, .. } => seq,
            PinReason::User { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mirror_keeps_its_newest_versions_and_unpins_the_rest() {
        let mut file = PinFile::default();
        file.add_user("bafyuser", Some("mine".into()), 1);
        for seq in 1..=4 {
            let dropped = file.mirror("idx", seq, &format!("root{seq}"), 2, seq);
            let expected: Vec<String> = if seq > 2 { vec![format!("root{}", seq - 2)] } else { vec![] };
            assert_eq!(dropped, expected);
        }
        // Another index's versions and the user's pin are untouched.
        file.mirror("other", 9, "other9", 1, 5);
        let roots: Vec<&str> = file.mirrored("idx").iter().map(|p| p.cid.as_str()).collect();
        assert_eq!(roots, ["root4", "root3"]);
        assert_eq!(
            file.mirror("idx", 4, "root4", 2, 6),
            Vec::<String>::new(),
            "a version mirrored again changes nothing"
        );
        assert_eq!(file.pins.len(), 4);
        // keep 0 still keeps the newest.
        assert_eq!(file.mirror("idx", 4, "root4", 0, 7), ["root3"]);
    }

    #[test]
    fn user_pins_are_added_once_and_removed_alone() {
        let mut file = PinFile::default();
        file.mirror("idx", 1, "bafyx", 1, 1);
        assert!(file.add_user("bafyx", None, 2));
        assert!(!file.add_user("bafyx", Some("again".into()), 3));
        assert!(file.remove_user("bafyx"));
        assert!(!file.remove_user("bafyx"));
        assert_eq!(file.mirrored("idx").len(), 1, "removing the user's pin leaves the mirror's");
        let json = serde_json::to_string(&file).unwrap();
        assert!(json.contains(r#""reason":"mirror","index":"idx","seq":1"#), "{json}");
        assert_eq!(serde_json::from_str::<PinFile>(&json).unwrap(), file);
    }
}
