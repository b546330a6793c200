//! `cargo ipfs doctor [--json]`: checks the installation and says what to
//! fix: the toolchain, the wrapper's reachability, the store's permissions
//! and free space, the configuration files, the trusted keys and the
//! versions seen, and whether the configured sources answer. Exits 1 when
//! any check fails (a warning does not).

use super::{Global, Status};
use crate::index::state::IndexState;
use serde::Serialize;
use std::path::Path;
use std::time::Duration;

/// `cargo ipfs doctor` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Do not contact the configured sources.
    #[arg(long)]
    offline: bool,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    check: String,
    level: Level,
    detail: String,
}

/// The free bytes below which the store's disk is a warning.
const LOW_SPACE: u64 = 2 << 30;

/// Runs every check.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    let mut checks = Vec::new();
    let mut add = |check: &str, level: Level, detail: String| {
        checks.push(Check { check: check.to_string(), level, detail });
    };
    toolchain(&mut add);
    wrapper(&mut add);
    store(&store_dir, &mut add);
    config(&store_dir, &mut add);
    trust(&store_dir, &mut add);
    if !args.offline {
        sources(&store_dir, &mut add);
    }
    let failed = checks.iter().any(|c| c.level == Level::Fail);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&checks)?);
    } else {
        for c in &checks {
            let mark = match c.level {
                Level::Ok => "ok  ",
                Level::Warn => "WARN",
                Level::Fail => "FAIL",
            };
            println!("{mark}  {}: {}", c.check, c.detail);
        }
    }
    Ok(if failed { 1 } else { 0 })
}

type Add<'a> = dyn FnMut(&str, Level, String) + 'a;

fn toolchain(add: &mut Add) {
    match std::process::Command::new("rustc").arg("-vV").output() {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            add("toolchain", Level::Ok, text.lines().next().unwrap_or("rustc").to_string());
        }
        Ok(out) => add(
            "toolchain",
            Level::Fail,
            format!(
                "`rustc -vV` failed: {}; install a toolchain with rustup",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Err(e) => add("toolchain", Level::Fail, format!("no rustc on PATH ({e}); install Rust with rustup")),
    }
}

fn wrapper(add: &mut Add) {
    let Ok(me) = std::env::current_exe() else {
        add("wrapper", Level::Fail, "cannot find this program's path, which builds use as the rustc wrapper".into());
        return;
    };
    let launcher = me.with_file_name(crate::wrapper::script::launcher::LAUNCHER);
    if launcher.is_file() {
        add("wrapper", Level::Ok, format!("{} (and its build-script launcher)", me.display()));
    } else {
        add(
            "wrapper",
            Level::Warn,
            format!("{} is missing beside {}: build-script runs are not cached; reinstall with `cargo install cargo-ipfs-fetch`", launcher.display(), me.display()),
        );
    }
    let on_path = std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| d.join("cargo-ipfs").is_file() || d.join("cargo-ipfs-fetch").is_file())
    });
    if !on_path {
        add("cargo subcommand", Level::Warn, "cargo-ipfs is not on PATH: `cargo ipfs` will not be found; add the install directory (usually ~/.cargo/bin) to PATH".into());
    }
}

fn store(dir: &Path, add: &mut Add) {
    if let Err(e) = std::fs::create_dir_all(dir) {
        add(
            "store",
            Level::Fail,
            format!("cannot create {} ({e}); choose another with --store or CARGO_IPFS_STORE", dir.display()),
        );
        return;
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"probe") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            add("store", Level::Ok, format!("{} is writable", dir.display()));
        }
        Err(e) => add(
            "store",
            Level::Fail,
            format!("cannot write in {} ({e}); fix its permissions or choose another store", dir.display()),
        ),
    }
    match free_space(dir) {
        Some(free) if free < LOW_SPACE => add(
            "free space",
            Level::Warn,
            format!("{} MiB free on the store's disk; run `cargo ipfs gc --max-size SIZE` or free space", free >> 20),
        ),
        Some(free) => add("free space", Level::Ok, format!("{} GiB free on the store's disk", free >> 30)),
        None => add("free space", Level::Warn, "cannot read the store's free space".into()),
    }
}

/// The free bytes of the file system holding `dir` (`df`'s answer).
fn free_space(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("df").arg("-Pk").arg(dir).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib << 10)
}

fn config(dir: &Path, add: &mut Add) {
    match crate::sources::config::read_config(dir) {
        Ok(file) => {
            let trust = IndexState::new(dir).trust().unwrap_or_default();
            let untrusted: Vec<&str> =
                file.subscriptions.iter().map(|s| s.index.as_str()).filter(|i| !trust.contains_key(*i)).collect();
            if untrusted.is_empty() {
                add("config.json", Level::Ok, format!("{} subscription(s)", file.subscriptions.len()));
            } else {
                add(
                    "config.json",
                    Level::Fail,
                    format!(
                        "subscribed to untrusted index(es) {}; run `cargo ipfs subscribe NAME --key PUBKEY` again",
                        untrusted.join(", ")
                    ),
                );
            }
        }
        Err(e) => add("config.json", Level::Fail, crate::report::Chain(&e).to_string()),
    }
    match crate::pinning::remote::read_services(dir) {
        Ok(services) => add("pin-services.json", Level::Ok, format!("{} pinning service(s)", services.len())),
        Err(e) => add("pin-services.json", Level::Fail, crate::report::Chain(&e).to_string()),
    }
}

fn trust(dir: &Path, add: &mut Add) {
    let local = IndexState::new(dir);
    let (trust, seen) = match (local.trust(), local.seen()) {
        (Ok(t), Ok(s)) => (t, s),
        (Err(e), _) | (_, Err(e)) => {
            add("trusted keys", Level::Fail, format!("{e}; fix or remove the file"));
            return;
        }
    };
    if trust.is_empty() {
        add(
            "trusted keys",
            Level::Warn,
            "no index is trusted: fetches restore nothing; `cargo ipfs subscribe NAME --key PUBKEY`".into(),
        );
    }
    for (name, t) in &trust {
        let detail = match seen.get(name) {
            Some(s) => format!("{} key(s), threshold {}; last verified version {}", t.keys.len(), t.threshold, s.seq),
            None => format!("{} key(s), threshold {}; never resolved here yet", t.keys.len(), t.threshold),
        };
        add(&format!("index {name}"), Level::Ok, detail);
    }
}

fn sources(dir: &Path, add: &mut Add) {
    let Ok(file) = crate::sources::config::read_config(dir) else { return };
    let mut gateways: Vec<String> = std::env::var(crate::vars::GATEWAYS)
        .map(|v| crate::sources::config::gateway_list(&v))
        .unwrap_or_else(|_| file.gateways.clone());
    for s in &file.subscriptions {
        gateways.extend(s.gateways.iter().cloned());
    }
    gateways.sort();
    gateways.dedup();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let (Ok(runtime), Ok(client)) = (runtime, reqwest::Client::builder().timeout(Duration::from_secs(5)).build())
    else {
        return;
    };
    for gateway in gateways {
        // The trustless gateway probe: the empty identity CID as a raw block.
        let url = format!("{}/ipfs/bafkqaaa?format=raw", gateway.trim_end_matches('/'));
        let answer = runtime.block_on(async { client.get(&url).send().await.map(|r| r.status()) });
        match answer {
            Ok(status) if status.is_success() => add(&format!("gateway {gateway}"), Level::Ok, "answers".into()),
            Ok(status) => add(
                &format!("gateway {gateway}"),
                Level::Warn,
                format!("answered {status} to the trustless gateway probe"),
            ),
            Err(e) => {
                add(&format!("gateway {gateway}"), Level::Warn, format!("does not answer ({e}); fetches skip it"))
            }
        }
    }
    let kubo = std::env::var(crate::vars::KUBO).ok().or(file.kubo);
    if let Some(addr) = kubo.filter(|k| !k.trim().is_empty()) {
        let checked = crate::store::KuboStore::connect(
            &addr,
            crate::store::KuboOptions { timeout: Duration::from_secs(5), offline: true },
        )
        .and_then(|k| k.checked_version());
        match checked {
            Ok(version) => add(&format!("kubo {addr}"), Level::Ok, format!("kubo {version}")),
            Err(e) => add(&format!("kubo {addr}"), Level::Fail, e.to_string()),
        }
    }
}
