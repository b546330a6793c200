//! A fetch across the subscribed indexes (`cargo ipfs subscribe`): when no
//! index is named (no `--index`, no `CARGO_IPFS_INDEX`) and
//! `<store>/config.json` lists subscriptions, each is fetched from in the
//! order given: an entry whose key an index before it matched is passed
//! over, so that the first index to have a compilation provides it, and a
//! package is missing only when no index has it. Every index is resolved and verified on its own, as
//! a single fetch does. An index that cannot be resolved is said so and
//! skipped while another remains.

use super::{fetch, FetchOptions, Progress, Summary};
use crate::sources::config::{read_config, Subscription};
use std::collections::BTreeSet;
use std::path::Path;

/// Fetches from the subscriptions in order, or from the one index the
/// settings name when there are none or one is named.
pub fn fetch_subscribed(
    store_dir: &Path,
    opts: &FetchOptions,
    progress: &(dyn Fn(Progress) + Sync),
) -> anyhow::Result<Summary> {
    let named = opts.index.is_some() || std::env::var(crate::vars::INDEX).is_ok_and(|v| !v.trim().is_empty());
    let subscriptions = if named { Vec::new() } else { read_config(store_dir)?.subscriptions };
    if subscriptions.is_empty() {
        return fetch(store_dir, opts, progress);
    }
    let mut merged: Option<Summary> = None;
    let mut skip_keys: BTreeSet<String> = BTreeSet::new();
    let mut last_error = None;
    for (i, subscription) in subscriptions.iter().enumerate() {
        let o = options_for(opts, subscription, skip_keys.clone());
        let summary = match fetch(store_dir, &o, progress) {
            Ok(summary) => summary,
            Err(e) => {
                let more = i + 1 < subscriptions.len();
                eprintln!(
                    "cargo-ipfs: subscribed index {}: {}{}",
                    subscription.index,
                    crate::report::Chain(&e),
                    if more { "; looking in the next one" } else { "" }
                );
                last_error = Some(e);
                continue;
            }
        };
        skip_keys.extend(summary.keys.iter().cloned());
        let merged_now = match merged {
            None => summary,
            Some(before) => merge(before, summary),
        };
        let done = merged_now.missing.is_empty();
        merged = Some(merged_now);
        if done {
            break;
        }
    }
    match (merged, last_error) {
        (Some(summary), _) => Ok(summary),
        (None, Some(e)) => Err(e.context("no subscribed index could be resolved")),
        (None, None) => unreachable!("at least one subscription was tried"),
    }
}

/// The options for one subscription: its sources unless flags name others.
fn options_for(opts: &FetchOptions, subscription: &Subscription, skip_keys: BTreeSet<String>) -> FetchOptions {
    let mut o = opts.clone();
    o.index = Some(subscription.index.clone());
    if o.gateways.is_empty() && o.kubo.is_none() {
        o.gateways = subscription.gateways.clone();
        o.kubo = subscription.kubo.clone();
    }
    o.skip_keys = skip_keys;
    o
}

/// `before` followed by `after`, which passed over what `before` matched:
/// missing is what both miss.
fn merge(mut before: Summary, after: Summary) -> Summary {
    before.index = format!("{}, {}", before.index, after.index);
    before.keys.extend(after.keys);
    before.fetched.extend(after.fetched);
    before.runs += after.runs;
    before.already_local += after.already_local;
    before.missing.retain(|m| after.missing.contains(m));
    before.failed.extend(after.failed);
    before.unattested.extend(after.unattested);
    before.store_full = before.store_full.or(after.store_full);
    before.bytes += after.bytes;
    before.first_byte_ms = before.first_byte_ms.or(after.first_byte_ms);
    before.download_ms += after.download_ms;
    before.unpack_ms += after.unpack_ms;
    before.total_ms += after.total_ms;
    before.expires = before.expires.min(after.expires);
    before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_index_fills_in_what_an_earlier_one_missed() {
        let a = Summary {
            index: "a".into(),
            version: 3,
            missing: vec!["x 1".into(), "y 2".into()],
            expires: 50,
            ..Summary::default()
        };
        let b = Summary {
            index: "b".into(),
            version: 9,
            missing: vec!["y 2".into(), "z 3".into()],
            already_local: 1,
            expires: 40,
            ..Summary::default()
        };
        let m = merge(a, b);
        assert_eq!(
            (m.index.as_str(), m.version, m.missing, m.already_local, m.expires),
            ("a, b", 3, vec!["y 2".to_string()], 1, 40)
        );
        let flags = FetchOptions { gateways: vec!["http://flag".into()], ..FetchOptions::default() };
        let sub = Subscription { index: "s".into(), gateways: vec!["http://sub".into()], kubo: None };
        assert_eq!(options_for(&flags, &sub, BTreeSet::new()).gateways, ["http://flag"], "flags win");
        assert_eq!(options_for(&FetchOptions::default(), &sub, BTreeSet::new()).gateways, ["http://sub"]);
    }
}
