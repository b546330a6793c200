//! Build-script runs packed like artifacts: the same zstd frame around a
//! tar archive ([`super::pack`]), whose first entry is [`META_NAME`] holding
//! a [`RunMeta`] (what the run printed), then one regular file per file the
//! run left in `OUT_DIR`, named by its path relative to `OUT_DIR`.
//!
//! A run writes files in subdirectories, so names here are relative paths,
//! checked by [`check_path`]: `/`-separated components, none empty, `.` or
//! `..`, no absolute path, no backslash, no NUL. Links are never packed (a
//! run that leaves one is not recorded). The counts and sizes are bounded
//! like any artifact's: at most [`MAX_RUN_FILES`] files, and the caller's
//! limit on the decompressed size.
//!
//! This module is pure: no file system, no processes, no clock.

use super::pack::{append, compress, decompress, read_entries, PackError, PackedFile, MAX_NAME_LEN, META_NAME};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The version of the run pack format.
pub const RUN_PACK_VERSION: u32 = 1;

/// The most files one run's pack holds: the bound the wrapper already puts
/// on the `OUT_DIR` files it hashes for a key, so that a restored run can
/// always be keyed by the compilations that read it.
pub const MAX_RUN_FILES: usize = 10_000;

/// The largest run, packed or unpacked: a run's files are read whole into
/// memory to check and to restore them. A build script's `OUT_DIR` with a
/// whole C library compiled in debug mode stays well below it.
pub const MAX_RUN: u64 = 1 << 30;

/// The longest relative path accepted, in bytes (`PATH_MAX` on Linux).
pub const MAX_PATH_LEN: usize = 4096;

/// What a restored run replays besides its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunMeta {
    /// The script's standard output, machine paths normalized.
    pub stdout: String,
    /// Its standard error, machine paths normalized.
    pub stderr: String,
    /// The files stored as normalized text, whose placeholders a restore
    /// expands to this machine's paths; the others are restored as they are.
    pub text_files: Vec<String>,
    /// The format; [`RUN_PACK_VERSION`] when written here.
    pub format: u32,
}

/// Checks that `path` can name a file of a run: see the module docs.
pub fn check_path(path: &str) -> Result<(), PackError> {
    let bad = |reason| Err(PackError::BadName { name: path.to_owned(), reason });
    if path.is_empty() {
        return bad("it is empty");
    }
    if path.len() > MAX_PATH_LEN {
        return bad("it is longer than 4096 bytes");
    }
    if path.contains(['\\', '\0']) {
        return bad("it contains a backslash or a NUL byte");
    }
    if path.starts_with('/') {
        return bad("it is absolute");
    }
    if path == META_NAME {
        return bad("it is reserved for the metadata entry");
    }
    for component in path.split('/') {
        if component.is_empty() || component == "." || component == ".." {
            return bad("it has an empty, `.` or `..` component");
        }
        if component.len() > MAX_NAME_LEN {
            return bad("a component is longer than 255 bytes");
        }
    }
    Ok(())
}

/// Packs a run. The order of `files` does not matter.
///
/// # Panics
///
/// If a path fails [`check_path`], two files share a path, or there are
/// more than [`MAX_RUN_FILES`]: the caller collects them from one walk of
/// `OUT_DIR` and checks them first.
pub fn pack_run(meta: &RunMeta, files: &[PackedFile]) -> Vec<u8> {
    let mut sorted: Vec<&PackedFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(sorted.len() <= MAX_RUN_FILES, "pack_run: more than {MAX_RUN_FILES} files");
    for file in &sorted {
        if let Err(err) = check_path(&file.name) {
            panic!("pack_run: {err}");
        }
    }
    if let Some(pair) = sorted.windows(2).find(|pair| pair[0].name == pair[1].name) {
        panic!("pack_run: the path {:?} is given twice", pair[0].name);
    }
    let json = serde_json::to_vec_pretty(meta).expect("a RunMeta always serializes to JSON");
    let mut builder = tar::Builder::new(Vec::new());
    append(&mut builder, META_NAME, false, &json);
    for file in sorted {
        append(&mut builder, &file.name, file.executable, &file.bytes);
    }
    compress(&builder.into_inner().expect("writing to a Vec cannot fail"))
}

/// Unpacks a run, refusing it on anything [`pack_run`] would not write
/// that could do harm, or past `limit` decompressed bytes.
pub fn unpack_run(bytes: &[u8], limit: u64) -> Result<(RunMeta, Vec<PackedFile>), PackError> {
    let tar = decompress(bytes, limit)?;
    let (json, files) = read_entries(Bytes::from(tar), MAX_RUN_FILES, check_path)?;
    #[derive(Deserialize)]
    struct Version {
        format: u32,
    }
    let bad = |source| PackError::BadMeta { source };
    let Version { format } = serde_json::from_slice(&json).map_err(bad)?;
    if format != RUN_PACK_VERSION {
        return Err(PackError::FormatVersion { found: format, expected: RUN_PACK_VERSION });
    }
    let meta: RunMeta = serde_json::from_slice(&json).map_err(bad)?;
    for text in &meta.text_files {
        check_path(text)?;
    }
    Ok((meta, files))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A pack whose second entry climbs out of `OUT_DIR` (`../evil`),
    /// written by hand as a hostile publisher would.
    pub(crate) fn climbing_pack() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let meta = RunMeta { stdout: String::new(), stderr: String::new(), text_files: vec![], format: 1 };
        append(&mut builder, META_NAME, false, &serde_json::to_vec(&meta).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        // `append_data` refuses `..`, so the name is set raw.
        header.as_old_mut().name[..7].copy_from_slice(b"../evil");
        header.set_cksum();
        builder.append(&header, &b"x"[..]).unwrap();
        compress(&builder.into_inner().unwrap())
    }

    fn file(name: &str, bytes: &[u8]) -> PackedFile {
        PackedFile { name: name.into(), executable: false, bytes: Bytes::copy_from_slice(bytes) }
    }

    #[test]
    fn a_run_round_trips_with_subdirectories() {
        let meta = RunMeta {
            stdout: "cargo:rustc-link-search=native=/out-dir\n".into(),
            stderr: String::new(),
            text_files: vec!["lib/pkgconfig/x.pc".into()],
            format: RUN_PACK_VERSION,
        };
        let files = vec![file("lib/pkgconfig/x.pc", b"prefix=/out-dir"), file("libx.a", b"!<arch>\n")];
        let packed = pack_run(&meta, &files);
        assert_eq!(pack_run(&meta, &[files[1].clone(), files[0].clone()]), packed, "order does not matter");
        let (back, unpacked) = unpack_run(&packed, 1 << 20).unwrap();
        assert_eq!(back, meta);
        assert_eq!(unpacked, files);
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a\\b", "a/", META_NAME] {
            assert!(check_path(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["a", "a/b/c.o", ".hidden/x", "x..y"] {
            check_path(good).unwrap();
        }
    }

    #[test]
    fn a_hostile_run_pack_is_refused() {
        // A pack whose entry climbs out of OUT_DIR, written by hand.
        assert!(matches!(unpack_run(&climbing_pack(), 1 << 20), Err(PackError::BadName { .. })));
        let meta = RunMeta { stdout: String::new(), stderr: String::new(), text_files: vec![], format: 1 };
        // A text file named outside the files is refused too.
        let meta = RunMeta { text_files: vec!["../x".into()], ..meta };
        assert!(unpack_run(&pack_run(&meta, &[]), 1 << 20).is_err());
        // A compilation's artifact is not a run.
        let other = crate::artifact::pack::pack(
            &crate::artifact::pack::Meta {
                stdout: String::new(),
                stderr: String::new(),
                status: 0,
                env_deps: vec![],
                format: 1,
            },
            &[],
        );
        assert!(unpack_run(&other, 1 << 20).is_err());
    }
}
