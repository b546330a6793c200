//! `cargo ipfs serve [--listen ADDR] [--read-only] [--hash-on-read]`: serve
//! the store over HTTP as an IPFS trustless gateway and the IPNS part of
//! delegated routing v1 (see `docs/operators.md`).
//!
//! The first line on standard output is `listening on http://ADDR`, flushed,
//! so that a script or test that asked for port 0 can read the port. The
//! request log goes to standard error (filter with `CARGO_IPFS_LOG`, for
//! example `CARGO_IPFS_LOG=warn`). Ctrl-C or SIGTERM stops the server.

use super::{Global, Status};
use crate::server::{serve, ServerState};
use anyhow::Context;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;

/// `cargo ipfs serve` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Refuse IPNS records sent with PUT (405); serve only what is stored.
    #[arg(long)]
    read_only: bool,
    /// Hash every block read from the store before serving it, as kubo's
    /// `Datastore.HashOnRead`. Off by default: clients verify every block
    /// they receive; `cargo ipfs block verify` finds rot on a schedule.
    #[arg(long)]
    hash_on_read: bool,
    /// Do not answer `/` and `/explorer/` (the index explorer).
    #[arg(long)]
    no_explorer: bool,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store = global.open_store()?.with_hash_on_read(args.hash_on_read);
    let store_dir = store.root().display().to_string();
    let records =
        store.records().with_context(|| format!("cannot open the IPNS records of the store at {store_dir}"))?;
    let state = ServerState::new(store, args.read_only)
        .with_context(|| format!("cannot open the IPNS records of the store at {store_dir}"))?
        .with_explorer(!args.no_explorer);
    init_logging();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| {
            format!("cannot listen on {}; is another server using it? pick another with --listen", args.listen)
        })?;
        let addr = listener.local_addr().context("cannot read the address listened on")?;
        {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "listening on http://{addr}")?;
            stdout.flush()?;
        }
        tracing::info!(%addr, store = %store_dir, read_only = args.read_only, hash_on_read = args.hash_on_read, "serving");
        tokio::spawn(warn_of_expiry(records));
        serve(listener, state, shutdown_signal()).await.context("the server failed")?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(0)
}

/// How far ahead `serve` warns of a record's expiry.
const EXPIRY_WARNING: std::time::Duration = std::time::Duration::from_secs(86_400);

/// Warns, at start and then hourly, of every stored record that expires
/// within a day (or has expired): clients refuse it once it has, so the
/// operator must have the publisher republish or the mirror follow.
async fn warn_of_expiry(records: crate::store::RecordStore) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        let records = records.clone();
        let checked =
            tokio::task::spawn_blocking(move || records.expiring(std::time::SystemTime::now(), EXPIRY_WARNING)).await;
        let Ok(Ok(expiring)) = checked else { continue };
        for (name, left) in expiring {
            match left {
                Some(left) => tracing::warn!(
                    "the IPNS record of {name} expires in {} minutes; clients refuse it then: the publisher must run `cargo ipfs republish`, or a mirror follow a newer version",
                    left.as_secs() / 60
                ),
                None => tracing::warn!(
                    "the IPNS record of {name} has expired and clients refuse it: the publisher must run `cargo ipfs republish`, or a mirror follow a newer version"
                ),
            }
        }
    }
}

/// Logs to standard error, `info` and up unless `CARGO_IPFS_LOG` says
/// otherwise (an `EnvFilter` directive).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env(crate::vars::LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter)
        .try_init();
}

/// Completes on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
