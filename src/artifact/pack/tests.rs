//! Tests for artifact packing: determinism, round trips, the exact header
//! fields, and a crafted archive for every refusal.

use super::*;
use tar::{EntryType, Header};

/// Generous for every archive here except the ones testing the limit.
const LIMIT: u64 = 64 << 20;

fn meta() -> Meta {
    Meta {
        stdout: String::new(),
        stderr: "warning: unused variable: `x`\n --> src/lib.rs:1:5\n".to_owned(),
        status: 0,
        env_deps: vec![("CARGO_PKG_NAME".to_owned(), Some("demo".to_owned())), ("DEMO_UNSET".to_owned(), None)],
        format: PACK_VERSION,
    }
}

fn file(name: &str, executable: bool, bytes: &[u8]) -> PackedFile {
    PackedFile { name: name.to_owned(), executable, bytes: bytes.to_vec().into() }
}

/// Bytes that do not compress away, so that large files span many zstd blocks.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

/// A 150-byte name, too long for a tar header's 100-byte name field.
fn long_name() -> String {
    format!("lib{}-0123456789abcdef.rlib", "a".repeat(126))
}

/// Outputs shaped like a real rustc run, given out of order.
fn sample_files() -> Vec<PackedFile> {
    vec![
        file("libdemo-0123456789abcdef.rmeta", false, b"rust metadata"),
        file("build_script_build-0123456789abcdef", true, b"\x7fELF pretend executable"),
        file("demo-0123456789abcdef.d", false, b"/src/lib.rs:\n"),
        file("empty", false, b""),
        file(&long_name(), false, &noise(3000, 7)),
        file("libdemo-0123456789abcdef.rlib", false, &noise(1000, 1)),
    ]
}

fn sorted(mut files: Vec<PackedFile>) -> Vec<PackedFile> {
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

fn decompressed(artifact: &[u8]) -> Vec<u8> {
    zstd::decode_all(artifact).unwrap()
}

// ---- determinism and round trips ----

#[test]
fn packing_twice_gives_identical_bytes() {
    let mut files = sample_files();
    files.push(file("big.rlib", false, &noise(5 << 20, 3)));
    assert_eq!(pack(&meta(), &files), pack(&meta(), &files));
}

#[test]
fn the_order_of_files_does_not_change_the_bytes() {
    let files = sample_files();
    let expected = pack(&meta(), &files);
    let mut reversed = files.clone();
    reversed.reverse();
    assert_eq!(pack(&meta(), &reversed), expected);
    let mut rotated = files.clone();
    rotated.rotate_left(2);
    assert_eq!(pack(&meta(), &rotated), expected);
    assert_eq!(pack(&meta(), &sorted(files)), expected);
}

/// Pins the whole format: tar flavour, header fields, JSON layout, zstd level
/// and parameters, and the bundled libzstd. If this fails, artifacts written
/// by this build differ from those already published, so every CID changes:
/// bump `PACK_VERSION` along with the new digest.
#[test]
fn known_artifact_digest() {
    let artifact = pack(&meta(), &sample_files());
    assert_eq!(file_digest(&artifact), "b40fdc60d967efb3c7c4119f68ce57b8bedfeb963693675b1c05ecf4cf5a5b2e");
}

#[test]
fn round_trip_keeps_meta_names_modes_and_bytes() {
    let mut files = sample_files();
    files.push(file("big.rlib", false, &noise(5 << 20, 3)));
    files.push(file("ünïcödé file name.so", true, b"\0\x01\xff"));
    let (meta_back, files_back) = unpack(&pack(&meta(), &files), LIMIT).unwrap();
    assert_eq!(meta_back, meta());
    assert_eq!(files_back, sorted(files));
}

/// Many generated artifacts (names of every length up to the limit, modes,
/// sizes, environment values, exit codes), each from a seed printed on
/// failure: unpack gives back what pack was given, and one flipped byte is
/// refused or unpacks to the same.
#[test]
fn generated_artifacts_round_trip_and_a_flipped_byte_never_unpacks_as_another() {
    for seed in 1..=30u64 {
        let mut n = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            n ^= n << 13;
            n ^= n >> 7;
            n ^= n << 17;
            n
        };
        let count = next() % 6;
        let files: Vec<PackedFile> = (0..count)
            .map(|i| {
                let name_len = 1 + (next() % 200) as usize;
                let name: String =
                    (0..name_len).map(|j| if j == 0 { 'f' } else { (b'a' + (next() % 26) as u8) as char }).collect();
                let len = (next() % 200_000) as usize;
                file(&format!("{name}{i}"), next() % 2 == 0, &noise(len, next()))
            })
            .collect();
        let meta = Meta {
            stdout: "x".repeat((next() % 100) as usize),
            stderr: String::new(),
            status: (next() % 3) as i32,
            env_deps: vec![("V".into(), (next() % 2 == 0).then(|| "value".repeat((next() % 5) as usize)))],
            format: PACK_VERSION,
        };
        let packed = pack(&meta, &files);
        let (meta_back, files_back) = unpack(&packed, LIMIT).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert_eq!(meta_back, meta, "seed {seed}");
        assert_eq!(files_back, sorted(files.clone()), "seed {seed}");
        let mut flipped = packed.clone();
        let at = (next() as usize) % flipped.len();
        flipped[at] ^= 1 << (next() % 8);
        if let Ok((m, f)) = unpack(&flipped, LIMIT) {
            assert!(m == meta && f == sorted(files), "seed {seed}: byte {at} flipped unpacked as another artifact");
        }
    }
}

#[test]
fn round_trip_of_no_files() {
    let meta = Meta { status: 101, stdout: "{\"$message_type\":\"diagnostic\"}\n".to_owned(), ..meta() };
    assert_eq!(unpack(&pack(&meta, &[]), LIMIT).unwrap(), (meta, vec![]));
}

#[test]
fn file_digest_is_sha256_hex() {
    assert_eq!(file_digest(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_eq!(file_digest(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// ---- the exact format ----

#[test]
fn zstd_frame_has_fixed_parameters() {
    let artifact = pack(&meta(), &sample_files());
    assert_eq!(artifact[..4], [0x28, 0xb5, 0x2f, 0xfd], "zstd magic");
    // The frame header descriptor: bits 0-1 the dictionary id size, bit 2 the
    // content checksum flag.
    let descriptor = artifact[4];
    assert_eq!(descriptor & 0b11, 0, "no dictionary id");
    assert_ne!(descriptor & 0b100, 0, "content checksum present");
    let tar = decompressed(&artifact);
    assert_eq!(zstd::zstd_safe::get_frame_content_size(&artifact).unwrap(), Some(tar.len() as u64));
}

#[test]
fn every_tar_header_is_deterministic() {
    let tar = decompressed(&pack(&meta(), &sample_files()));
    let mut archive = tar::Archive::new(&tar[..]);
    // Raw entries show the GNU long-name entry too.
    let mut kinds = Vec::new();
    for entry in archive.entries().unwrap().raw(true) {
        let entry = entry.unwrap();
        let header = entry.header();
        let gnu = header.as_gnu().expect("GNU headers only");
        let name = String::from_utf8(header.path_bytes().into_owned()).unwrap();
        assert_eq!(header.mtime().unwrap(), 0, "{name}");
        assert_eq!(header.uid().unwrap(), 0, "{name}");
        assert_eq!(header.gid().unwrap(), 0, "{name}");
        assert_eq!(header.username_bytes(), Some(&b""[..]), "{name}");
        assert_eq!(header.groupname_bytes(), Some(&b""[..]), "{name}");
        assert_eq!((gnu.dev_major, gnu.dev_minor), ([0; 8], [0; 8]), "{name}");
        assert_eq!((gnu.atime, gnu.ctime), ([0; 12], [0; 12]), "{name}");
        assert_eq!(gnu.linkname, [0; 100], "{name}");
        let mode = header.mode().unwrap();
        let executable = name.starts_with("build_script_build");
        assert_eq!(mode, if executable { 0o755 } else { 0o644 }, "{name}");
        kinds.push((header.entry_type(), name));
    }
    let regular = |name: &str| (EntryType::Regular, name.to_owned());
    let long = long_name();
    assert_eq!(
        kinds,
        [
            regular(META_NAME),
            regular("build_script_build-0123456789abcdef"),
            regular("demo-0123456789abcdef.d"),
            regular("empty"),
            (EntryType::GNULongName, "././@LongLink".to_owned()),
            regular(&long[..100]),
            regular("libdemo-0123456789abcdef.rlib"),
            regular("libdemo-0123456789abcdef.rmeta"),
        ]
    );
    assert!(tar.ends_with(&[0; 1024]), "end-of-archive marker");
}

#[test]
fn meta_entry_is_pretty_json() {
    let tar = decompressed(&pack(&meta(), &[]));
    let mut archive = tar::Archive::new(&tar[..]);
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut json = String::new();
    entry.read_to_string(&mut json).unwrap();
    assert_eq!(json, serde_json::to_string_pretty(&meta()).unwrap());
    assert!(json.contains("\"env_deps\": [\n    [\n      \"CARGO_PKG_NAME\",\n      \"demo\""), "{json}");
}

#[test]
fn the_module_does_no_io() {
    let source = include_str!("../pack.rs");
    for forbidden in ["std::fs", "std::process", "std::net", "SystemTime", "Instant", "tokio"] {
        assert!(!source.contains(forbidden), "pack.rs mentions {forbidden}");
    }
}

// ---- pack's preconditions ----

#[test]
fn check_name_accepts_bare_names_only() {
    for good in ["a", "libfoo-0123.rlib", "..a", "a..", ".hidden", "spaced name", "ünï"] {
        check_name(good).unwrap();
    }
    for bad in ["", ".", "..", "a/b", "../x", "/abs", "a\\b", "nul\0", META_NAME] {
        assert!(matches!(check_name(bad), Err(PackError::BadName { .. })), "{bad:?}");
    }
    check_name(&"a".repeat(MAX_NAME_LEN)).unwrap();
    assert!(matches!(check_name(&"a".repeat(MAX_NAME_LEN + 1)), Err(PackError::BadName { .. })));
}

#[test]
#[should_panic(expected = "given twice")]
fn pack_panics_on_duplicate_names() {
    pack(&meta(), &[file("a", false, b"1"), file("a", true, b"2")]);
}

#[test]
#[should_panic(expected = "reserved")]
fn pack_panics_on_the_meta_name() {
    pack(&meta(), &[file(META_NAME, false, b"{}")]);
}

#[test]
#[should_panic(expected = "path separator")]
fn pack_panics_on_a_path() {
    pack(&meta(), &[file("../x", false, b"")]);
}

// ---- crafted archives ----

/// One entry of a crafted archive, written without the tar crate's checks.
#[derive(Clone, Copy)]
struct Raw<'a> {
    name: &'a [u8],
    kind: EntryType,
    data: &'a [u8],
}

fn reg<'a>(name: &'a str, data: &'a [u8]) -> Raw<'a> {
    Raw { name: name.as_bytes(), kind: EntryType::Regular, data }
}

fn raw_tar(entries: &[Raw]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for raw in entries {
        let mut header = Header::new_gnu();
        // Straight into the name field: `set_path` would refuse `..`.
        header.as_gnu_mut().unwrap().name[..raw.name.len()].copy_from_slice(raw.name);
        header.set_entry_type(raw.kind);
        header.set_mode(0o644);
        header.set_size(raw.data.len() as u64);
        if matches!(raw.kind, EntryType::Symlink | EntryType::Link) {
            header.set_link_name("/etc/passwd").unwrap();
        }
        header.set_cksum();
        builder.append(&header, raw.data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn zst(tar: &[u8]) -> Vec<u8> {
    zstd::bulk::compress(tar, 3).unwrap()
}

fn meta_json() -> Vec<u8> {
    serde_json::to_vec(&meta()).unwrap()
}

/// Unpacks a crafted archive of `entries`.
fn unpack_raw(entries: &[Raw]) -> Result<(Meta, Vec<PackedFile>), PackError> {
    unpack(&zst(&raw_tar(entries)), LIMIT)
}

/// Unpacks a crafted archive: a valid meta entry, then `entries`.
fn unpack_after_meta(entries: &[Raw]) -> Result<(Meta, Vec<PackedFile>), PackError> {
    let json = meta_json();
    let mut all = vec![reg(META_NAME, &json)];
    all.extend_from_slice(entries);
    unpack_raw(&all)
}

/// The crafting helpers themselves write archives that unpack, so each
/// refusal below is due to the one thing it changes.
#[test]
fn crafted_archive_of_valid_entries_unpacks() {
    let (meta_back, files) = unpack_after_meta(&[reg("b", b"2"), reg("a", b"1")]).unwrap();
    assert_eq!(meta_back, meta());
    assert_eq!(files, [file("b", false, b"2"), file("a", false, b"1")]);
}

#[track_caller]
fn assert_refused(
    result: Result<(Meta, Vec<PackedFile>), PackError>,
    check: impl Fn(&PackError) -> bool,
    needle: &str,
) {
    let err = result.expect_err("the archive must be refused");
    assert!(check(&err), "unexpected error: {err:?}");
    let message = err.to_string();
    assert!(message.contains(needle), "{message:?} does not mention {needle:?}");
}

#[test]
fn refuses_links_directories_and_devices() {
    for kind in [EntryType::Symlink, EntryType::Link, EntryType::Directory, EntryType::Fifo, EntryType::Char] {
        let result = unpack_after_meta(&[Raw { name: b"evil", kind, data: b"" }]);
        assert_refused(result, |e| matches!(e, PackError::NotRegular { .. }), "\"evil\"");
    }
    let json = meta_json();
    let result =
        unpack_raw(&[Raw { name: META_NAME.as_bytes(), kind: EntryType::Symlink, data: b"" }, reg("a", &json)]);
    assert_refused(result, |e| matches!(e, PackError::NotRegular { .. }), "symbolic link");
}

#[test]
fn refuses_names_that_are_not_bare_file_names() {
    for name in ["../x", "a/b", "/etc/passwd", "..", ".", "", "a\\b"] {
        let result = unpack_after_meta(&[reg(name, b"x")]);
        assert_refused(result, |e| matches!(e, PackError::BadName { .. }), &format!("{name:?}"));
    }
    // A name too long for the header arrives in a GNU long-name entry.
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(meta_json().len() as u64);
    builder.append_data(&mut header, META_NAME, &meta_json()[..]).unwrap();
    let mut header = Header::new_gnu();
    header.set_mode(0o644);
    header.set_size(1);
    builder.append_data(&mut header, "a".repeat(300), &b"x"[..]).unwrap();
    let result = unpack(&zst(&builder.into_inner().unwrap()), LIMIT);
    assert_refused(result, |e| matches!(e, PackError::BadName { .. }), "longer than 255 bytes");
    let result = unpack_after_meta(&[Raw { name: b"caf\xe9", kind: EntryType::Regular, data: b"x" }]);
    assert_refused(result, |e| matches!(e, PackError::BadName { .. }), "not UTF-8");
}

#[test]
fn refuses_duplicate_names() {
    let result = unpack_after_meta(&[reg("a", b"1"), reg("a", b"2")]);
    assert_refused(result, |e| matches!(e, PackError::Duplicate { .. }), "\"a\"");
    let result = unpack_after_meta(&[reg("b", b""), reg("a", b""), reg("b", b"")]);
    assert_refused(result, |e| matches!(e, PackError::Duplicate { .. }), "\"b\"");
    let json = meta_json();
    let result = unpack_after_meta(&[reg(META_NAME, &json)]);
    assert_refused(result, |e| matches!(e, PackError::Duplicate { .. }), META_NAME);
}

#[test]
fn refuses_a_missing_or_misplaced_meta_entry() {
    let json = meta_json();
    for entries in [vec![], vec![reg("a", b"1")], vec![reg("a", b"1"), reg(META_NAME, &json)]] {
        assert_refused(unpack_raw(&entries), |e| matches!(e, PackError::MissingMeta), META_NAME);
    }
}

#[test]
fn refuses_a_malformed_meta_entry() {
    let v = PACK_VERSION;
    let unknown_field = format!(r#"{{"stdout":"","stderr":"","status":0,"env_deps":[],"format":{v},"extra":true}}"#);
    let missing_field = format!(r#"{{"stdout":"","status":0,"env_deps":[],"format":{v}}}"#);
    let wrong_type = format!(r#"{{"stdout":"","stderr":"","status":"0","env_deps":[],"format":{v}}}"#);
    let bad_env = format!(r#"{{"stdout":"","stderr":"","status":0,"env_deps":[["A"]],"format":{v}}}"#);
    let quoted_format = format!(r#"{{"format":"{v}"}}"#);
    for json in ["{", "", "[]", &unknown_field, &missing_field, &wrong_type, &bad_env, &quoted_format] {
        let result = unpack_raw(&[reg(META_NAME, json.as_bytes())]);
        assert_refused(result, |e| matches!(e, PackError::BadMeta { .. }), META_NAME);
    }
}

#[test]
fn refuses_another_format_version() {
    let next = Meta { format: PACK_VERSION + 1, ..meta() };
    let json = serde_json::to_vec(&next).unwrap();
    let result = unpack_raw(&[reg(META_NAME, &json)]);
    let expected = format!("version {}", PACK_VERSION + 1);
    assert_refused(result, |e| matches!(e, PackError::FormatVersion { .. }), &expected);
    // The version is checked first, so a future meta with new fields still
    // says which version it is.
    let future = format!(r#"{{"format":{},"new_field":[]}}"#, PACK_VERSION + 1);
    let result = unpack_raw(&[reg(META_NAME, future.as_bytes())]);
    assert_refused(result, |e| matches!(e, PackError::FormatVersion { .. }), &expected);
}

#[test]
fn refuses_more_than_the_limit() {
    let artifact = pack(&meta(), &[file("big.rlib", false, &noise(5 << 20, 3))]);
    let size = decompressed(&artifact).len() as u64;
    unpack(&artifact, size).unwrap();
    let result = unpack(&artifact, size - 1);
    assert_refused(result, |e| matches!(e, PackError::TooLarge { limit } if *limit == size - 1), "more than");
    assert!(matches!(unpack(&artifact, 0), Err(PackError::TooLarge { limit: 0 })));
}

/// A bomb: 32 MiB of zeros in a frame of a few kilobytes that does not
/// declare its content size, so only the bounded read can stop it.
#[test]
fn refuses_a_bomb_without_a_declared_size() {
    let zeros = vec![0; 32 << 20];
    let json = meta_json();
    let bomb = zstd::stream::encode_all(&raw_tar(&[reg(META_NAME, &json), reg("zeros", &zeros)])[..], 3).unwrap();
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    assert_eq!(zstd::zstd_safe::get_frame_content_size(&bomb).unwrap(), None);
    assert!(matches!(unpack(&bomb, 1 << 20), Err(PackError::TooLarge { .. })));
}

/// The frame header's content size, rewritten to `size` in place (RFC 8878,
/// 3.1.1.1: after the descriptor, an optional window byte, then the size
/// field, little-endian, 2-byte fields offset by 256).
fn with_declared_size(artifact: &[u8], size: u64) -> Vec<u8> {
    let mut out = artifact.to_vec();
    let descriptor = out[4];
    let single_segment = descriptor & 0b10_0000 != 0;
    let width = match descriptor >> 6 {
        0 if single_segment => 1,
        0 => panic!("no content size field"),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let at = 5 + usize::from(!single_segment);
    let value = if width == 2 { size - 256 } else { size };
    out[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
    out
}

#[test]
fn refuses_a_frame_whose_declared_size_is_wrong() {
    let artifact = pack(&meta(), &sample_files());
    let size = decompressed(&artifact).len() as u64;
    assert_eq!(with_declared_size(&artifact, size), artifact, "the field is where the test looks");
    for lie in [size - 1, size + 1, size + 4096] {
        let forged = with_declared_size(&artifact, lie);
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&forged).unwrap(), Some(lie));
        assert_refused(unpack(&forged, LIMIT), |e| matches!(e, PackError::Corrupt { .. }), "corrupt");
    }
}

#[test]
fn refuses_every_truncation() {
    let artifact = pack(&meta(), &sample_files());
    for len in 0..artifact.len() {
        assert!(unpack(&artifact[..len], LIMIT).is_err(), "accepted the first {len} bytes");
    }
}

#[test]
fn refuses_bytes_after_the_frame() {
    let artifact = pack(&meta(), &sample_files());
    let mut extra = artifact.clone();
    extra.push(0);
    assert!(matches!(unpack(&extra, LIMIT), Err(PackError::TrailingData { extra: 1 })));
    // A second frame is refused too, not silently concatenated.
    let twice = [&artifact[..], &artifact[..]].concat();
    assert_refused(unpack(&twice, LIMIT), |e| matches!(e, PackError::TrailingData { .. }), "after its zstd frame");
}

#[test]
fn refuses_garbage() {
    for garbage in [&b""[..], b"not an artifact", &noise(4096, 9)[..], &raw_tar(&[reg(META_NAME, &meta_json())])[..]] {
        assert!(matches!(unpack(garbage, LIMIT), Err(PackError::NotZstd)));
    }
    let mut after_magic = ZSTD_MAGIC.to_vec();
    after_magic.extend(noise(4096, 9));
    assert_refused(unpack(&after_magic, LIMIT), |e| matches!(e, PackError::Corrupt { .. }), "corrupt");
}

#[test]
fn refuses_a_corrupted_checksum() {
    let mut artifact = pack(&meta(), &sample_files());
    *artifact.last_mut().unwrap() ^= 1;
    assert_refused(unpack(&artifact, LIMIT), |e| matches!(e, PackError::Corrupt { .. }), "corrupt");
}

/// Damage inside a well-formed zstd frame: the tar itself is cut or padded.
#[test]
fn refuses_a_damaged_tar() {
    let json = meta_json();
    let data = noise(2000, 5);
    let tar = raw_tar(&[reg(META_NAME, &json), reg("a", &data)]);
    let data_start = tar.len() - 1024 - 2048;

    let cut_in_data = &tar[..data_start + 1000];
    let result = unpack(&zst(cut_in_data), LIMIT);
    assert_refused(result, |e| matches!(e, PackError::Truncated { expected: 2000, found: 1000, .. }), "\"a\"");

    let no_end_marker = &tar[..tar.len() - 1024];
    assert_refused(unpack(&zst(no_end_marker), LIMIT), |e| matches!(e, PackError::Tar { .. }), "end-of-archive");

    let hidden = [&tar[..], &[0xaa; 512][..]].concat();
    assert_refused(unpack(&zst(&hidden), LIMIT), |e| matches!(e, PackError::Tar { .. }), "follows");

    let mut bad_checksum = tar.clone();
    bad_checksum[0] ^= 1;
    assert_refused(unpack(&zst(&bad_checksum), LIMIT), |e| matches!(e, PackError::Tar { .. }), "checksum");
}

#[test]
fn an_artifact_of_too_many_files_is_refused() {
    let names: Vec<String> = (0..=MAX_FILES).map(|i| format!("f{i}")).collect();
    let files: Vec<PackedFile> = names.iter().map(|n| file(n, false, b"x")).collect();
    let artifact = pack(&meta(), &files[..MAX_FILES]);
    assert_eq!(unpack(&artifact, 1 << 20).unwrap().1.len(), MAX_FILES);
    let artifact = pack(&meta(), &files);
    assert!(matches!(unpack(&artifact, 1 << 20), Err(PackError::TooManyFiles)));
}
