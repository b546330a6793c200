//! `cargo ipfs republish [NAME] [--renew-before D] [--to URL]... [--kubo
//! ADDR] [--json]`: keep the indexes published from this store
//! resolvable. Each index's record is renewed when it (and its version)
//! would expire within `--renew-before` (a fresh version, as `index
//! refresh` signs), then put on every routing target: a kubo node
//! (`routing/put`) and delegated routing endpoints (`PUT
//! /routing/v1/ipns/{name}`). Run it from cron or a CI schedule well inside
//! the version lifetime (see `docs/operators.md`).

use super::{Global, Status};
use crate::index::state::IndexState;
use crate::publish::republish::{renew, Renewed};
use crate::sources::config;
use crate::store::gateway::{ClientOptions, GatewayClient};
use crate::store::{KuboOptions, KuboStore, RemoteStore};
use anyhow::Context;
use serde::Serialize;
use std::time::{Duration, SystemTime};

/// `cargo ipfs republish` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index to republish [default: every index published from this store].
    name: Option<String>,
    /// Sign a fresh version when the current one expires within this
    /// (`2d`, `12h`) [default: half the index's lifetime].
    #[arg(long, value_name = "D", value_parser = super::parse_duration)]
    renew_before: Option<Duration>,
    /// A delegated routing endpoint to put the record on (repeat), such as
    /// a `cargo ipfs serve` or another IPNS routing server [default:
    /// CARGO_IPFS_GATEWAYS, <store>/config.json].
    #[arg(long = "to", value_name = "URL")]
    targets: Vec<String>,
    /// A kubo node to put the record on with `routing/put` [default:
    /// CARGO_IPFS_KUBO, <store>/config.json].
    #[arg(long, value_name = "ADDR")]
    kubo: Option<String>,
    /// One JSON object per index on stdout.
    #[arg(long)]
    json: bool,
}

/// What happened to one index.
#[derive(Debug, Serialize)]
struct Outcome {
    index: String,
    ipns: String,
    seq: u64,
    expires: u64,
    refreshed: Option<String>,
    sent: Vec<Sent>,
}

#[derive(Debug, Serialize)]
struct Sent {
    to: String,
    error: Option<String>,
}

/// Renews and puts the record of each index; status 1 when any put failed.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    let store = global.open_store()?;
    let local = IndexState::new(&store_dir);
    let keystore = global.open_keystore()?;
    let published = local.published()?;
    let names: Vec<String> = match &args.name {
        Some(name) => vec![name.clone()],
        None => published.keys().cloned().collect(),
    };
    anyhow::ensure!(
        !names.is_empty(),
        "no index is published from this store; create one with `cargo ipfs index init`"
    );
    let flags = config::Flags {
        index: names.first().map(String::as_str),
        gateways: &args.targets,
        kubo: args.kubo.as_deref(),
        ..config::Flags::default()
    };
    let file = config::read_config(&store_dir)?;
    let settings = config::settings(flags, |k| std::env::var(k).ok(), &file, &names)?;
    anyhow::ensure!(
        !settings.gateways.is_empty() || settings.kubo.is_some(),
        "nowhere to put the records; pass --to URL (a delegated routing endpoint) or --kubo ADDR"
    );
    let mut failed = false;
    for index in names {
        let lifetime = published.get(&index).map_or(Duration::ZERO, |p| Duration::from_secs(p.lifetime_secs));
        let margin = args.renew_before.unwrap_or(lifetime / 2);
        let renewed = renew(&store, &local, &keystore, &index, margin, SystemTime::now())
            .with_context(|| format!("cannot renew the record of index `{index}`"))?;
        let sent = put_everywhere(&renewed, &settings.gateways, settings.kubo.as_deref());
        failed |= sent.iter().any(|s| s.error.is_some());
        let outcome = Outcome {
            index,
            ipns: renewed.name.to_string(),
            seq: renewed.seq,
            expires: renewed.expires,
            refreshed: renewed.refreshed,
            sent,
        };
        print(&outcome, args.json)?;
    }
    Ok(u8::from(failed))
}

fn put_everywhere(renewed: &Renewed, targets: &[String], kubo: Option<&str>) -> Vec<Sent> {
    let mut sent = Vec::new();
    if let Some(addr) = kubo {
        let result = KuboStore::connect(addr, KuboOptions::default())
            .map_err(anyhow::Error::from)
            .and_then(|node| Ok(node.put_record(&renewed.name, &renewed.record)?));
        sent.push(Sent {
            to: format!("kubo {addr}"),
            error: result.err().map(|e| crate::report::Chain(&e).to_string()),
        });
    }
    for url in targets {
        let result = crate::store::gateway::Url::parse(url)
            .with_context(|| format!("invalid URL {url:?}"))
            .and_then(|u| Ok(RemoteStore::new(GatewayClient::new(vec![u], ClientOptions::default())?)?))
            .and_then(|remote| Ok(remote.put_record(&renewed.name, &renewed.record)?));
        sent.push(Sent { to: url.clone(), error: result.err().map(|e| crate::report::Chain(&e).to_string()) });
    }
    sent
}

fn print(outcome: &Outcome, json: bool) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(outcome)?)?;
    } else {
        let until = crate::formats::ipns::rfc3339::format(std::time::UNIX_EPOCH + Duration::from_secs(outcome.expires))
            .unwrap_or_else(|| outcome.expires.to_string());
        match &outcome.refreshed {
            Some(why) => {
                writeln!(out, "index {}: version {} signed ({why}), valid until {until}", outcome.index, outcome.seq)?
            }
            None => writeln!(out, "index {}: version {} still valid until {until}", outcome.index, outcome.seq)?,
        }
        for s in &outcome.sent {
            match &s.error {
                None => writeln!(out, "index {}: record of {} put on {}", outcome.index, outcome.ipns, s.to)?,
                Some(e) => eprintln!("cargo-ipfs: index {}: cannot put the record on {}: {e}", outcome.index, s.to),
            }
        }
    }
    out.flush()?;
    Ok(())
}
