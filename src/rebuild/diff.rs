//! What differs between a signed artifact and its rebuild: the packed file
//! lists, sizes, and which file's bytes differ.

use crate::artifact::pack::{unpack, PackedFile};
use crate::artifact::run_pack::unpack_run;
use crate::artifact::MAX_ARTIFACT;
use std::collections::BTreeMap;

/// The files of a packed artifact (a unit's, or a run's when `run`).
pub fn files(packed: &[u8], run: bool) -> anyhow::Result<BTreeMap<String, PackedFile>> {
    let files = match run {
        true => unpack_run(packed, MAX_ARTIFACT)?.1,
        false => unpack(packed, MAX_ARTIFACT)?.1,
    };
    Ok(files.into_iter().map(|f| (f.name.clone(), f)).collect())
}

/// One line per difference between the signed files and the rebuilt ones.
pub fn differences(signed: &BTreeMap<String, PackedFile>, rebuilt: &BTreeMap<String, PackedFile>) -> Vec<String> {
    let mut lines = Vec::new();
    for (name, theirs) in signed {
        match rebuilt.get(name) {
            None => lines.push(format!("{name}: only in the signed artifact ({} bytes)", theirs.bytes.len())),
            Some(ours) if ours.bytes.len() != theirs.bytes.len() => {
                lines.push(format!("{name}: {} bytes signed, {} bytes rebuilt", theirs.bytes.len(), ours.bytes.len()))
            }
            Some(ours) if ours.bytes != theirs.bytes => {
                let at = ours.bytes.iter().zip(theirs.bytes.iter()).position(|(a, b)| a != b).unwrap_or(0);
                lines.push(format!("{name}: same size ({} bytes), bytes differ from offset {at}", ours.bytes.len()));
            }
            Some(ours) if ours.executable != theirs.executable => lines.push(format!("{name}: file mode differs")),
            Some(_) => {}
        }
    }
    for (name, ours) in rebuilt {
        if !signed.contains_key(name) {
            lines.push(format!("{name}: only in the rebuild ({} bytes)", ours.bytes.len()));
        }
    }
    if lines.is_empty() {
        lines.push("the files are the same; the packing differs".to_string());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, bytes: &[u8]) -> (String, PackedFile) {
        (name.to_string(), PackedFile { name: name.to_string(), executable: false, bytes: bytes.to_vec().into() })
    }

    #[test]
    fn names_every_file_that_differs_and_how() {
        let signed: BTreeMap<_, _> =
            [file("liba.rlib", b"abcd"), file("a.d", b"x"), file("gone.rmeta", b"1"), file("same", b"s")].into();
        let rebuilt: BTreeMap<_, _> =
            [file("liba.rlib", b"abXd"), file("a.d", b"xy"), file("new.o", b"22"), file("same", b"s")].into();
        let lines = differences(&signed, &rebuilt);
        assert_eq!(
            lines,
            [
                "a.d: 1 bytes signed, 2 bytes rebuilt",
                "gone.rmeta: only in the signed artifact (1 bytes)",
                "liba.rlib: same size (4 bytes), bytes differ from offset 2",
                "new.o: only in the rebuild (2 bytes)",
            ]
        );
        assert_eq!(differences(&signed, &signed), ["the files are the same; the packing differs"]);
    }
}
