//! Runs from the index handed down to the wrappers (`cargo ipfs build`
//! and `install` with gateways or a kubo node): when no run filed here
//! fits, the index's runs under the same pre-key whose declared inputs
//! are in the signed state on this machine are downloaded, checked
//! against their signed entries and filed, as `fetch` does before a build
//! for the packages of a lockfile. Any failure only means the script runs.

use super::inputs;
use super::Run;
use crate::artifact::cache::Cache;
use crate::artifact::download::Downloader;
use crate::artifact::runs::{check_sizes, Runs};
use crate::report::Chain;
use crate::store::DiskStore;
use crate::wrapper::env::WrapperEnv;
use crate::wrapper::stats::{self, Event};
use std::time::Instant;

/// Fetches and files the index's runs that fit; whether any was filed.
pub(super) fn fetch_runs(env: &WrapperEnv, store: &DiskStore, runs: &Runs, run: &Run, pre_key: &str) -> bool {
    match fetch(env, store, runs, run, pre_key) {
        Ok(filed) => filed,
        Err(e) => {
            eprintln!(
                "cargo-ipfs: cannot fetch a build-script run of {} {} ({}); running the script",
                run.source.name,
                run.source.version,
                Chain(&e)
            );
            let _ = stats::record(&run.store_dir, &Event::Error("fetch run".into()));
            false
        }
    }
}

fn fetch(env: &WrapperEnv, store: &DiskStore, runs: &Runs, run: &Run, pre_key: &str) -> anyhow::Result<bool> {
    if !run.source.registry {
        return Ok(false);
    }
    let Some((entries, layered)) = crate::wrapper::hit::index_entries(env, store, &run.source.name)? else {
        return Ok(false);
    };
    let cache = Cache::new(store.root());
    let downloader = Downloader { store, reader: &layered, sources: Some(layered.remote()), cache: &cache };
    let mut filed = false;
    for entry in &entries {
        let fits_run = entry.run.as_ref().is_some_and(|signed| signed.pre_key == pre_key);
        let Some(attested) = fits_run.then(|| crate::wrapper::hit::attested_on_demand(env, store, &layered, entry))
        else {
            continue;
        };
        let Some(attested) = attested? else { continue };
        let Some(signed) = &entry.run else { continue };
        let fits = signed.pre_key == pre_key
            && entry.version == run.source.version
            && entry.checksum == run.source.checksum
            && !runs.has_entry(entry, &attested)
            && inputs::state(run, &signed.names).is_ok_and(|state| state == signed.state);
        if !fits {
            continue;
        }
        check_sizes(entry)?;
        downloader.download(entry, Instant::now())?;
        runs.file_entry(store, &layered, entry, &attested)?;
        filed = true;
    }
    Ok(filed)
}
