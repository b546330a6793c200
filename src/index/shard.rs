//! Shard files, whatever they hold: one JSON object per line, every line
//! of one crate, sorted and without duplicates, so that the same set of
//! items always gives the same bytes (and the same CID). An artifact
//! index's shards hold [`Entry`](super::Entry) lines, a rebuilder's hold
//! [`Statement`](super::attest::Statement) lines; [`ShardItem`] is what
//! both give the tree code.

use super::entry::EntryError;
use super::manifest::IndexKind;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One line of a shard file.
pub trait ShardItem: Serialize + DeserializeOwned + Clone {
    /// The kind of index whose shards hold these lines.
    const KIND: IndexKind;
    /// The crate whose shard holds it.
    fn crate_name(&self) -> &str;
    /// Checks the fields a reader relies on.
    fn validate(&self) -> Result<(), EntryError>;
    /// Where it sorts within its shard: version, then what tells apart
    /// the items of one version (a total order over distinct items).
    fn order(&self) -> (&str, &str, &str);
    /// Whether `other` stands for the same thing (one line each).
    fn same(&self, other: &Self) -> bool;
}

/// Encodes a crate's items as a shard file: sorted, one per identity.
pub fn encode_shard<T: ShardItem>(items: &[T]) -> Vec<u8> {
    let mut sorted: Vec<&T> = items.iter().collect();
    sorted.sort_by(|a, b| a.order().cmp(&b.order()));
    sorted.dedup_by(|a, b| a.same(b));
    let mut out = Vec::new();
    for item in sorted {
        serde_json::to_writer(&mut out, item).expect("shard lines serialize");
        out.push(b'\n');
    }
    out
}

/// A shard as a reader takes it: the lines it understands, and why each
/// other line was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadShard<T = super::Entry> {
    /// The valid items of the shard's crate.
    pub entries: Vec<T>,
    /// For each line left out: its number and why (an unknown field, a
    /// field missing or malformed, another crate's line).
    pub skipped: Vec<(usize, String)>,
}

impl<T> Default for ReadShard<T> {
    fn default() -> Self {
        ReadShard { entries: Vec::new(), skipped: Vec::new() }
    }
}

/// Decodes a shard file of crate `name` for reading: a line this build
/// cannot fully understand (a field added by a newer publisher within the
/// same index format, a malformed one) is left out and said why, never
/// used, while the shard's other lines stay usable. A publisher decodes
/// with [`decode_shard`] instead, which refuses the shard, so that a
/// version it writes never drops what it did not understand.
pub fn read_shard<T: ShardItem>(name: &str, bytes: &[u8]) -> ReadShard<T> {
    let mut shard = ReadShard::default();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match decode_line(name, i + 1, line) {
            Ok(item) => shard.entries.push(item),
            Err(e) => shard.skipped.push((i + 1, e.to_string())),
        }
    }
    shard
}

fn decode_line<T: ShardItem>(name: &str, number: usize, line: &[u8]) -> Result<T, EntryError> {
    let item: T = serde_json::from_slice(line).map_err(|source| EntryError::Json { line: number, source })?;
    if !item.crate_name().eq_ignore_ascii_case(name) {
        return Err(EntryError::WrongShard { expected: name.to_string(), found: item.crate_name().to_string() });
    }
    item.validate()?;
    Ok(item)
}

/// Decodes a shard file of crate `name`, validating every line; any line
/// it cannot fully understand refuses the shard.
pub fn decode_shard<T: ShardItem>(name: &str, bytes: &[u8]) -> Result<Vec<T>, EntryError> {
    let mut out = Vec::new();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push(decode_line(name, i + 1, line)?);
    }
    Ok(out)
}

/// Merges `new` into `old` (an item already present keeps its old line,
/// so publishing the same thing twice changes nothing). Returns whether
/// anything was added.
pub fn merge<T: ShardItem>(old: &mut Vec<T>, new: &[T]) -> bool {
    let mut changed = false;
    for item in new {
        if !old.iter().any(|e| e.same(item)) {
            old.push(item.clone());
            changed = true;
        }
    }
    changed
}
