//! `cargo ipfs subscribe NAME --key PUBKEY [--gateway URL]... [--kubo
//! ADDR]`: trust an index's publisher keys, resolve and verify its newest
//! version from the sources given, and record the subscription in
//! `<store>/config.json`, so that `cargo ipfs-fetch` (and `cargo ipfs
//! build`) look its entries up with no further flag. Several subscriptions
//! are looked up in the order they were made ([`crate::fetch::subscribed`]).
//! `--list` shows them; `--remove` ends one (the trust stays; `cargo ipfs
//! trust rm` ends it).

use super::{Global, Status};
use crate::index::manifest::IndexKind;
use crate::index::state::IndexState;
use crate::sources::config::{self, Subscription};
use anyhow::{bail, Context};
use std::time::{Duration, SystemTime};

/// `cargo ipfs subscribe` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The index to follow.
    #[arg(required_unless_present = "list")]
    index: Option<String>,
    /// A publisher key (its IPNS name, k51... or 12D3KooW...); repeat for a
    /// key set [default: the keys already trusted for the index].
    #[arg(long = "key", value_name = "PUBKEY")]
    keys: Vec<String>,
    /// How many of the keys must sign each version.
    #[arg(long, default_value_t = 1)]
    threshold: u32,
    /// The IPNS name the index is published under [default: the first key].
    #[arg(long, value_name = "NAME")]
    ipns: Option<String>,
    /// A trustless gateway to read the index from (repeat) [default:
    /// CARGO_IPFS_GATEWAYS, <store>/config.json].
    #[arg(long = "gateway", value_name = "URL")]
    gateways: Vec<String>,
    /// A kubo node's RPC API to read the index through.
    #[arg(long, value_name = "ADDR")]
    kubo: Option<String>,
    /// How long one request may take.
    #[arg(long, value_name = "D", default_value = "30s", value_parser = super::parse_duration)]
    timeout: Duration,
    /// List the subscriptions, in the order they are looked up.
    #[arg(long, conflicts_with_all = ["keys", "remove"])]
    list: bool,
    /// End the subscription to the index.
    #[arg(long, conflicts_with = "keys")]
    remove: bool,
}

/// Runs `cargo ipfs subscribe`.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    let local = IndexState::new(&store_dir);
    if args.list {
        let file = config::read_config(&store_dir)?;
        let seen = local.seen()?;
        for (i, s) in file.subscriptions.iter().enumerate() {
            let from = match (&s.kubo, s.gateways.is_empty()) {
                (Some(kubo), _) => format!("kubo at {kubo}"),
                (None, false) => s.gateways.join(", "),
                (None, true) => "the configured sources".into(),
            };
            let last = seen.get(&s.index).map_or("never resolved".into(), |v| format!("version {}", v.seq));
            println!("{}. {}  from {from}; {last}", i + 1, s.index);
        }
        return Ok(0);
    }
    let index = args.index.expect("clap requires it");
    if args.remove {
        if !config::remove_subscription(&store_dir, &index)? {
            bail!("no subscription to {index}; `cargo ipfs subscribe --list` shows them");
        }
        println!("unsubscribed from {index} (its keys stay trusted; `cargo ipfs trust rm {index}` ends that)");
        return Ok(0);
    }
    let before = local.trust()?;
    if args.keys.is_empty() && !before.contains_key(&index) {
        bail!("index {index} is not trusted here; give its publisher key with --key PUBKEY");
    }
    if !args.keys.is_empty() {
        super::trust::add(&local, &index, &args.keys, args.threshold, args.ipns.clone(), IndexKind::Artifacts)?;
    }
    // Resolve and verify before anything is recorded as subscribed; a
    // failure leaves the trust as it was.
    let flags = config::Flags {
        index: Some(&index),
        gateways: &args.gateways,
        kubo: args.kubo.as_deref(),
        ..config::Flags::default()
    };
    let resolved = config::settings(flags, |k| std::env::var(k).ok(), &config::read_config(&store_dir)?, &[]).and_then(
        |settings| {
            if settings.gateways.is_empty() && settings.kubo.is_none() {
                bail!("no source to resolve {index} from; pass --gateway URL or --kubo ADDR");
            }
            let trust = local.trust()?;
            let head = crate::fetch::resolve::resolve_index(
                &store_dir,
                &trust,
                settings.clone(),
                false,
                Some(args.timeout),
                SystemTime::now(),
            )?;
            Ok((settings, head))
        },
    );
    let (settings, head) = match resolved {
        Ok(ok) => ok,
        Err(e) => {
            local.update_trust(|t| match before.get(&index) {
                Some(old) => t.insert(index.clone(), old.clone()),
                None => t.remove(&index),
            })?;
            return Err(e.context(format!(
                "cannot subscribe to {index}: its newest version did not resolve and verify; nothing was changed"
            )));
        }
    };
    let subscription = Subscription { index: index.clone(), gateways: settings.gateways, kubo: settings.kubo };
    config::save_subscription(&store_dir, &subscription)
        .context("the index resolved, but the subscription could not be saved")?;
    let m = &head.version.manifest;
    let ipns = local.trust()?.get(&index).map(|t| t.ipns.clone()).unwrap_or_default();
    let position =
        config::read_config(&store_dir)?.subscriptions.iter().position(|s| s.index == index).map_or(1, |p| p + 1);
    println!(
        "subscribed to {index} (/ipns/{ipns}): version {} at {}, verified; `cargo ipfs-fetch` now looks it up (subscription {position})",
        m.seq, head.version.root
    );
    Ok(0)
}
