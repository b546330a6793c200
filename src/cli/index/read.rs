//! `index show|verify|log|diff`: a version opened with every check that
//! applies to how it was named, and shown.

use super::{Ctx, Target};
use crate::formats::ipns::rfc3339;
use crate::index::entry::Entry;
use crate::index::manifest::IndexKind;
use crate::index::resolve::{resolve_record, verify_root, Resolved};
use crate::index::state::IndexState;
use crate::index::tree::{all_shards, load_manifest, load_version, lookup, IndexVersion};
use crate::index::Manifest;
use crate::store::{BlockStore, DiskStore};
use anyhow::{bail, Context};
use cid::Cid;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

// `index show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    version: Target,
    /// List this crate's entries.
    #[arg(long = "crate", value_name = "NAME")]
    krate: Option<String>,
    /// List every entry.
    #[arg(long)]
    all: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

// `index diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The older version (index name or root CID).
    old: String,
    /// The newer version (index name or root CID).
    new: String,
    #[command(flatten)]
    network: Network,
}

// `index log`.
#[derive(Debug, clap::Args)]
pub struct LogArgs {
    #[command(flatten)]
    version: Target,
    #[command(flatten)]
    network: Network,
}

/// Where `log` and `diff` read what the local store lacks: an index named
/// is resolved there (its record fetched and verified, as a fetch does),
/// and blocks are read through it.
#[derive(Debug, clap::Args)]
pub struct Network {
    /// A trustless gateway to resolve and read the index from (repeat).
    #[arg(long = "gateway", value_name = "URL")]
    gateways: Vec<String>,
    /// A kubo node's RPC API to resolve and read the index through.
    #[arg(long, value_name = "ADDR")]
    kubo: Option<String>,
}

impl Network {
    fn given(&self) -> bool {
        !self.gateways.is_empty() || self.kubo.is_some()
    }
}

/// With `network` given, resolves each trusted index named in `targets`
/// over it (the newest record, verified and recorded as seen) and returns
/// a reader through the local store and the network; `None` otherwise.
fn over_network(
    ctx: &Ctx,
    network: &Network,
    targets: &[&str],
) -> anyhow::Result<Option<crate::store::Layered<DiskStore, crate::sources::Sources>>> {
    if !network.given() {
        return Ok(None);
    }
    let trust = ctx.local.trust()?;
    let settings = |index: &str| crate::sources::config::Settings {
        index: index.to_string(),
        gateways: network.gateways.clone(),
        kubo: network.kubo.clone(),
        policy: Default::default(),
    };
    let mut reader = None;
    for target in targets.iter().filter(|t| crate::formats::block::parse_cid(t).is_err()) {
        let head =
            crate::fetch::resolve::resolve_index(ctx.local.dir(), &trust, settings(target), false, None, ctx.now)?;
        reader = head.layered;
    }
    match reader {
        Some(reader) => Ok(Some(reader)),
        None => {
            let sources =
                crate::sources::Sources::open(&network.gateways, network.kubo.as_deref(), None, Some(ctx.local.dir()))?
                    .context("no source given")?;
            Ok(Some(crate::store::Layered::new(ctx.store.clone(), sources)))
        }
    }
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn show_time(secs: u64) -> String {
    rfc3339::format(UNIX_EPOCH + Duration::from_secs(secs)).unwrap_or_else(|| secs.to_string())
}

/// An index version that passed every check that applies to how it was named.
pub(super) struct VerifiedVersion {
    pub(super) version: IndexVersion,
    /// How it was verified, for display.
    trust_note: String,
}

/// Opens `target` (a trusted index name, or a root CID) with every check.
pub(super) fn open(
    store: &DiskStore,
    local: &IndexState,
    target: &str,
    now: SystemTime,
) -> anyhow::Result<VerifiedVersion> {
    open_with(store, store, local, target, now)
}

/// [`open`], reading blocks through `reader` (the store, or the store in
/// front of the network); records come from the store.
fn open_with(
    records: &DiskStore,
    store: &dyn BlockStore,
    local: &IndexState,
    target: &str,
    now: SystemTime,
) -> anyhow::Result<VerifiedVersion> {
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
                Ok(VerifiedVersion {
                    version: resolved.version,
                    trust_note: format!("signed by trusted keys of index {index}"),
                })
            }
            None => {
                crate::index::manifest::check_manifest(&version.manifest, &index, None, unix(now))?;
                Ok(VerifiedVersion {
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
    let record = records.records()?.get(&name)?;
    let resolved: Resolved = resolve_record(store, record.as_deref(), target, t, seen.get(target), now)?;
    crate::index::resolve::accept(local, target, &resolved)?;
    if let Some(keys) = &resolved.rotated {
        eprintln!("index {target}: followed a signed key rotation; now trusting {} key(s)", keys.keys.len());
    }
    Ok(VerifiedVersion {
        version: resolved.version,
        trust_note: format!("IPNS record and signatures verified against your trusted keys for {target}"),
    })
}

fn print_manifest(opened: &VerifiedVersion) {
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
    match m.root_threshold {
        0 => println!("root keys: (none: the keys change keys)"),
        n => {
            println!("root keys: {n} of {}", m.root_keys.len());
            for key in &m.root_keys {
                println!("           {key}");
            }
        }
    }
    println!("verified:  {}", opened.trust_note);
}

pub(super) fn print_entries(entries: &[Entry], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(entries)?);
    } else {
        for e in entries {
            let kind = if e.is_run() { " build-script-run" } else { "" };
            println!(
                "{} {} {}{kind} {} {} bytes key={} rustc={}",
                e.name, e.version, e.target, e.cid, e.size, e.key, e.rustc
            );
        }
    }
    Ok(())
}

/// `index show`: the manifest, a crate's entries, or every entry.
pub(super) fn show(ctx: &Ctx, args: ShowArgs) -> anyhow::Result<()> {
    let ShowArgs { version: Target { target }, krate, all, json } = args;
    let store = &ctx.store;
    let opened = open(store, &ctx.local, &target, ctx.now)?;
    let shards = opened.version.shards;
    let kind = opened.version.manifest.kind;
    if let Some(krate) = krate {
        match kind {
            IndexKind::Artifacts => super::attestations::entries_with_attestations(ctx, &opened, &krate, json)?,
            IndexKind::Attestations => super::attestations::statements(ctx, &opened, &krate, json)?,
        }
    } else if all && kind == IndexKind::Attestations {
        for (krate, _) in all_shards(store, &shards)? {
            super::attestations::statements(ctx, &opened, &krate, json)?;
        }
    } else if all {
        let mut entries = Vec::new();
        for (krate, _) in all_shards(store, &shards)? {
            entries.extend(lookup(store, &shards, &krate)?);
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
    Ok(())
}

/// `index verify`: every block and every entry of a version.
pub(super) fn verify(ctx: &Ctx, args: Target) -> anyhow::Result<()> {
    let store = &ctx.store;
    let opened = open(store, &ctx.local, &args.target, ctx.now)?;
    let mut blocks = 0u64;
    crate::store::dag::walk(store, &opened.version.root, &mut |_| {
        blocks += 1;
        Ok(())
    })
    .with_context(|| format!("index version {} is incomplete or corrupt", opened.version.root))?;
    let shards = all_shards(store, &opened.version.shards)?;
    let mut entries = 0;
    for (krate, _) in &shards {
        // A verification reads every line: one it cannot understand is a
        // failure here, not a line left out.
        let kind = opened.version.manifest.kind;
        entries += super::attestations::understood(store, kind, &opened.version.shards, krate)
            .with_context(|| format!("index version {}", opened.version.root))?;
    }
    let m = &opened.version.manifest;
    println!(
        "index {} version {}: verified ({} crates, {entries} entries, {blocks} blocks); {}",
        m.index,
        m.seq,
        shards.len(),
        opened.trust_note
    );
    Ok(())
}

/// `index log`: the versions before this one, through their `prev` links,
/// as far as the local store holds them (or, with a gateway or kubo node,
/// as far as the network does).
pub(super) fn log(ctx: &Ctx, args: LogArgs) -> anyhow::Result<()> {
    let target = args.version.target.as_str();
    let network = over_network(ctx, &args.network, &[target])?;
    let store: &dyn BlockStore = match &network {
        Some(layered) => layered,
        None => &ctx.store,
    };
    let opened = open_with(&ctx.store, store, &ctx.local, target, ctx.now)?;
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
            println!("(older versions are not in the local store; pass --gateway URL or --kubo ADDR to read them)");
            break;
        }
        let older = load_manifest(store, &prev)?;
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
    Ok(())
}

/// `index diff`: entries added and removed between two versions.
pub(super) fn diff(ctx: &Ctx, args: DiffArgs) -> anyhow::Result<()> {
    let network = over_network(ctx, &args.network, &[&args.new, &args.old])?;
    let store: &dyn BlockStore = match &network {
        Some(layered) => layered,
        None => &ctx.store,
    };
    let old = open_with(&ctx.store, store, &ctx.local, &args.old, ctx.now)?.version;
    let new = open_with(&ctx.store, store, &ctx.local, &args.new, ctx.now)?.version;
    let (added, removed) = crate::index::diff::diff(store, &old.shards, &new.shards)?;
    for e in &removed {
        println!("- {} {} {} {}", e.name, e.version, e.key, e.cid);
    }
    for e in &added {
        println!("+ {} {} {} {}", e.name, e.version, e.key, e.cid);
    }
    println!("{} added, {} removed", added.len(), removed.len());
    Ok(())
}
