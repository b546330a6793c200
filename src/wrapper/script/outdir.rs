//! The files a run leaves in `OUT_DIR`: collected for a record, cleared
//! and written back for a restore.
//!
//! Files are named by their path relative to `OUT_DIR`, `/`-separated. A
//! file whose bytes are UTF-8 text without NUL is stored with machine
//! paths replaced by placeholders and written back with this machine's; a
//! binary file that holds a machine path makes the run bound to this
//! machine's paths ([`Collected::machine_bound`]). A link of any kind is not
//! collected: the run is not recorded.

use super::super::paths::PathMap;
use crate::artifact::pack::PackedFile;
use crate::artifact::run_pack::{check_path, MAX_RUN, MAX_RUN_FILES};
use std::path::Path;

/// What a run left in `OUT_DIR`, ready to pack.
#[derive(Debug, Default)]
pub struct Collected {
    /// Every file, text ones normalized.
    pub files: Vec<PackedFile>,
    /// The paths of the files stored as normalized text.
    pub text_files: Vec<String>,
    /// Whether a binary file holds one of this machine's paths.
    pub machine_bound: bool,
}

/// Whether `dir` has no entry (a missing directory counts as empty).
pub fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
}

/// Collects `OUT_DIR`; `Err` names why the run cannot be recorded.
pub fn collect(dir: &Path, map: &PathMap) -> Result<Collected, String> {
    let mut collected = Collected::default();
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| format!("cannot list OUT_DIR ({e})"))?;
        for entry in entries {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_symlink() {
                return Err("leaves a link in OUT_DIR".into());
            }
            if kind.is_dir() {
                stack.push(path);
                continue;
            }
            if !kind.is_file() {
                return Err("leaves a special file in OUT_DIR".into());
            }
            let rel = path.strip_prefix(dir).map_err(|e| e.to_string())?;
            let rel = rel.to_str().ok_or("leaves a file whose name is not UTF-8")?.replace('\\', "/");
            check_path(&rel).map_err(|e| e.to_string())?;
            if collected.files.len() >= MAX_RUN_FILES {
                return Err(format!("leaves more than {MAX_RUN_FILES} files"));
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {} ({e})", path.display()))?;
            total += bytes.len() as u64;
            if total > MAX_RUN {
                return Err("leaves more than 1 GiB".into());
            }
            let executable = is_executable(&entry.metadata().map_err(|e| e.to_string())?);
            let holds_path = map.prefixes().any(|p| contains(&bytes, p.as_bytes()));
            let text = std::str::from_utf8(&bytes).ok().filter(|t| !t.contains('\0'));
            let bytes = match text {
                Some(text) if holds_path => {
                    collected.text_files.push(rel.clone());
                    map.normalize_text(text).into_bytes()
                }
                _ => {
                    collected.machine_bound |= holds_path;
                    bytes
                }
            };
            collected.files.push(PackedFile { name: rel, executable, bytes: bytes.into() });
        }
    }
    collected.files.sort_by(|a, b| a.name.cmp(&b.name));
    collected.text_files.sort();
    Ok(collected)
}

/// Removes everything in `dir` (cargo never empties `OUT_DIR`; a restore
/// must not mix a recorded run with an older one's files).
pub fn clear(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Writes a recorded run's files into `dir`, text ones with this
/// machine's paths.
pub fn restore(dir: &Path, files: &[PackedFile], text_files: &[String], map: &PathMap) -> anyhow::Result<()> {
    clear(dir)?;
    for file in files {
        // Checked by the unpacking already; checked again where it matters.
        check_path(&file.name)?;
        let dest = dir.join(&file.name);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let bytes = if text_files.binary_search(&file.name).is_ok() {
            map.expand_text(&String::from_utf8_lossy(&file.bytes)).into_bytes()
        } else {
            file.bytes.to_vec()
        };
        std::fs::write(&dest, bytes)?;
        set_executable(&dest, file.executable)?;
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(unix)]
fn set_executable(path: &Path, executable: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_executable(_: &Path, _: bool) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_normalized_and_binary_with_paths_binds_the_run() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("t/out");
        std::fs::create_dir_all(out.join("lib/pkgconfig")).unwrap();
        let map = PathMap::new([(out.clone(), "/out-dir")]).unwrap();
        let pc = format!("prefix={}\n", out.display());
        std::fs::write(out.join("lib/pkgconfig/x.pc"), &pc).unwrap();
        std::fs::write(out.join("plain.o"), b"\x7fELF\0no path").unwrap();
        let c = collect(&out, &map).unwrap();
        assert_eq!(c.text_files, ["lib/pkgconfig/x.pc"]);
        assert!(!c.machine_bound);
        assert_eq!(&c.files[0].bytes[..], b"prefix=/out-dir\n");

        let mut bound = b"\x7fELF\0".to_vec();
        bound.extend(out.to_str().unwrap().as_bytes());
        std::fs::write(out.join("bound.o"), bound).unwrap();
        assert!(collect(&out, &map).unwrap().machine_bound);

        // Restored elsewhere: the text names the new directory.
        let other = tmp.path().join("elsewhere/out");
        let there = PathMap::new([(other.clone(), "/out-dir")]).unwrap();
        restore(&other, &c.files, &c.text_files, &there).unwrap();
        let text = std::fs::read_to_string(other.join("lib/pkgconfig/x.pc")).unwrap();
        assert_eq!(text, format!("prefix={}\n", other.display()));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_is_not_collected() {
        let tmp = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", tmp.path().join("l")).unwrap();
        let map = PathMap::new([(tmp.path().to_path_buf(), "/out-dir")]).unwrap();
        assert!(collect(tmp.path(), &map).unwrap_err().contains("link"));
    }
}
