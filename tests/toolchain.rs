//! The compiler and linker identities through the real binary, with a
//! second toolchain that needs no download: a copy of the installed one
//! (hard links, one file replaced where a test says so) registered with
//! `rustup toolchain link` under a name of its own and unlinked on drop.
//! What changes behind an unchanged driver (a toolchain replaced behind its
//! name, a startup object the linker finds) must miss and hit again once
//! restored; a fetch must identify the toolchain cargo would run
//! (`rust-toolchain.toml`, `cargo +name`, `RUSTC`, `build.rustc`).

mod common;

use common::toolchain::{field, installed, LinkedToolchain};
use common::BIN;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// How long an identity's files must rest before the tool caches it
/// (`toolchain::watch::SETTLE`, 2 s), with a margin: the tests wait this
/// long where the cached identity is what they check.
const SETTLE: Duration = Duration::from_millis(2200);

/// A one-crate project built through `cargo ipfs build` with path crates
/// cached (`CARGO_IPFS_LOCAL`), in a store of its own.
struct Project {
    tmp: tempfile::TempDir,
}

impl Project {
    fn new(crate_type: &str, source: &str) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("probe");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let target = if crate_type == "bin" { "[[bin]]\nname = \"probe\"\npath = \"src/main.rs\"\n" } else { "" };
        std::fs::write(
            dir.join("Cargo.toml"),
            format!("[package]\nname = \"probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n{target}\n[workspace]\n"),
        )
        .unwrap();
        let file = if crate_type == "bin" { "src/main.rs" } else { "src/lib.rs" };
        std::fs::write(dir.join(file), source).unwrap();
        Project { tmp }
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("probe")
    }

    fn store(&self) -> PathBuf {
        self.tmp.path().join("store")
    }

    /// `cargo-ipfs` in the project, the environment cleared of what the
    /// test's own cargo set (its toolchain, its cargo).
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir())
            .env("CARGO_IPFS_STORE", self.store())
            .env("CARGO_IPFS_LOCAL", "1")
            .env("CARGO_TARGET_DIR", self.tmp.path().join("target"))
            .env_remove("CARGO")
            .env_remove("RUSTC")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("CARGO_BUILD_RUSTC_WRAPPER");
        cmd
    }

    fn hits(&self) -> u64 {
        let out = self.cmd(&["stats", "--json"]).output().unwrap();
        let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        stats["hits"].as_u64().unwrap()
    }

    /// A recording build from an empty target directory with `env`: whether the
    /// crate was a hit.
    fn build_hits(&self, env: &[(&str, &str)]) -> bool {
        let _ = std::fs::remove_dir_all(self.tmp.path().join("target"));
        let before = self.hits();
        let mut cmd = self.cmd(&["build", "--record", "--offline"]);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        self.hits() > before
    }
}

#[test]
fn a_toolchain_replaced_behind_its_name_misses_and_hits_again_when_restored() {
    let Some(toolchain) = LinkedToolchain::new("replaced") else { return };
    let project = Project::new("lib", "pub fn answer() -> u32 { 42 }\n");
    let env = [("RUSTUP_TOOLCHAIN", toolchain.name.as_str())];
    assert!(!project.build_hits(&env), "the first build compiles");
    // Once the toolchain's files have rested, the identity is cached.
    std::thread::sleep(SETTLE);
    assert!(project.build_hits(&env), "the same toolchain hits");

    // `rustup update` behind the same name: the driver keeps its stamp,
    // a file of the standard library gets other bytes of the same size.
    let driver = toolchain.dir.join("bin/rustc");
    let driver_before = std::fs::metadata(&driver).unwrap().modified().unwrap();
    let file = toolchain.unread_std_file();
    let original = std::fs::read(&file).unwrap();
    let mut changed = original.clone();
    *changed.last_mut().unwrap() ^= 0xff;
    toolchain.replace(&file, &changed);
    assert!(!project.build_hits(&env), "another standard library must miss");
    assert_eq!(std::fs::metadata(&driver).unwrap().modified().unwrap(), driver_before);

    toolchain.replace(&file, &original);
    assert!(project.build_hits(&env), "the original toolchain hits again");
}

#[test]
fn a_startup_object_changed_behind_an_unchanged_linker_misses_and_hits_again_when_restored() {
    let project = Project::new("bin", "fn main() { println!(\"probe\"); }\n");
    // A linker driver that takes the startup objects from a directory of
    // its own (gcc's `-B`), as a libc6-dev upgrade replaces them under an
    // unchanged `cc`.
    let crt = project.tmp.path().join("crt");
    std::fs::create_dir_all(&crt).unwrap();
    for name in ["Scrt1.o", "crti.o", "crtn.o", "crtbeginS.o", "crtendS.o"] {
        let out = Command::new("cc").arg(format!("-print-file-name={name}")).output().unwrap();
        let found = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
        assert!(found.is_absolute(), "cc does not know {name}");
        std::fs::copy(&found, crt.join(name)).unwrap();
    }
    let linker = project.tmp.path().join("bin/cc-crt");
    std::fs::create_dir_all(linker.parent().unwrap()).unwrap();
    std::fs::write(&linker, format!("#!/bin/sh\nexec cc -B{}/ \"$@\"\n", crt.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&linker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let host = field(&installed().1, "host:");
    let variable = format!("CARGO_TARGET_{}_LINKER", host.to_uppercase().replace('-', "_"));
    let env = [(variable.as_str(), linker.to_str().unwrap())];

    assert!(!project.build_hits(&env), "the first build compiles");
    std::thread::sleep(SETTLE);
    assert!(project.build_hits(&env), "the same linker inputs hit");
    let run =
        || String::from_utf8(Command::new(project.tmp.path().join("target/debug/probe")).output().unwrap().stdout);
    assert_eq!(run().unwrap(), "probe\n");

    // Other bytes in the startup object (an ELF object ignores what
    // follows its sections), the driver untouched.
    let object = crt.join("Scrt1.o");
    let original = std::fs::read(&object).unwrap();
    let mut changed = original.clone();
    changed.extend_from_slice(&[0; 16]);
    std::fs::write(&object, &changed).unwrap();
    assert!(!project.build_hits(&env), "another startup object must miss");
    assert_eq!(run().unwrap(), "probe\n", "the changed object still links");

    std::fs::write(&object, &original).unwrap();
    assert!(project.build_hits(&env), "the original startup object hits again");
}

/// A store with an empty index of its own (trusted there), so that an
/// offline fetch resolves and reports what it selected.
fn fetch_project() -> Project {
    let project = Project::new("lib", "");
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/projects/demo");
    std::fs::copy(demo.join("Cargo.lock"), project.dir().join("Cargo.lock")).unwrap();
    for args in [&["key", "gen", "ci"][..], &["index", "init", "--name", "local-index", "--key", "ci"]] {
        let out = project.cmd(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    project
}

/// The compiler an offline fetch in the project selected artifacts for.
fn fetched_for(project: &Project, env: &[(&str, &str)]) -> String {
    let mut cmd = project.cmd(&["fetch", "--offline", "--json"]);
    for (name, value) in env {
        cmd.env(name, value);
    }
    let out: Output = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["rustc"].as_str().unwrap().to_string()
}

#[test]
fn a_fetch_identifies_the_toolchain_cargo_would_run() {
    let Some(toolchain) = LinkedToolchain::new("fetch") else { return };
    // The linked toolchain's driver reports another release, so that the
    // fetch's choice shows.
    let driver = toolchain.dir.join("bin/rustc");
    let real = toolchain.dir.join("bin/rustc-real");
    std::fs::rename(&driver, &real).unwrap();
    std::fs::write(
        &driver,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -vV ]; then {0} -vV | sed 's/^release: .*/release: 0.0.0-linked/'; exit; fi\nexec {0} \"$@\"\n",
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&driver, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (_, verbose_version) = installed();
    let commit = field(&verbose_version, "commit-hash:");
    let default = format!("{} {commit}", field(&verbose_version, "release:"));
    let linked = format!("0.0.0-linked {commit}");

    let project = fetch_project();
    assert_eq!(fetched_for(&project, &[]), default);
    // Once cached, the identity must not stand in for another toolchain.
    std::thread::sleep(SETTLE);
    assert_eq!(fetched_for(&project, &[]), default);
    let toolchain_file = project.dir().join("rust-toolchain.toml");
    std::fs::write(&toolchain_file, format!("[toolchain]\nchannel = \"{}\"\n", toolchain.name)).unwrap();
    assert_eq!(fetched_for(&project, &[]), linked, "rust-toolchain.toml");
    std::fs::remove_file(&toolchain_file).unwrap();
    assert_eq!(fetched_for(&project, &[]), default);
    assert_eq!(fetched_for(&project, &[("RUSTUP_TOOLCHAIN", &toolchain.name)]), linked, "cargo +name");
    assert_eq!(fetched_for(&project, &[("RUSTC", driver.to_str().unwrap())]), linked, "RUSTC");
    let config = project.dir().join(".cargo/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, format!("[build]\nrustc = \"{}\"\n", driver.display())).unwrap();
    assert_eq!(fetched_for(&project, &[]), linked, "build.rustc");
}
