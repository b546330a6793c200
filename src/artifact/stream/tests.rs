use super::*;
use crate::artifact::pack::{file_digest, pack, unpack, PackedFile, PACK_VERSION};

fn meta() -> Meta {
    Meta { stdout: String::new(), stderr: "warning: x".into(), status: 0, env_deps: vec![], format: PACK_VERSION }
}

fn files() -> Vec<PackedFile> {
    vec![
        PackedFile { name: "liba-1.rlib".into(), executable: false, bytes: vec![3u8; 700_000].into() },
        PackedFile { name: "a-1".into(), executable: true, bytes: b"\x7fELF".to_vec().into() },
        PackedFile { name: "a-1.d".into(), executable: false, bytes: b"a.rs:\n".to_vec().into() },
    ]
}

fn stream(packed: &[u8], limit: u64) -> (tempfile::TempDir, anyhow::Result<(Meta, Vec<FileInfo>)>) {
    let dir = tempfile::tempdir().unwrap();
    let result = unpack_stream(packed, limit, dir.path());
    (dir, result)
}

fn refused(packed: &[u8], limit: u64) -> PackError {
    let (_dir, result) = stream(packed, limit);
    let err = result.unwrap_err();
    match err.downcast::<PackError>() {
        Ok(e) => e,
        Err(other) => panic!("not a pack error: {other:#}"),
    }
}

#[test]
fn streaming_gives_what_unpack_gives() {
    let packed = pack(&meta(), &files());
    let (dir, result) = stream(&packed, 1 << 20);
    let (got_meta, infos) = result.unwrap();
    let (want_meta, want) = unpack(&packed, 1 << 20).unwrap();
    assert_eq!(got_meta, want_meta);
    assert_eq!(infos.len(), want.len());
    for (info, file) in infos.iter().zip(&want) {
        assert_eq!(info.name, file.name);
        assert_eq!(info.executable, file.executable);
        assert_eq!(info.size, file.bytes.len() as u64);
        assert_eq!(info.sha256, file_digest(&file.bytes));
        assert_eq!(std::fs::read(dir.path().join(&info.name)).unwrap(), file.bytes.to_vec());
    }
}

#[test]
fn what_unpack_refuses_streaming_refuses() {
    let packed = pack(&meta(), &files());
    assert!(matches!(refused(b"not zstd at all", 1 << 20), PackError::NotZstd));
    let mut trailing = packed.clone();
    trailing.extend_from_slice(b"more");
    assert!(matches!(refused(&trailing, 1 << 20), PackError::TrailingData { extra: 4 }));
    let truncated = &packed[..packed.len() - 10];
    assert!(matches!(refused(truncated, 1 << 20), PackError::Corrupt { .. } | PackError::Tar { .. }));
    let mut flipped = packed.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(matches!(refused(&flipped, 1 << 20), PackError::Corrupt { .. }), "the frame's checksum is checked");
    // Over the limit: stops there, having written no more than it.
    let (dir, result) = stream(&packed, 100_000);
    assert!(matches!(result.unwrap_err().downcast::<PackError>(), Ok(PackError::TooLarge { limit: 100_000 })));
    let written: u64 = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
    assert!(written <= 100_000, "{written}");
    let many: Vec<PackedFile> = (0..=MAX_FILES)
        .map(|i| PackedFile { name: format!("f{i}"), executable: false, bytes: b"x".to_vec().into() })
        .collect();
    assert!(matches!(refused(&pack(&meta(), &many), 1 << 20), PackError::TooManyFiles));
}

#[test]
fn hidden_data_after_the_archive_is_refused() {
    // A pack whose archive has bytes after its end-of-archive marker.
    let tar = zstd::decode_all(&pack(&meta(), &files())[..]).unwrap();
    let mut hidden = tar.clone();
    hidden.extend_from_slice(&[0u8; 512]);
    hidden.extend_from_slice(b"hidden");
    let recompressed = zstd::encode_all(&hidden[..], 3).unwrap();
    assert!(matches!(refused(&recompressed, 1 << 22), PackError::Tar { .. }));
    // Cut short of its marker.
    let short = zstd::encode_all(&tar[..tar.len() - 1024], 3).unwrap();
    assert!(matches!(refused(&short, 1 << 22), PackError::Tar { .. }));
    // The same archive as it was: accepted, also by a plain encoder.
    let (_dir, result) = stream(&zstd::encode_all(&tar[..], 3).unwrap(), 1 << 22);
    result.unwrap();
}

#[test]
fn a_frame_asking_for_a_larger_window_is_refused() {
    let tar = zstd::decode_all(&pack(&meta(), &files())[..]).unwrap();
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    encoder.window_log(MAX_WINDOW_LOG + 4).unwrap();
    encoder.long_distance_matching(true).unwrap();
    std::io::Write::write_all(&mut encoder, &tar).unwrap();
    let wide = encoder.finish().unwrap();
    assert!(unpack(&wide, 1 << 22).is_ok(), "an honest frame, only with a wide window");
    assert!(matches!(refused(&wide, 1 << 22), PackError::Corrupt { .. }));
}

#[test]
fn a_copy_is_made_only_from_the_bytes_named() {
    use crate::formats::unixfs::{import_bytes, ImportParams};
    use crate::store::{BlockStore, DiskStore};
    let dir = tempfile::tempdir().unwrap();
    let store = DiskStore::open(dir.path()).unwrap();
    let packed = pack(&meta(), &files());
    let (file, blocks) = import_bytes(ImportParams::UNIXFS_V1_2025, &packed).unwrap();
    for block in &blocks {
        store.put(block).unwrap();
    }
    let unpacked = Unpacked::new(dir.path());
    let cid = file.cid.to_string();
    let digest = file_digest(&packed);
    let mut get = |c: &cid::Cid| store.get_required(c);
    let lying = Packed { cid: &cid, size: packed.len() as u64, sha256: &"0".repeat(64), unpacked_limit: 1 << 22 };
    let err = stream_into_copy(&unpacked, &lying, &mut get, &mut |_, _| Ok(())).unwrap_err();
    assert!(matches!(err, Unfiled::Bytes(_)), "{err:?}");
    assert!(unpacked.get(&cid).is_none(), "nothing left");
    let named = Packed { sha256: &digest, ..lying };
    let err =
        stream_into_copy(&unpacked, &named, &mut get, &mut |_, _| anyhow::bail!("not these outputs")).unwrap_err();
    assert!(matches!(err, Unfiled::Content(_)), "{err:?}");
    assert!(unpacked.get(&cid).is_none(), "nothing left");
    let copy = stream_into_copy(&unpacked, &named, &mut get, &mut |_, _| Ok(())).unwrap();
    assert_eq!(std::fs::read(copy.file("liba-1.rlib")).unwrap(), vec![3u8; 700_000]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("wrapper/unpacked")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only the copy: {leftovers:?}");
}
