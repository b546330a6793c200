//! The index explorer in a real browser: a publisher's store with two
//! versions of `demo-index`, and the attestation index of a rebuilder that
//! attests itoa, served read-only; headless Chromium loads the overview,
//! an index's history, a crate's page and a search, and the rendered pages
//! name what the verified index holds. The crate page's screenshot is
//! written where `EXPLORER_SCREENSHOT` says (docs/explorer-crate.png is
//! one). Reading pages writes no file of the store. Without Chromium the
//! test says so and passes, except under `CI=true`, where it fails.

mod common;

use common::{copy_dir, spawn_serve, Machine, Publisher, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        let found = Command::new("which").arg(name).output().ok()?;
        let path = String::from_utf8(found.stdout).ok()?.trim().to_string();
        (found.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
    })
}

/// Chromium, headless, as root on a closed network, with its own profile.
fn browser(chromium: &Path, profile: &Path, args: &[&str]) -> String {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium {args:?} failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn state_files(store: &Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    ["trust.json", "seen.json", "pins.json", "published.json"]
        .iter()
        .filter_map(|f| {
            let path = store.join(f);
            Some((f.to_string(), std::fs::read(&path).ok()?, std::fs::metadata(&path).ok()?.modified().ok()?))
        })
        .collect()
}

#[test]
fn the_explorer_renders_indexes_history_crates_attestations_and_search_in_chromium() {
    let Some(chromium) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true: Chromium is required (`apt-get install chromium`)"
        );
        eprintln!("SKIPPED: no Chromium on this machine (install Debian's `chromium` to run the explorer test)");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let a = Publisher::new(&tmp.path().join("a"), "demo");
    let server = Server::start(&a.machine.store);

    // A rebuilder attests itoa; its attestation index joins the store.
    let r = Machine::new(&tmp.path().join("r1"), "rebuild/demo", &tmp.path().join("r1/store"));
    r.ok(&["trust", "add", "demo-index", &a.name]);
    let r_key = r.ok(&["key", "gen", "r1"]).trim().to_string();
    r.ok(&["index", "init", "--name", "r1", "--key", "r1", "--attestations"]);
    let out = r
        .cmd(&["attest", "--as", "r1", "--gateway", &server.1, "--crate", "itoa@1.0.19"])
        .env("CARGO_NET_OFFLINE", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    drop(server);
    for part in ["blocks", "ipns"] {
        copy_dir(&r.store.join(part), &a.machine.store.join(part));
    }
    a.machine.ok(&["trust", "add", "r1", &r_key, "--rebuilder"]);

    let before = state_files(&a.machine.store);
    let (mut child, url) = spawn_serve(&a.machine.store, &["--read-only"], Stdio::null());
    let profile = tmp.path().join("profile");
    let page = |path: &str| browser(&chromium, &profile, &["--dump-dom", &format!("{url}{path}")]);

    let overview = page("/");
    for expected in ["demo-index", "r1", &a.name, "attestations", "Indexes"] {
        assert!(overview.contains(expected), "the overview lacks {expected:?}: {overview}");
    }
    let index = page("/explorer/index/demo-index");
    assert!(
        index.contains("History")
            && index.contains("first version")
            && index.contains("<summary>+")
            && index.contains(" −0</summary>"),
        "{index}"
    );
    assert!(index.contains("serde_derive") && index.contains("unicode-ident"), "the crate list: {index}");
    // The script ran under the Content-Security-Policy: it shows the filter.
    let filter = index.split("class=\"filter\"").nth(1).unwrap_or("").split('>').next().unwrap_or("").to_string();
    assert!(!filter.is_empty() && !filter.contains("hidden"), "the filter stayed hidden: {filter}");

    let itoa = page("/explorer/index/demo-index/crate/itoa");
    assert!(itoa.contains("itoa 1.0.19") && itoa.contains("x86_64"), "{itoa}");
    assert!(itoa.contains("✓ r1"), "itoa's entry shows r1's attestation: {itoa}");
    let serde = page("/explorer/index/demo-index/crate/serde");
    assert!(serde.contains("r1: no statement"), "serde is not attested by r1: {serde}");

    let found = page("/explorer/search?q=serde_");
    assert!(found.contains("serde_derive") && found.contains("serde_core") && !found.contains(">itoa<"), "{found}");

    let shot = std::env::var_os("EXPLORER_SCREENSHOT").map_or_else(|| tmp.path().join("crate.png"), PathBuf::from);
    browser(
        &chromium,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,720",
            &format!("{url}/explorer/index/demo-index/crate/itoa"),
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a screenshot of the crate page");

    // JSON for scripts: the same entries, with attestations.
    let api: serde_json::Value =
        serde_json::from_str(&page_text(&url, "/explorer/api/index/demo-index/crate/itoa")).unwrap();
    assert_eq!(api[0]["name"], "itoa");
    assert_eq!(api[0]["attestations"]["by"][0], "r1", "{api}");

    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(state_files(&a.machine.store), before, "the explorer wrote to the store");

    // Off: neither the page nor the API answers.
    let (mut child, url) = spawn_serve(&a.machine.store, &["--no-explorer"], Stdio::null());
    let (page_off, api_off) = (get(&url, "/").0, get(&url, "/explorer/api/indexes").0);
    let _ = child.kill();
    let _ = child.wait();
    assert!(page_off.starts_with("HTTP/1.1 404") && api_off.starts_with("HTTP/1.1 404"), "{page_off}");
}

/// A response's head and body over plain HTTP/1.1.
fn get(url: &str, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

/// A JSON endpoint's body, checked to come with the explorer's headers.
fn page_text(url: &str, path: &str) -> String {
    let (head, body) = get(url, path);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_lowercase().contains("content-security-policy: default-src 'none'"), "{head}");
    body
}
