//! `cargo ipfs demo`: the whole product in temporary directories, no daemon.
//!
//! Machine A plays the pinning CI job: it records a build of a small real
//! project (a proc-macro, a build script, plain libraries) and publishes a
//! signed index. Machine B has another CARGO_HOME path, target directory and
//! project path; it trusts A's key, resolves A's index by IPNS name over
//! `cargo ipfs serve` on loopback, fetches, builds, and runs the program.
//! The table says what B restored and what it compiled, and the times.

use super::{Global, Status};
use anyhow::{bail, Context};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DEMO_MANIFEST: &str = include_str!("../../tests/fixtures/projects/demo/Cargo.toml");
const DEMO_LOCK: &str = include_str!("../../tests/fixtures/projects/demo/Cargo.lock");
const DEMO_MAIN: &str = include_str!("../../tests/fixtures/projects/demo/src/main.rs");

/// Arguments of `cargo ipfs demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the machines' directories here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

struct Machine {
    name: &'static str,
    home: PathBuf,
    target: PathBuf,
    project: PathBuf,
    store: PathBuf,
}

impl Machine {
    fn new(root: &Path, name: &'static str, project: &str) -> anyhow::Result<Machine> {
        let base = root.join(name);
        let m = Machine {
            name,
            home: base.join("cargo-home"),
            target: base.join("target"),
            project: base.join(project),
            store: base.join("store"),
        };
        std::fs::create_dir_all(m.project.join("src"))?;
        std::fs::write(m.project.join("Cargo.toml"), DEMO_MANIFEST)?;
        std::fs::write(m.project.join("Cargo.lock"), DEMO_LOCK)?;
        std::fs::write(m.project.join("src/main.rs"), DEMO_MAIN)?;
        seed_registry(&m.home)?;
        Ok(m)
    }

    fn cmd(&self, program: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&self.project)
            .env("CARGO_HOME", &self.home)
            .env("CARGO_TARGET_DIR", &self.target)
            .env(crate::vars::STORE, &self.store)
            .env_remove(crate::vars::RUSTC_WRAPPER)
            .env_remove(crate::vars::CARGO_BUILD_RUSTC_WRAPPER);
        cmd
    }

    fn run(&self, me: &Path, args: &[&str]) -> anyhow::Result<String> {
        let out = self.cmd(me, args).stderr(Stdio::piped()).output()?;
        if !out.status.success() {
            bail!(
                "machine {}: `cargo ipfs {}` failed: {}",
                self.name,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Copies this machine's registry index and downloaded `.crate` files so
/// the demo builds do not download what is already here.
fn seed_registry(home: &Path) -> anyhow::Result<()> {
    let Ok(real) = home::cargo_home() else { return Ok(()) };
    for part in ["index", "cache"] {
        let from = real.join("registry").join(part);
        if from.is_dir() {
            copy_dir(&from, &home.join("registry").join(part))?;
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Runs the demo.
pub fn exec(_global: &Global, args: Args) -> anyhow::Result<Status> {
    let me = std::env::current_exe().context("cannot find this program")?;
    let tmp = tempfile::tempdir()?;
    let root = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => tmp.path().to_path_buf(),
    };
    eprintln!("demo: machines in {}", root.display());
    let a = Machine::new(&root, "a", "ci/work/demo")?;
    let b = Machine::new(&root, "b", "home/dev/projects/demo")?;
    for m in [&a, &b] {
        let status = m.cmd(Path::new("cargo"), &["fetch", "--locked", "--quiet"]).status()?;
        if !status.success() {
            bail!("machine {}: `cargo fetch` failed; the demo needs crates.io or a filled cargo registry", m.name);
        }
    }

    eprintln!("demo: machine A (pinning CI job) builds, records and publishes");
    let publisher = a.run(&me, &["key", "gen", "ci"])?.trim().to_string();
    a.run(&me, &["index", "init", "--name", "demo", "--key", "ci"])?;
    let started = Instant::now();
    a.run(&me, &["build", "--record", "--no-fetch", "--offline", "--locked"])?;
    let cold = started.elapsed();
    let published = a.run(&me, &["publish", "--name", "demo"])?;
    eprintln!("demo: {}", published.trim());

    let mut server = a
        .cmd(&me, &["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start `cargo ipfs serve`")?;
    let stdout = server.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let result = (|| -> anyhow::Result<()> {
        let line = rx.recv_timeout(Duration::from_secs(30)).context("`cargo ipfs serve` did not start")?;
        let url = line.trim().strip_prefix("listening on ").context("unexpected `serve` output")?.to_string();
        eprintln!("demo: machine A serves its store at {url}");

        eprintln!("demo: machine B (developer, other paths) trusts A's key, fetches and builds");
        b.run(&me, &["trust", "add", "demo", &publisher])?;
        let started = Instant::now();
        let summary: serde_json::Value = serde_json::from_str(&b.run(&me, &["fetch", "--gateway", &url, "--json"])?)?;
        let fetched = started.elapsed();
        b.run(&me, &["stats", "--zero"])?;
        b.run(&me, &["build", "--no-fetch", "--offline", "--locked"])?;
        let total = started.elapsed();
        let stats: serde_json::Value = serde_json::from_str(&b.run(&me, &["stats", "--json"])?)?;
        let output = Command::new(b.target.join("debug/demo")).output()?;

        let restored: Vec<String> = summary["fetched"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| format!("{} {}", f["name"].as_str().unwrap_or(""), f["version"].as_str().unwrap_or("")))
            .collect();
        println!();
        println!("| crate | on machine B |");
        println!("|---|---|");
        let mut names: Vec<&String> = restored.iter().collect();
        names.sort();
        names.dedup();
        for name in names {
            let units = restored.iter().filter(|r| *r == name).count();
            println!("| {name} | restored ({units} unit{}) |", if units == 1 { "" } else { "s" });
        }
        println!("| demo 0.1.0 (the project itself) | compiled |");
        println!();
        println!("machine A, cold build with recording: {:.1} s", cold.as_secs_f64());
        println!(
            "machine B, fetch ({:.1} s, {} artifacts, {:.1} MiB) + build: {:.1} s ({:.0}% of A's cold build)",
            fetched.as_secs_f64(),
            restored.len(),
            summary["bytes"].as_f64().unwrap_or(0.0) / 1048576.0,
            total.as_secs_f64(),
            100.0 * total.as_secs_f64() / cold.as_secs_f64().max(0.001)
        );
        println!(
            "machine B's wrapper: {} restored, {} compiled; the program prints: {}",
            stats["hits"],
            stats["misses"],
            String::from_utf8_lossy(&output.stdout).trim()
        );
        Ok(())
    })();
    let _ = server.kill();
    let _ = server.wait();
    result?;
    Ok(0)
}
