//! The index round trip through the real binary: init, several versions,
//! show, verify, log, diff, key rotation, trust, and refusals.

mod common;

use common::Env;
use std::path::{Path, PathBuf};

fn entry(name: &str, version: &str, key: &str, builder: &str) -> String {
    serde_json::json!({
        "name": name, "version": version,
        "source": "registry+https://github.com/rust-lang/crates.io-index",
        "checksum": "a".repeat(64), "key": key,
        "cid": "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
        "size": 12, "unpacked_size": 3072, "sha256": "b".repeat(64),
        "outputs": [{"name": format!("lib{name}.rlib"), "kind": "rlib"}],
        "rustc": "1.95.0 59807616e1fa2540724bfbac14d7976d7e4a3860",
        "target": "x86_64-unknown-linux-gnu", "crate_types": ["lib"],
        "built_at": 1_800_000_000u64, "builder": builder,
    })
    .to_string()
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim).unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn publish_show_verify_log_diff_and_rotate() {
    let env = Env::new();
    let ipns = env.ok(&["key", "gen", "publisher"]).trim().to_string();
    let out = env.ok(&["index", "init", "--name", "demo", "--key", "publisher"]);
    assert!(out.contains("version 1") && out.contains(&ipns), "{out}");
    let v1 = field(&env.ok(&["index", "show", "demo"]), "root:").to_string();

    let a =
        write(env.dir.path(), "a.jsonl", &[entry("serde", "1.0.0", "01", &ipns), entry("tokio", "1.0.0", "02", &ipns)]);
    assert!(env.ok(&["index", "add", "--name", "demo", a.to_str().unwrap()]).contains("version 2"));
    assert!(env.ok(&["index", "add", "--name", "demo", a.to_str().unwrap()]).contains("no new entries"));
    let b = write(env.dir.path(), "b.jsonl", &[entry("serde", "1.0.1", "03", &ipns), entry("a", "0.1.0", "04", &ipns)]);
    assert!(env.ok(&["index", "add", "--name", "demo", b.to_str().unwrap()]).contains("version 3 "));

    let show = env.ok(&["index", "show", "demo"]);
    assert_eq!(field(&show, "version:"), "3");
    assert!(field(&show, "verified:").contains("trusted keys"), "{show}");
    let entries: serde_json::Value =
        serde_json::from_str(&env.ok(&["index", "show", "demo", "--crate", "serde", "--json"])).unwrap();
    assert_eq!(entries.as_array().unwrap().len(), 2);
    let verify = env.ok(&["index", "verify", "demo"]);
    assert!(verify.contains("verified (3 crates, 4 entries"), "{verify}");
    let log = env.ok(&["index", "log", "demo"]);
    assert_eq!(log.lines().filter(|l| l.starts_with("version")).count(), 3, "{log}");
    let diff = env.ok(&["index", "diff", &v1, "demo"]);
    assert!(diff.contains("+ serde 1.0.1 03") && diff.ends_with("4 added, 0 removed\n"), "{diff}");

    // Rotation to a new key, signed by the old one: the subscriber (here the
    // publisher's own trust) follows it.
    env.ok(&["key", "gen", "next"]);
    assert!(env.ok(&["index", "rotate", "--name", "demo", "--key", "next"]).contains("version 4"));
    let c = write(env.dir.path(), "c.jsonl", &[entry("rand", "0.8.5", "05", &ipns)]);
    env.ok(&["index", "add", "--name", "demo", c.to_str().unwrap()]);
    let out = env.run(&["index", "show", "demo"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("followed a signed key rotation"));
    let trust = env.ok(&["trust", "list", "--json"]);
    let next = env
        .ok(&["key", "list"])
        .lines()
        .find(|l| l.starts_with("next "))
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .to_string();
    assert!(trust.contains(&next), "trust now names the new key: {trust}");
}

#[test]
fn refusals_name_the_index_and_the_fix() {
    let env = Env::new();
    let err = env.fails(&["index", "show", "nothing"]);
    assert!(err.contains("`nothing` is not trusted here") && err.contains("cargo ipfs trust add nothing"), "{err}");
    env.ok(&["key", "gen", "k"]);
    env.ok(&["index", "init", "--name", "demo", "--key", "k"]);
    assert!(env.fails(&["index", "init", "--name", "demo", "--key", "k"]).contains("already exists"));
    assert!(env.fails(&["index", "add", "--name", "other", "x.jsonl"]).contains("is not published from this store"));
    let bad = write(env.dir.path(), "bad.jsonl", &["{\"name\": \"serde\"}".to_string()]);
    assert!(env.fails(&["index", "add", "--name", "demo", bad.to_str().unwrap()]).contains("bad.jsonl:1"));

    // A subscriber trusting another key refuses this index.
    let stranger = env.ok(&["key", "gen", "stranger"]).trim().to_string();
    let ipns =
        env.ok(&["key", "list"]).lines().find(|l| l.starts_with("k ")).unwrap().split(' ').nth(1).unwrap().to_string();
    env.ok(&["trust", "add", "demo", &stranger, "--ipns", &ipns]);
    let err = env.fails(&["index", "show", "demo"]);
    assert!(err.contains("signed by 0 of your trusted key(s), 1 needed"), "{err}");
    env.ok(&["trust", "rm", "demo"]);
    assert!(env.fails(&["trust", "rm", "demo"]).contains("is not trusted here"));
    assert!(env.fails(&["trust", "add", "demo", "not-a-key"]).contains("not-a-key"));
}

#[test]
fn committed_example_index_verifies() {
    // index/example/ is made by scripts/make-index-example.sh; a subscriber
    // with its trust entry resolves and verifies it from the CAR and record.
    let env = Env::new();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("index/example");
    let trust: serde_json::Value = serde_json::from_slice(&std::fs::read(example.join("trust.json")).unwrap()).unwrap();
    let (ipns, root) = (trust["ipns"].as_str().unwrap(), trust["root"].as_str().unwrap());
    let out = env.ok(&["car", "import", example.join("example.car").to_str().unwrap()]);
    assert!(out.contains(&format!("root {root}: complete")), "{out}");
    env.ok(&["trust", "add", "example", trust["keys"][0].as_str().unwrap(), "--ipns", ipns]);
    env.ok(&["name", "put", ipns, example.join("example.ipns-record").to_str().unwrap()]);
    let verify = env.ok(&["index", "verify", "example"]);
    // Three compilations and one build-script run (index format 3).
    assert!(verify.contains("version 3: verified (3 crates, 4 entries"), "{verify}");
    let shown = env.ok(&["cat", &format!("{root}/manifest.json")]);
    assert_eq!(shown.as_bytes(), std::fs::read(example.join("manifest.json")).unwrap());
    let serde: serde_json::Value =
        serde_json::from_str(&env.ok(&["index", "show", "example", "--crate", "serde", "--json"])).unwrap();
    let committed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(example.join("shard-serde.json")).unwrap()).unwrap();
    assert_eq!(serde, committed);
    assert_eq!(serde.as_array().unwrap().iter().filter(|e| e.get("run").is_some()).count(), 1, "{serde}");
    // A forged record (the example's, presented for another name) is refused.
    let other = env.ok(&["key", "gen", "other"]).trim().to_string();
    let err = env.fails(&["name", "put", &other, example.join("example.ipns-record").to_str().unwrap()]);
    assert!(err.contains("refusing"), "{err}");
}

#[test]
fn publish_sends_other_registries_crates_only_when_named() {
    let env = Env::new();
    let ipns = env.ok(&["key", "gen", "ci"]).trim().to_string();
    env.ok(&["index", "init", "--name", "mine", "--key", "ci"]);
    // Journaled artifacts must be in the store to be published.
    let artifact = env.write("artifact", b"the bytes of an artifact");
    let cid = env.ok(&["add", "-Q", "--cid-version", "1", artifact.to_str().unwrap()]).trim().to_string();
    let from = |name: &str, source: &str| {
        let mut e: serde_json::Value = serde_json::from_str(&entry(name, "1.0.0", "0a", &ipns)).unwrap();
        e["source"] = source.into();
        e["cid"] = cid.clone().into();
        e.to_string()
    };
    write(
        &env.store(),
        "journal.jsonl",
        &[
            from("public", "registry+https://github.com/rust-lang/crates.io-index"),
            from("named", "registry+local:registry.example.com-0123456789abcdef"),
            from("unnamed", "registry+local:other.example.com-0123456789abcdef"),
        ],
    );
    let in_index = |name: &str| {
        let out = env.run(&["index", "show", "mine", "--crate", name, "--json"]);
        out.status.success()
            && serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).is_ok_and(|v| !v.is_empty())
    };

    let out = env.run(&["publish", "--name", "mine"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("version 2") && stdout.contains("(1 new of 1 journaled"), "{stdout}");
    assert!(stderr.contains("2 journaled artifact(s) from registries other than crates.io held back"), "{stderr}");
    assert!(in_index("public") && !in_index("named") && !in_index("unnamed"));

    let out = env.run(&["publish", "--name", "mine", "--allow-registry", "registry.example.com"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("version 3") && stdout.contains("(1 new of 2 journaled"), "{stdout}");
    assert!(stderr.contains("1 journaled artifact(s)"), "{stderr}");
    assert!(in_index("public") && in_index("named") && !in_index("unnamed"));
}

#[test]
fn a_publisher_whose_record_went_back_never_signs_a_number_twice() {
    let env = Env::new();
    let ipns = env.ok(&["key", "gen", "ci"]).trim().to_string();
    env.ok(&["index", "init", "--name", "mine", "--key", "ci"]);
    let a = write(env.dir.path(), "a.jsonl", &[entry("serde", "1.0.0", "01", &ipns)]);
    assert!(env.ok(&["index", "add", "--name", "mine", a.to_str().unwrap()]).contains("version 2"));
    let record = env.store().join(format!("ipns/{ipns}.ipns-record"));
    let v2 = std::fs::read(&record).unwrap();
    let b = write(env.dir.path(), "b.jsonl", &[entry("tokio", "1.0.0", "02", &ipns)]);
    assert!(env.ok(&["index", "add", "--name", "mine", b.to_str().unwrap()]).contains("version 3"));
    // The store's record goes back to version 2 (restored from a backup).
    std::fs::write(&record, &v2).unwrap();
    let c = write(env.dir.path(), "c.jsonl", &[entry("itoa", "1.0.0", "03", &ipns)]);
    let out = env.ok(&["index", "add", "--name", "mine", c.to_str().unwrap()]);
    assert!(out.contains("version 4"), "built on version 3, not a second version 3: {out}");
    let verify = env.ok(&["index", "verify", "mine"]);
    assert!(verify.contains("3 crates, 3 entries"), "nothing of version 3 is lost: {verify}");
}

#[test]
fn refresh_signs_a_new_version_with_the_same_entries_and_a_week_by_default() {
    let env = Env::new();
    let ipns = env.ok(&["key", "gen", "publisher"]).trim().to_string();
    env.ok(&["index", "init", "--name", "demo", "--key", "publisher"]);
    let a = write(env.dir.path(), "a.jsonl", &[entry("serde", "1.0.0", "01", &ipns)]);
    env.ok(&["index", "add", "--name", "demo", a.to_str().unwrap()]);
    let before = env.ok(&["index", "show", "demo"]);
    let out = env.ok(&["index", "refresh", "--name", "demo"]);
    assert!(out.starts_with("index demo: version 3 at ") && out.contains("valid until"), "{out}");
    let after = env.ok(&["index", "show", "demo"]);
    assert_eq!(field(&after, "version:"), "3");
    // RFC 3339 times: a week apart, and no earlier than before.
    let time = |text: &str, name: &str| {
        let t = field(text, name);
        let (date, clock) = t.split_once('T').unwrap();
        let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
        // Days from a civil date (Howard Hinnant's algorithm), then seconds.
        let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
        let days = 365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + d[2];
        let c: Vec<i64> = clock.trim_end_matches('Z').split(':').map(|x| x.parse().unwrap()).collect();
        days * 86_400 + c[0] * 3600 + c[1] * 60 + c[2]
    };
    assert_eq!(time(&after, "expires:") - time(&after, "created:"), 7 * 86_400);
    assert!(time(&after, "expires:") >= time(&before, "expires:"));
    let diff = env.ok(&["index", "diff", "demo", "demo"]);
    assert!(diff.ends_with("0 added, 0 removed\n"), "{diff}");
    let err = env.fails(&["index", "refresh", "--name", "other"]);
    assert!(err.contains("not published from this store"), "{err}");
}
