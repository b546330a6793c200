//! Contract tests of `pin remote`: the clients of the IPFS Pinning Service
//! API, IPFS Cluster's REST API and kubo's `pin/*` against stand-ins on
//! loopback that follow the published references (status transitions,
//! pagination, throttling, failures, an expired token), the Pinning
//! Service exchanges checked against the committed OpenAPI document; and
//! `cargo ipfs pin remote add` end to end: a published index pinned on all
//! three, idempotent on a second run, `--only-new` on a later version.

mod common;

use cargo_ipfs_fetch::formats::block::{Block, RAW};
use cargo_ipfs_fetch::pinning::remote::cluster::Cluster;
use cargo_ipfs_fetch::pinning::remote::http::{RemoteError, Retry};
use cargo_ipfs_fetch::pinning::remote::kubo::KuboTarget;
use cargo_ipfs_fetch::pinning::remote::psa::PinningService;
use cargo_ipfs_fetch::pinning::remote::standin::cluster::ClusterStandIn;
use cargo_ipfs_fetch::pinning::remote::standin::psa::{Behaviour, PinningServiceStandIn};
use cargo_ipfs_fetch::pinning::remote::standin::Exchange;
use cargo_ipfs_fetch::pinning::remote::{Api, Credentials, Labels, Outcome, Pace, Service, Target, Wanted};
use cargo_ipfs_fetch::store::kubo::replay::KuboReplay;
use common::Machine;
use std::path::Path;
use std::time::Duration;

fn pace() -> Pace {
    let retry = Retry {
        attempts: 4,
        base: Duration::from_millis(20),
        cap: Duration::from_millis(100),
        timeout: Duration::from_secs(10),
    };
    Pace { retry, wait: Duration::from_secs(20), poll: Duration::from_millis(10) }
}

fn blocks(n: usize, tag: &str) -> Vec<Block> {
    (0..n).map(|i| Block::encode(RAW, false, format!("{tag} {i}").into_bytes())).collect()
}

fn wanted(blocks: &[Block]) -> Vec<Wanted> {
    blocks.iter().enumerate().map(|(i, b)| Wanted { cid: *b.cid(), name: format!("test {i}") }).collect()
}

fn labels() -> Labels {
    Labels { index: "demo".into(), seq: 1 }
}

fn run(target: &dyn Target, wanted: &[Wanted]) -> Result<Vec<Outcome>, RemoteError> {
    let mut seen = 0;
    let outcomes = target.pin_all(wanted, &labels(), &mut |_, _| seen += 1)?;
    assert_eq!(seen, wanted.len(), "progress hears every CID settle");
    Ok(outcomes)
}

fn bearer(token: &str) -> Credentials {
    Credentials::Bearer { token: token.into(), from: "the environment variable PSA_TOKEN".into() }
}

/// Checks the exchanges against the committed OpenAPI document with the
/// script in `scripts/` (Python's jsonschema and PyYAML, which schemathesis
/// brings); skipped with a message where they are missing, except under CI.
fn check_against_openapi(exchanges: &[Exchange]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("exchanges.json");
    std::fs::write(&file, serde_json::to_vec(exchanges).unwrap()).unwrap();
    let out = std::process::Command::new("python3")
        .arg(root.join("scripts/check-psa-exchanges.py"))
        .arg(root.join("docs/spec/ipfs-pinning-service.yaml"))
        .arg(&file)
        .output();
    match out {
        Ok(out) if out.status.code() == Some(3) && std::env::var("CI").is_err() => {
            eprintln!("skipping the OpenAPI check: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(out) => assert!(
            out.status.success(),
            "exchanges that break the OpenAPI document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if std::env::var("CI").is_err() => eprintln!("skipping the OpenAPI check: no python3 ({e})"),
        Err(e) => panic!("python3 is needed for the OpenAPI check: {e}"),
    }
}

#[test]
fn pinning_service_pins_through_its_states_pages_retries_and_is_idempotent() {
    let service = PinningServiceStandIn::start("secret");
    let client = PinningService::new("psa", service.url(), bearer("secret"), pace()).unwrap();
    // Four pins a page, throttled at first: the listing pages, the client retries.
    service.set_behaviour(Behaviour { page_cap: 4, throttle: 2, ..Behaviour::default() });
    let all = blocks(10, "psa");
    let first = run(&client, &wanted(&all[..6])).unwrap();
    assert_eq!(first, vec![Outcome::Pinned; 6]);
    assert!(service.pins().iter().all(|p| p.status == cargo_ipfs_fetch::pinning::remote::psa::Status::Pinned));
    let log = service.exchanges();
    assert_eq!(log.iter().take(2).map(|e| e.status).collect::<Vec<_>>(), [429, 429], "throttled, then retried");
    let statuses: Vec<String> = log
        .iter()
        .filter(|e| e.method == "GET" && e.path.starts_with("/pins/"))
        .filter_map(|e| e.answer.as_ref()?.get("status")?.as_str().map(str::to_string))
        .collect();
    assert!(statuses.contains(&"pinning".into()) && statuses.contains(&"pinned".into()), "{statuses:?}");
    let posts = |s: &PinningServiceStandIn| s.exchanges().iter().filter(|e| e.method == "POST").count();
    assert_eq!(posts(&service), 6);

    // Ten wanted, six there: the listing takes two pages (4 + 2), and only
    // the four new ones are posted; one cannot be found and fails.
    let mut unfindable = std::collections::HashSet::new();
    unfindable.insert(hex::encode(all[9].cid().hash().to_bytes()));
    service.set_behaviour(Behaviour { page_cap: 4, unfindable, ..Behaviour::default() });
    let before = service.exchanges().len();
    let second = run(&client, &wanted(&all)).unwrap();
    assert_eq!(&second[..6], vec![Outcome::Already; 6].as_slice());
    assert_eq!(&second[6..9], vec![Outcome::Pinned; 3].as_slice());
    assert!(matches!(&second[9], Outcome::Failed(why) if why.contains("could not be found")), "{:?}", second[9]);
    let listing: Vec<Exchange> =
        service.exchanges()[before..].iter().filter(|e| e.method == "GET" && e.path == "/pins").cloned().collect();
    assert_eq!(listing.len(), 2, "two pages: {listing:?}");
    assert!(
        listing[1].query.iter().any(|(k, _)| k == "before"),
        "the second page is asked for before the first's oldest"
    );
    assert_eq!(posts(&service), 10);

    // A third run: the failed one is asked for again; nothing else.
    service.set_behaviour(Behaviour::default());
    let third = run(&client, &wanted(&all)).unwrap();
    assert_eq!(third.iter().filter(|o| **o == Outcome::Already).count(), 9);
    assert_eq!(third[9], Outcome::Pinned);
    assert_eq!(posts(&service), 11);

    // An expired token is named as such, with where to put a new one, and not retried.
    service.expire_token("fresh");
    let before = service.exchanges().len();
    let err = run(&client, &wanted(&all)).unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("expired") && err.contains("PSA_TOKEN"), "{err}");
    assert_eq!(service.exchanges().len(), before + 1, "a refused token is not retried");
    let fresh = PinningService::new("psa", service.url(), bearer("fresh"), pace()).unwrap();
    assert_eq!(run(&fresh, &wanted(&all)).unwrap(), vec![Outcome::Already; 10]);

    check_against_openapi(&service.exchanges());
}

#[test]
fn pinning_service_stand_in_refuses_what_the_document_refuses() {
    use cargo_ipfs_fetch::pinning::remote::http::Http;
    use reqwest::Method;
    let service = PinningServiceStandIn::start("secret");
    let http = Http::new("psa", service.url(), bearer("secret"), pace().retry).unwrap();
    let status = |m: Method, path: &str, body: Option<serde_json::Value>| {
        http.send(m, path, body.as_ref()).unwrap().status.as_u16()
    };
    assert_eq!(status(Method::GET, "/pins", None), 200);
    assert_eq!(status(Method::GET, "/pins?limit=0", None), 400);
    assert_eq!(status(Method::GET, "/pins?limit=1001", None), 400);
    assert_eq!(status(Method::GET, "/pins?status=lost", None), 400);
    assert_eq!(status(Method::GET, "/pins?before=yesterday", None), 400);
    assert_eq!(status(Method::GET, "/pins?meta=notjson", None), 400);
    assert_eq!(status(Method::POST, "/pins", Some(serde_json::json!({ "name": "no cid" }))), 400);
    assert_eq!(status(Method::POST, "/pins", Some(serde_json::json!({ "cid": "x", "name": null }))), 400);
    assert_eq!(status(Method::POST, "/pins", Some(serde_json::json!({ "cid": "x", "name": "n".repeat(256) }))), 400);
    assert_eq!(status(Method::POST, "/pins", Some(serde_json::json!({ "cid": "x", "origins": ["/a", "/a"] }))), 400);
    // Any string is a `cid` to the document: one that is not a CID is
    // accepted, and fails as a service that cannot find it would.
    let odd = http.send(Method::POST, "/pins", Some(&serde_json::json!({ "cid": "not a cid" }))).unwrap();
    assert_eq!(odd.status.as_u16(), 202);
    let odd: serde_json::Value = serde_json::from_slice(&odd.body).unwrap();
    let id = odd["requestid"].as_str().unwrap();
    let after = http.send(Method::GET, &format!("/pins/{id}"), None).unwrap();
    let after: serde_json::Value = serde_json::from_slice(&after.body).unwrap();
    assert_eq!(after["status"], "failed", "{after}");
    assert_eq!(status(Method::GET, "/pins/unknown", None), 404);
    assert_eq!(status(Method::DELETE, "/pins/unknown", None), 404);
    let cid = blocks(1, "x")[0].cid().to_string();
    let answer = http.send(Method::POST, "/pins", Some(&serde_json::json!({ "cid": cid, "name": "x" }))).unwrap();
    assert_eq!(answer.status.as_u16(), 202);
    let created: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let id = created["requestid"].as_str().unwrap();
    let replaced =
        http.send(Method::POST, &format!("/pins/{id}"), Some(&serde_json::json!({ "cid": cid, "name": "y" }))).unwrap();
    assert_eq!(replaced.status.as_u16(), 202);
    let new: serde_json::Value = serde_json::from_slice(&replaced.body).unwrap();
    assert_ne!(new["requestid"], created["requestid"], "a replacement is a new request");
    assert_eq!(status(Method::GET, &format!("/pins/{id}"), None), 404, "the replaced request is gone");
    let new_id = new["requestid"].as_str().unwrap();
    assert_eq!(status(Method::DELETE, &format!("/pins/{new_id}"), None), 202);
    assert_eq!(status(Method::GET, &format!("/pins/{new_id}"), None), 404);
    let anonymous = Http::new("psa", service.url(), Credentials::None, pace().retry).unwrap();
    let err = anonymous.send(Method::GET, "/pins", None).unwrap_err().to_string();
    assert!(err.contains("401"), "{err}");
    check_against_openapi(&service.exchanges());
}

#[test]
fn cluster_pins_with_replication_factors_and_reports_peer_errors() {
    let cluster = ClusterStandIn::start(Some("Basic YWRtaW46aHVudGVyMg==")); // admin:hunter2
    let service = Service {
        api: Api::Cluster,
        endpoint: cluster.url().into(),
        token_env: None,
        token_file: None,
        basic_user: Some("admin".into()),
        replication_min: Some(2),
        replication_max: Some(2),
    };
    let credentials = Credentials::Basic { user: "admin".into(), password: "hunter2".into(), from: "a test".into() };
    let client = Cluster::new("cluster", &service, credentials, pace()).unwrap();
    let all = blocks(4, "cluster");
    cluster.fail(all[3].cid());
    let outcomes = run(&client, &wanted(&all)).unwrap();
    assert_eq!(&outcomes[..3], vec![Outcome::Pinned; 3].as_slice());
    assert!(matches!(&outcomes[3], Outcome::Failed(why) if why.contains("could not be found")), "{:?}", outcomes[3]);
    assert!(cluster.pins().values().all(|peers| *peers == 2), "allocated to replication-max peers");
    let post = cluster.exchanges().into_iter().find(|e| e.method == "POST").unwrap();
    let q = |k: &str| post.query.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(
        (q("mode"), q("replication-min"), q("replication-max")),
        (Some("recursive".into()), Some("2".into()), Some("2".into()))
    );
    assert_eq!(q("name").as_deref(), Some("test 0"));
    let posts = |c: &ClusterStandIn| c.exchanges().iter().filter(|e| e.method == "POST").count();
    assert_eq!(posts(&cluster), 4);
    // Again: the three are held already, the failed one is asked for again.
    let again = run(&client, &wanted(&all[..3])).unwrap();
    assert_eq!(again, vec![Outcome::Already; 3]);
    assert_eq!(posts(&cluster), 4, "nothing pinned twice");
    let wrong = Credentials::Basic { user: "admin".into(), password: "wrong".into(), from: "a test".into() };
    let err = run(&Cluster::new("cluster", &service, wrong, pace()).unwrap(), &wanted(&all)).unwrap_err().to_string();
    assert!(err.contains("401"), "{err}");
}

#[test]
fn kubo_pins_what_it_holds_and_is_told_to_stop_searching_for_the_rest() {
    let node = KuboReplay::start();
    let held = blocks(2, "kubo");
    node.hold(&held);
    let missing = blocks(1, "absent");
    let mut short = pace();
    short.wait = Duration::from_millis(1500);
    let target = KuboTarget::connect("node", node.url(), short).unwrap();
    let mut all = wanted(&held);
    all.extend(wanted(&missing));
    let outcomes = run(&target, &all).unwrap();
    assert_eq!(&outcomes[..2], vec![Outcome::Pinned; 2].as_slice());
    assert!(matches!(&outcomes[2], Outcome::Pending(_)), "{:?}", outcomes[2]);
    let add = node.seen().into_iter().rfind(|s| s.path == "/api/v0/pin/add").unwrap();
    assert_eq!((add.param("recursive"), add.param("progress")), (Some("true"), Some("false")));
    assert!(add.param("timeout").is_some(), "kubo is told when to stop searching");
    assert!(node.pins().contains(held[0].cid()));
    assert_eq!(run(&target, &wanted(&held)).unwrap(), vec![Outcome::Already; 2]);
}

/// `pin remote add` end to end: a published index on a pinning service, a
/// cluster and a kubo node; a second run pins nothing; an expired token
/// fails the run and says so; `--only-new` on a later version.
#[test]
fn pin_remote_add_pins_an_index_everywhere_once() {
    let tmp = tempfile::tempdir().unwrap();
    let a = Machine::new(&tmp.path().join("a"), "demo", &tmp.path().join("a/store"));
    a.ok(&["key", "gen", "ci"]);
    a.ok(&["index", "init", "--name", "demo-index", "--key", "ci"]);
    let out = a.build(true);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    a.ok(&["publish", "--name", "demo-index"]);
    let service = PinningServiceStandIn::start("t1");
    let cluster = ClusterStandIn::start(None);
    let node = KuboReplay::start();
    a.ok(&["index", "push", "demo-index", "--kubo", node.url()]);
    a.ok(&[
        "pin",
        "remote",
        "service",
        "add",
        "psa",
        service.url(),
        "--api",
        "pinning-service",
        "--token-env",
        "PSA_TOKEN",
    ]);
    a.ok(&[
        "pin",
        "remote",
        "service",
        "add",
        "cl",
        cluster.url(),
        "--api",
        "cluster",
        "--replication-min",
        "1",
        "--replication-max",
        "2",
    ]);
    a.ok(&["pin", "remote", "service", "add", "node", node.url(), "--api", "kubo"]);
    let listed = a.ok(&["pin", "remote", "service", "ls"]);
    assert!(listed.contains("psa  pinning-service") && listed.contains("$PSA_TOKEN"), "{listed}");

    let svc = |report: &serde_json::Value, name: &str| {
        report["services"].as_array().unwrap().iter().find(|s| s["service"] == name).unwrap().clone()
    };
    let pin = |extra: &[&str], token: &str| {
        let mut args = vec!["pin", "remote", "add", "demo-index", "--json"];
        args.extend(extra);
        a.cmd(&args).env("PSA_TOKEN", token).output().unwrap()
    };
    let out = pin(&[], "t1");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = svc(&report, "psa")["total"].as_u64().unwrap();
    let journal = std::fs::read_to_string(a.store.join("journal.jsonl")).unwrap();
    assert!(total >= 4 && total <= journal.lines().count() as u64 + 1, "the root and each artifact: {report}");
    for s in report["services"].as_array().unwrap() {
        assert_eq!(s["total"], total, "{s}");
        assert_eq!(s["failed"], serde_json::json!([]), "{s}");
    }
    assert_eq!(service.pins().len() as u64, total);
    assert_eq!(cluster.pins().len() as u64, total);
    assert_eq!(svc(&report, "node")["already"], total, "the push pinned everything on the node: {report}");

    // Again: everything is there, nothing is posted.
    let posts = service.exchanges().iter().filter(|e| e.method == "POST").count();
    let out = pin(&[], "t1");
    assert!(out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["services"].as_array().unwrap().iter().all(|s| s["already"] == total), "{report}");
    assert_eq!(service.exchanges().iter().filter(|e| e.method == "POST").count(), posts);
    let text = a.cmd(&["pin", "remote", "add", "--service", "cl"]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains(&format!("all {total} CIDs pinned already")));

    // An expired token: the run fails, names it, and the others still pin.
    service.expire_token("t2");
    let out = pin(&[], "t1");
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let error = svc(&report, "psa")["error"].as_str().unwrap().to_string();
    assert!(error.contains("expired") && error.contains("PSA_TOKEN"), "{error}");
    assert_eq!(svc(&report, "cl")["already"], total);

    // A new version with nothing added: --only-new asks for its root alone.
    a.ok(&["index", "refresh", "--name", "demo-index"]);
    let out = pin(&["--only-new", "--service", "psa"], "t2");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((report["seq"].as_u64(), report["services"][0]["total"].as_u64()), (Some(3), Some(1)), "{report}");
    assert_eq!(report["services"][0]["pinned"].as_u64(), Some(1));

    // A mirror that pins what it mirrors on a service of its own.
    let server = common::Server::start(&a.store);
    let m = Machine::new(&tmp.path().join("m"), "m/demo", &tmp.path().join("m/store"));
    let key = a.ok(&["key", "list", "--json"]);
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    let ipns = key.as_array().unwrap().iter().find(|k| k["name"] == "ci").unwrap()["ipns_base36"]
        .as_str()
        .unwrap()
        .to_string();
    m.ok(&["trust", "add", "demo-index", &ipns]);
    let mirror_service = PinningServiceStandIn::start("m1");
    m.ok(&[
        "pin",
        "remote",
        "service",
        "add",
        "mine",
        mirror_service.url(),
        "--api",
        "pinning-service",
        "--token-env",
        "M_TOKEN",
    ]);
    let out = m
        .cmd(&["mirror", "demo-index", "--gateway", &server.1, "--pin-to", "mine"])
        .env("M_TOKEN", "m1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("{total} pinned now")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mirror_service.pins().len() as u64, total, "the version mirrored, pinned on the mirror's service");
    let out = m.cmd(&["mirror", "demo-index", "--gateway", &server.1, "--pin-to", "absent"]).output().unwrap();
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no pinning service named `absent`")
    );
}

/// schemathesis (from PyPI) generates requests from the committed OpenAPI
/// document and checks every answer of the stand-in against it: status
/// codes, content types, bodies, and that refused input is refused. Skipped
/// with a message where schemathesis is not installed, except under CI.
#[test]
fn schemathesis_finds_the_pinning_service_stand_in_conforming() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let service = PinningServiceStandIn::start("secret");
    let scratch = tempfile::tempdir().unwrap(); // schemathesis keeps a cache where it runs
    let out = std::process::Command::new("schemathesis")
        .current_dir(scratch.path())
        .arg("run")
        .arg(root.join("docs/spec/ipfs-pinning-service.yaml"))
        .args(["--url", service.url(), "-H", "Authorization: Bearer secret", "--checks", "all"])
        .args(["--max-examples", "25", "--seed", "1", "--request-timeout", "10", "--no-color"])
        .env("SCHEMATHESIS_HOOKS", "")
        .output();
    match out {
        Err(e) if std::env::var("CI").is_err() => {
            eprintln!("skipping: schemathesis is not installed ({e}); `pip install schemathesis`")
        }
        Err(e) => panic!("schemathesis is needed under CI (.ci/run installs it): {e}"),
        Ok(out) => assert!(
            out.status.success(),
            "schemathesis found the stand-in breaking the document:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
    assert!(service.exchanges().len() > 20, "schemathesis sent requests");
}
