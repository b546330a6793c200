//! `cargo ipfs index init|add|rotate|show|verify|log|diff`: publish an index
//! and read one, verified.

use super::{Global, Status};
use crate::formats::ipns::rfc3339;
use crate::index::entry::Entry;
use crate::index::local::{Local, Published};
use crate::index::publish::{publish, NewVersion, PublishParams};
use crate::index::resolve::{resolve_record, verify_root, Resolved};
use crate::index::tree::{all_shards, load_manifest, load_version, lookup, IndexVersion};
use crate::index::{Manifest, TrustedKeys};
use crate::publish::push;
use crate::store::{BlockStore, DiskStore, KuboOptions, KuboStore};
use anyhow::{bail, Context};
use cid::Cid;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `cargo ipfs index` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an index and publish its first, empty version under the first
    /// KEY's IPNS name.
    Init {
        /// The index name.
        #[arg(long)]
        name: String,
        /// Keystore keys that sign the index (repeat for several).
        #[arg(long = "key", required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// How many keys must sign each version.
        #[arg(long, default_value_t = 1)]
        threshold: u32,
        /// How many days each version stays valid.
        #[arg(long, default_value_t = 30, value_name = "DAYS")]
        lifetime_days: u64,
    },
    /// Add entries (JSON lines files, one entry per line) and publish a new version.
    Add {
        /// The index name.
        #[arg(long)]
        name: String,
        /// Files of entries.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Publish a version signed by a new key set (and by the old one).
    Rotate {
        /// The index name.
        #[arg(long)]
        name: String,
        /// The new keystore keys.
        #[arg(long = "key", required = true, value_name = "KEY")]
        keys: Vec<String>,
        /// The new threshold.
        #[arg(long, default_value_t = 1)]
        threshold: u32,
    },
    /// Show a version's manifest, or a crate's entries, verified.
    Show {
        /// A trusted index name, or a root CID.
        target: String,
        /// List this crate's entries.
        #[arg(long = "crate", value_name = "NAME")]
        krate: Option<String>,
        /// List every entry.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a version completely: record, signatures, every block and entry.
    Verify {
        /// A trusted index name, or a root CID.
        target: String,
    },
    /// Push a version and every artifact it names into a kubo node, pinned,
    /// and hand the node the IPNS record (a mirror that runs kubo).
    Push {
        /// A trusted index name, or a root CID.
        target: String,
        #[command(flatten)]
        kubo: KuboArgs,
    },
    /// Walk the history of versions through their `prev` links.
    Log {
        /// A trusted index name, or a root CID.
        target: String,
    },
    /// Entries added and removed between two versions.
    Diff {
        /// The older version (index name or root CID).
        old: String,
        /// The newer version (index name or root CID).
        new: String,
    },
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn show_time(secs: u64) -> String {
    rfc3339::format(UNIX_EPOCH + Duration::from_secs(secs)).unwrap_or_else(|| secs.to_string())
}

/// An index version that passed every check that applies to how it was named.
struct Opened {
    version: IndexVersion,
    /// How it was verified, for display.
    trust_note: String,
}

/// Opens `target` (a trusted index name, or a root CID) with every check.
fn open(store: &DiskStore, local: &Local, target: &str, now: SystemTime) -> anyhow::Result<Opened> {
    let trust = local.trust()?;
    let seen = local.seen()?;
    if let Ok(root) = crate::formats::block::parse_cid(target) {
        let version = load_version(store, &root).with_context(|| format!("cannot read index version {root}"))?;
        let index = version.manifest.index.clone();
        return match trust.get(&index) {
            Some(t) => {
                // A root given by hand is checked against trust, but not
                // against the last version seen: looking at old versions is fine.
                let resolved = verify_root(store, &root, &index, t, None, now)?;
                Ok(Opened { version: resolved.version, trust_note: format!("signed by trusted keys of index {index}") })
            }
            None => {
                crate::index::manifest::check_manifest(&version.manifest, &index, None, unix(now))?;
                Ok(Opened {
                    version,
                    trust_note: format!("signatures meet the manifest's own threshold; not checked against trusted keys (no trust configured for index {index})"),
                })
            }
        };
    }
    let t = trust.get(target).with_context(|| {
        format!(
            "index `{target}` is not trusted here; add its publisher keys with `cargo ipfs trust add {target} KEY...`"
        )
    })?;
    let name: crate::formats::ipns::IpnsName = t.ipns.parse()?;
    let record = store.records()?.get(&name)?;
    let resolved: Resolved = resolve_record(store, record.as_deref(), target, t, seen.get(target), now)?;
    accept(local, target, &resolved)?;
    Ok(Opened {
        version: resolved.version,
        trust_note: format!("IPNS record and signatures verified against your trusted keys for {target}"),
    })
}

/// Persists what a subscriber learned: the newest version seen, and a key
/// rotation it followed.
fn accept(local: &Local, index: &str, resolved: &Resolved) -> anyhow::Result<()> {
    let m = &resolved.version.manifest;
    local.record_seen(index, m.seq, &resolved.version.root.to_string())?;
    if let Some(TrustedKeys { keys, threshold }) = &resolved.rotated {
        local.update_trust(|t| {
            if let Some(entry) = t.get_mut(index) {
                entry.keys = keys.clone();
                entry.threshold = *threshold;
            }
        })?;
        eprintln!("index {index}: followed a signed key rotation; now trusting {} key(s)", keys.len());
    }
    Ok(())
}

/// `--kubo ADDR`: the kubo node to push to.
#[derive(Debug, clap::Args)]
pub struct KuboArgs {
    /// The kubo node's RPC API: `http://127.0.0.1:5001` or a multiaddr such
    /// as `/ip4/127.0.0.1/tcp/5001`.
    #[arg(long = "kubo", env = "CARGO_IPFS_KUBO", value_name = "ADDR")]
    pub addr: Option<String>,
}

/// Pushes the DAG of index version `root` and the `artifacts` into the
/// kubo node at `addr`, each pinned, then hands it `record` (the IPNS
/// record of `name` that points at `root`) to publish. An artifact whose
/// DAG neither this store nor the node holds wholly is left out, and
/// counted.
pub(crate) fn push_to_kubo(
    store: &DiskStore,
    addr: &str,
    root: &Cid,
    artifacts: &[Cid],
    record: Option<(&crate::formats::ipns::IpnsName, &[u8])>,
) -> anyhow::Result<()> {
    let kubo = KuboStore::connect(addr, KuboOptions::default())?;
    let version = kubo.version()?;
    let mut artifacts: Vec<Cid> = artifacts.iter().filter(|c| *c != root).copied().collect();
    artifacts.sort();
    artifacts.dedup();
    let pushed = push(store, &kubo, &[*root], &artifacts)?;
    println!(
        "kubo {version} at {}: {} roots pinned (the index version and {} artifacts); {} blocks ({} bytes) sent, the rest it had",
        kubo.url(),
        pushed.pinned,
        pushed.pinned.saturating_sub(1),
        pushed.blocks,
        pushed.bytes
    );
    if !pushed.incomplete.is_empty() {
        eprintln!(
            "{} artifacts are not (wholly) in this store or the node and are not pushed; fetch them first (`cargo ipfs car import`, or `cargo ipfs fetch` of a project that uses them)",
            pushed.incomplete.len()
        );
    }
    if let Some((name, bytes)) = record {
        kubo.put_record(name, bytes)?;
        println!("kubo at {}: IPNS record of {name} handed over for publishing", kubo.url());
    }
    Ok(())
}

/// The CIDs of every artifact a version names.
fn artifacts_of(store: &DiskStore, shards: &Cid) -> anyhow::Result<Vec<Cid>> {
    let mut cids = Vec::new();
    for (krate, _) in all_shards(store, shards)? {
        for entry in lookup(store, shards, &krate)? {
            cids.push(crate::formats::block::parse_cid(&entry.cid)?);
        }
    }
    Ok(cids)
}

/// Signs and stores a new version of a published index; stores the record
/// last, so a crash leaves the previous version published.
pub(crate) fn publish_version(
    global: &Global,
    store: &DiskStore,
    local: &Local,
    index: &str,
    changes: &BTreeMap<String, Vec<Entry>>,
    rotate_to: Option<(Vec<String>, u32)>,
) -> anyhow::Result<Option<NewVersion>> {
    let published = local.published()?;
    let config = published.get(index).with_context(|| {
        format!("index `{index}` is not published from this store; create it with `cargo ipfs index init`")
    })?;
    let keystore = global.open_keystore()?;
    let ipns_key = keystore.get(&config.ipns_key)?;
    let now = SystemTime::now();
    // The previous version is the one the stored record points at: the
    // record is written last, so it is the last complete publication.
    let record = store.records()?.get(&ipns_key.ipns_name())?;
    let prev = match record {
        Some(bytes) => {
            let rec = crate::formats::ipns::verify_record(&ipns_key.ipns_name(), &bytes, now)
                .with_context(|| format!("the stored record of index `{index}` is invalid"))?;
            let root = crate::formats::block::parse_cid(rec.value().trim_start_matches("/ipfs/"))?;
            Some(
                load_version(store, &root)
                    .with_context(|| format!("cannot read the current version of index `{index}`"))?,
            )
        }
        None => None,
    };
    // A record older than the head this store published (the store's
    // records restored from an older backup, say): build on the head, so
    // that no sequence number is ever signed for two different versions.
    let head = crate::formats::block::parse_cid(&config.head)
        .ok()
        .filter(|h| prev.as_ref().is_none_or(|p| p.root != *h))
        .and_then(|h| load_version(store, &h).ok());
    let prev = match (prev, head) {
        (Some(record), Some(head)) if head.manifest.seq > record.manifest.seq => Some(head),
        (None, Some(head)) => Some(head),
        (record, _) => record,
    };
    let mut signer_names = config.keys.clone();
    let (key_names, threshold) = match &rotate_to {
        Some((keys, threshold)) => {
            signer_names.extend(keys.iter().cloned());
            (keys.clone(), *threshold)
        }
        None => (config.keys.clone(), config.threshold),
    };
    signer_names.sort();
    signer_names.dedup();
    let signers = signer_names.iter().map(|n| keystore.get(n)).collect::<Result<Vec<_>, _>>()?;
    let keys =
        key_names.iter().map(|n| keystore.get(n).map(|k| k.ipns_name().to_string())).collect::<Result<Vec<_>, _>>()?;
    let params = PublishParams {
        index,
        signers: &signers,
        ipns_key: &ipns_key,
        keys,
        threshold,
        lifetime: Duration::from_secs(config.lifetime_secs),
        ttl: Duration::from_secs(300),
        now,
    };
    let Some(new) = publish(store, prev.as_ref(), changes, &params)? else { return Ok(None) };
    store.records()?.put(&ipns_key.ipns_name(), &new.record, now)?;
    local.update_published(|p| {
        if let Some(entry) = p.get_mut(index) {
            entry.head = new.version.root.to_string();
            if let Some((keys, threshold)) = &rotate_to {
                entry.keys = keys.clone();
                entry.threshold = *threshold;
            }
        }
    })?;
    Ok(Some(new))
}

fn read_entries(files: &[PathBuf]) -> anyhow::Result<BTreeMap<String, Vec<Entry>>> {
    let mut changes: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let entry: Entry = serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a valid index entry", file.display(), i + 1))?;
            entry.validate().with_context(|| format!("{}:{}", file.display(), i + 1))?;
            changes.entry(entry.name.to_ascii_lowercase()).or_default().push(entry);
        }
    }
    Ok(changes)
}

fn print_manifest(opened: &Opened) {
    let v = &opened.version;
    let m: &Manifest = &v.manifest;
    println!("index:     {}", m.index);
    println!("version:   {}", m.seq);
    println!("root:      {}", v.root);
    println!("manifest:  {}", v.manifest_cid);
    println!("shards:    {}", m.shards);
    println!("created:   {}", show_time(m.created));
    println!("expires:   {}", show_time(m.expires));
    println!("previous:  {}", m.prev.as_deref().unwrap_or("(none)"));
    println!("keys:      {} of {}", m.threshold, m.keys.len());
    for key in &m.keys {
        println!("           {key}");
    }
    println!("verified:  {}", opened.trust_note);
}

fn print_entries(entries: &[Entry], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(entries)?);
    } else {
        for e in entries {
            println!(
                "{} {} {} {} {} bytes key={} rustc={}",
                e.name, e.version, e.target, e.cid, e.size, e.key, e.rustc
            );
        }
    }
    Ok(())
}

/// Runs an index subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    let store = global.open_store()?;
    let local = Local::new(global.store_dir()?);
    let now = SystemTime::now();
    match cmd {
        Command::Init { name, keys, threshold, lifetime_days } => {
            crate::index::layout::shard_path(&name).map_err(|_| {
                anyhow::anyhow!("invalid index name {name:?}: use 1 to 64 ASCII letters, digits, '-' or '_'")
            })?;
            if local.published()?.contains_key(&name) {
                bail!("index `{name}` already exists in this store; use `cargo ipfs index add --name {name}` to publish entries");
            }
            if threshold == 0 || threshold as usize > keys.len() {
                bail!("--threshold {threshold} must be between 1 and the number of keys ({})", keys.len());
            }
            let keystore = global.open_keystore()?;
            let pairs = keys.iter().map(|k| keystore.get(k)).collect::<Result<Vec<_>, _>>()?;
            let ipns = pairs[0].ipns_name().to_string();
            let config = Published {
                keys: keys.clone(),
                ipns_key: keys[0].clone(),
                threshold,
                lifetime_secs: lifetime_days * 86_400,
                head: String::new(),
            };
            local.update_published(|p| p.insert(name.clone(), config))?;
            let new = publish_version(global, &store, &local, &name, &BTreeMap::new(), None)?
                .context("a new index always gets a first version")?;
            // The publisher trusts its own keys, so `index show NAME` works here.
            let trusted: Vec<String> = pairs.iter().map(|k| k.ipns_name().to_string()).collect();
            local.update_trust(|t| {
                t.entry(name.clone()).or_insert(crate::index::local::IndexTrust {
                    keys: trusted,
                    threshold,
                    ipns: ipns.clone(),
                });
            })?;
            println!(
                "index {name}: version {} at {}, published at /ipns/{ipns}",
                new.version.manifest.seq, new.version.root
            );
        }
        Command::Add { name, files } => {
            if !local.published()?.contains_key(&name) {
                bail!("index `{name}` is not published from this store; create it with `cargo ipfs index init`");
            }
            let changes = read_entries(&files)?;
            match publish_version(global, &store, &local, &name, &changes, None)? {
                Some(new) => println!(
                    "index {name}: version {} at {} ({} new entries)",
                    new.version.manifest.seq, new.version.root, new.added
                ),
                None => println!("index {name}: no new entries; the current version is unchanged"),
            }
        }
        Command::Rotate { name, keys, threshold } => {
            if threshold == 0 || threshold as usize > keys.len() {
                bail!("--threshold {threshold} must be between 1 and the number of keys ({})", keys.len());
            }
            let new = publish_version(global, &store, &local, &name, &BTreeMap::new(), Some((keys, threshold)))?
                .context("the key set is unchanged; nothing to rotate")?;
            println!(
                "index {name}: version {} at {} is signed by the new key set",
                new.version.manifest.seq, new.version.root
            );
        }
        Command::Show { target, krate, all, json } => {
            let opened = open(&store, &local, &target, now)?;
            let shards = opened.version.shards;
            if let Some(krate) = krate {
                print_entries(&lookup(&store, &shards, &krate)?, json)?;
            } else if all {
                let mut entries = Vec::new();
                for (krate, _) in all_shards(&store, &shards)? {
                    entries.extend(lookup(&store, &shards, &krate)?);
                }
                print_entries(&entries, json)?;
            } else if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "root": opened.version.root.to_string(),
                        "manifest_cid": opened.version.manifest_cid.to_string(),
                        "manifest": opened.version.manifest,
                        "verified": opened.trust_note,
                    }))?
                );
            } else {
                print_manifest(&opened);
            }
        }
        Command::Verify { target } => {
            let opened = open(&store, &local, &target, now)?;
            let mut blocks = 0u64;
            crate::dag::walk(&store, &opened.version.root, &mut |_| {
                blocks += 1;
                Ok(())
            })
            .with_context(|| format!("index version {} is incomplete or corrupt", opened.version.root))?;
            let shards = all_shards(&store, &opened.version.shards)?;
            let mut entries = 0;
            for (krate, _) in &shards {
                entries += lookup(&store, &opened.version.shards, krate)?.len();
            }
            let m = &opened.version.manifest;
            println!(
                "index {} version {}: verified ({} crates, {entries} entries, {blocks} blocks); {}",
                m.index,
                m.seq,
                shards.len(),
                opened.trust_note
            );
        }
        Command::Push { target, kubo } => {
            let addr = kubo.addr.context("no kubo node given; pass --kubo ADDR or set CARGO_IPFS_KUBO")?;
            let opened = open(&store, &local, &target, now)?;
            let version = &opened.version;
            // Artifacts this store lacks are left out by the push's walk.
            let artifacts = artifacts_of(&store, &version.shards)?;
            // A name brings its record along; a bare root has none to give.
            let record = match local.trust()?.get(&target) {
                Some(t) => {
                    let name: crate::formats::ipns::IpnsName = t.ipns.parse()?;
                    store.records()?.get(&name)?.map(|bytes| (name, bytes))
                }
                None => None,
            };
            push_to_kubo(&store, &addr, &version.root, &artifacts, record.as_ref().map(|(n, b)| (n, b.as_slice())))?;
        }
        Command::Log { target } => {
            let opened = open(&store, &local, &target, now)?;
            let mut manifest = opened.version.manifest.clone();
            let mut cid = opened.version.manifest_cid;
            loop {
                println!(
                    "version {:<6} {}  manifest {}  keys {} of {}",
                    manifest.seq,
                    show_time(manifest.created),
                    cid,
                    manifest.threshold,
                    manifest.keys.len()
                );
                let Some(prev) = manifest.prev.as_deref() else { break };
                let prev: Cid = crate::formats::block::parse_cid(prev)?;
                if !store.has(&prev)? {
                    println!("(older versions are not in the local store)");
                    break;
                }
                let older = load_manifest(&store, &prev)?;
                if older.index != manifest.index || older.seq >= manifest.seq {
                    bail!(
                        "manifest {prev} breaks the history of index {} (version {} after {})",
                        manifest.index,
                        older.seq,
                        manifest.seq
                    );
                }
                manifest = older;
                cid = prev;
            }
        }
        Command::Diff { old, new } => {
            let old = open(&store, &local, &old, now)?.version;
            let new = open(&store, &local, &new, now)?.version;
            let (added, removed) = crate::index::diff::diff(&store, &old.shards, &new.shards)?;
            for e in &removed {
                println!("- {} {} {} {}", e.name, e.version, e.key, e.cid);
            }
            for e in &added {
                println!("+ {} {} {} {}", e.name, e.version, e.key, e.cid);
            }
            println!("{} added, {} removed", added.len(), removed.len());
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::block::parse_cid;
    use crate::formats::ipns::{create_record, Keypair};
    use crate::store::gateway::test_server::{fixture_blocks, HELLO, MULTIBLOCK, ROOT};
    use crate::store::kubo::replay::KuboReplay;

    #[test]
    fn a_version_and_its_artifacts_are_pushed_pinned_with_the_record() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskStore::open(dir.path()).unwrap();
        for block in fixture_blocks() {
            store.put(&block).unwrap();
        }
        let node = KuboReplay::start();
        let key = Keypair::generate();
        let name = key.ipns_name();
        let until = SystemTime::now() + Duration::from_secs(3600);
        let record = create_record(&key, &format!("/ipfs/{ROOT}"), 1, until, Duration::from_secs(60)).unwrap();
        let [root, multiblock, hello] = [ROOT, MULTIBLOCK, HELLO].map(|c| parse_cid(c).unwrap());
        push_to_kubo(&store, node.url(), &root, &[multiblock, hello, root], Some((&name, &record))).unwrap();
        assert_eq!(node.pins(), [root, multiblock, hello].into());
        assert!(fixture_blocks().iter().all(|b| node.holds(b.cid())));
        assert_eq!(node.record(&name).unwrap(), record);
        // The node's repository already holds all of it: nothing is sent again.
        let imports = || node.seen().iter().filter(|s| s.path == "/api/v0/dag/import").count();
        assert_eq!(imports(), 1);
        push_to_kubo(&store, node.url(), &root, &[hello], None).unwrap();
        assert_eq!(imports(), 2);
        // An artifact neither here nor there is left out; the rest is pinned.
        let absent =
            crate::formats::block::Block::encode(crate::formats::block::RAW, false, b"not in any store".to_vec());
        push_to_kubo(&store, node.url(), &root, &[*absent.cid(), hello], None).unwrap();
        assert!(!node.pins().contains(absent.cid()));
        assert_eq!(imports(), 3);
        let err = push_to_kubo(&store, "localhost:5001", &root, &[], None).unwrap_err().to_string();
        assert!(err.contains("localhost:5001"), "{err}");
    }
}
