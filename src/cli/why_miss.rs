//! `cargo ipfs why-miss CRATE [--json]`: for each miss of CRATE the
//! wrapper noted, the key input that differed from the nearest entry among
//! this machine's records and the trusted indexes' entries in the local
//! store ([`crate::wrapper::why`]).

use super::{Global, Status};
use crate::artifact::runs::Runs;
use crate::formats::ipns::rfc3339;
use crate::index::Entry;
use crate::wrapper::misses::{self, Keyed, MissKind};
use crate::wrapper::why::{explain, Candidate, Origin};
use anyhow::bail;
use std::time::{Duration, UNIX_EPOCH};

/// Arguments of `cargo ipfs why-miss`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The crate (package name) whose misses to explain.
    #[arg(value_name = "CRATE")]
    krate: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// An index entry as a candidate for `miss`, when of the same kind.
fn candidate(index: &str, entry: &Entry, miss: &Keyed) -> Option<Candidate> {
    let mut inputs = entry.inputs.clone();
    match (&entry.run, miss.kind) {
        (None, MissKind::Compilation) if entry.crate_types == miss.crate_types => {}
        (Some(run), MissKind::Run) if !inputs.is_empty() => inputs.extend(crate::index::inputs::declared(&run.state)),
        (Some(_), MissKind::Run) => {}
        _ => return None,
    }
    Some(Candidate {
        origin: Origin::Index(index.to_string()),
        key: entry.key.clone(),
        rustc: entry.rustc.clone(),
        inputs,
    })
}

/// This machine's records of the same crate version and kind as `miss`.
fn local_candidates(store_dir: &std::path::Path, krate: &str, miss: &Keyed) -> Vec<Candidate> {
    match miss.kind {
        MissKind::Compilation => misses::read_records(store_dir, krate)
            .into_iter()
            .filter(|r| {
                r.version == miss.version && r.kind == MissKind::Compilation && r.crate_types == miss.crate_types
            })
            .map(|r| Candidate { origin: Origin::Local, key: r.key, rustc: r.rustc, inputs: r.inputs })
            .collect(),
        // The runs filed under the same pre-key: its named inputs are the
        // miss's; their declared state is theirs.
        MissKind::Run => Runs::new(store_dir)
            .candidates(&miss.key)
            .into_iter()
            .map(|c| {
                let mut inputs: std::collections::BTreeMap<String, String> = miss
                    .inputs
                    .iter()
                    .filter(|(name, _)| !is_declared(name))
                    .map(|(a, b)| (a.clone(), b.clone()))
                    .collect();
                inputs.extend(crate::index::inputs::declared(&c.state));
                Candidate { origin: Origin::Local, key: c.key, rustc: miss.rustc.clone(), inputs }
            })
            .collect(),
    }
}

/// Whether a named input is a run's declared state.
fn is_declared(name: &str) -> bool {
    name.starts_with("declared ") || name.starts_with("tool ")
}

/// Explains each miss of the crate.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let krate = &args.krate;
    if !misses::valid_crate_name(krate) {
        bail!("`{krate}` is not a crate name (letters, digits, `-` and `_`)");
    }
    let dir = global.store_dir()?;
    let noted = misses::read_misses(&dir, krate);
    if noted.is_empty() {
        bail!("no miss recorded for {krate}; build with `cargo ipfs build` first");
    }
    let store = global.open_store()?;
    // Every trusted index's entries for the crate, as the local store holds them.
    let mut names = Vec::new();
    let mut entries: Vec<(String, Entry)> = Vec::new();
    let mut unread = Vec::new();
    for (name, version) in super::index::trusted_versions(global, &store)? {
        let read = version.and_then(|v| Ok(crate::index::tree::lookup(&store, &v.shards, krate)?));
        match read {
            Ok(found) => {
                entries.extend(found.into_iter().map(|e| (name.clone(), e)));
                names.push(name);
            }
            Err(e) => unread.push(format!("index {name} not readable offline ({})", crate::report::Chain(&e))),
        }
    }
    let mut report = Vec::new();
    for miss in noted.iter().rev() {
        let local = local_candidates(&dir, krate, miss);
        let same: Vec<Candidate> = entries
            .iter()
            .filter(|(_, e)| e.version == miss.version)
            .filter_map(|(name, e)| candidate(name, e, miss))
            .collect();
        let joined = names.join(", ");
        let index = (!names.is_empty()).then_some((joined.as_str(), same.as_slice()));
        let mut lines = unread.clone();
        lines.extend(explain(krate, miss, &local, index));
        report.push((miss, lines));
    }
    if args.json {
        let json: Vec<serde_json::Value> =
            report.iter().map(|(miss, lines)| serde_json::json!({ "miss": miss, "explanation": lines })).collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(0);
    }
    for (miss, lines) in report {
        let what = crate::wrapper::why::what(miss);
        let when = rfc3339::format(UNIX_EPOCH + Duration::from_secs(miss.at)).unwrap_or_else(|| miss.at.to_string());
        println!("{krate} {} {what} missed at {when} (key {}):", miss.version, &miss.key[..miss.key.len().min(16)]);
        for line in lines {
            println!("  {line}");
        }
    }
    Ok(0)
}
