//! `cargo ipfs install --locked NAME@VERSION`: the artifacts the crate's
//! packaged lockfile names, fetched while cargo runs
//! ([`crate::fetch::packaged`]), so that the wrappers find them local
//! instead of each fetching its own when cargo reaches it. A thread waits
//! for cargo to download the `.crate` (at most [`WAIT`], checking every
//! [`POLL`]), reads its lockfile and fetches as `cargo ipfs-fetch` does. A
//! wrapper that comes first fetches its unit itself; nothing waits for the
//! prefetch, and its failure only leaves the on-demand fetch.

use super::fetch::Source;
use crate::fetch::packaged::{cached_crate, extract_lock, install_spec};
use crate::fetch::{FetchOptions, Summary};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the prefetch waits for cargo to download the `.crate`.
pub const WAIT: Duration = Duration::from_secs(120);
/// How often it looks.
pub const POLL: Duration = Duration::from_millis(25);

/// A prefetch under way.
pub struct Prefetch {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<anyhow::Result<Option<Summary>>>,
    name: String,
}

/// Starts the prefetch for `cargo install` with `cargo_args`, when it
/// builds one registry crate at an exact version with `--locked`.
pub fn start(store_dir: PathBuf, source: &Source, cargo_args: &[String]) -> Option<Prefetch> {
    let (name, version) = install_spec(cargo_args)?;
    let cargo_home = home::cargo_home().ok()?;
    let mut opts: FetchOptions = source.options();
    // The target, as a build's fetch reads it (`cargo install` has no
    // `--manifest-path`; the packaged manifest is set below).
    super::build::read_cargo_flags(cargo_args, &mut opts);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let krate = name.clone();
    let handle = std::thread::spawn(move || {
        let dir = tempfile::tempdir()?;
        let deadline = Instant::now() + WAIT;
        let manifest = loop {
            // A `.crate` still being written does not read whole: try again.
            let read = cached_crate(&cargo_home, &krate, &version)
                .and_then(|file| extract_lock(&file, &krate, &version, dir.path()).ok());
            if let Some(manifest) = read {
                break manifest;
            }
            if stopped.load(Ordering::Relaxed) || Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL);
        };
        opts.manifest_path = Some(manifest);
        Ok(Some(crate::fetch::subscribed::fetch_subscribed(&store_dir, &opts, &|_| {})?))
    });
    Some(Prefetch { stop, handle, name })
}

impl Prefetch {
    /// Once cargo is done: stops waiting, and says what was prefetched.
    pub fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.join() {
            Ok(Ok(Some(summary))) => eprintln!(
                "cargo-ipfs: prefetched {} artifact(s) named by {}'s packaged Cargo.lock ({} already local)",
                summary.fetched.len(),
                self.name,
                summary.already_local
            ),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => eprintln!("cargo-ipfs: no prefetch ({}); fetched on demand", crate::report::Chain(&e)),
            Err(_) => eprintln!("cargo-ipfs: the prefetch stopped; fetched on demand"),
        }
    }
}
