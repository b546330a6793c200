//! `cargo ipfs serve`: the local store over HTTP, for mirror operators and
//! as the real peer that tests talk to.
//!
//! Two protocols, both verifiable by the client without trusting this
//! server:
//!
//! - `gateway`: the IPFS trustless gateway: `/ipfs/{cid}[/{path}]` as a
//!   raw block or a CARv1 stream (`dag-scope` per IPIP-402), and
//!   `/ipns/{name}` as a signed IPNS record.
//! - `routing`: the IPNS part of delegated routing v1:
//!   `GET`/`PUT /routing/v1/ipns/{name}`.
//!
//! Beside them, `explorer`: pages and JSON about the indexes the store
//! trusts, at `/` and `/explorer/` (off with `--no-explorer`).
//!
//! Around them: `negotiate` (pure request parsing: `format`, `Accept`,
//! `dag-scope`, paths), `traverse` (the blocking store work: path
//! resolution and CAR writing, run on tokio's blocking pool), `body`
//! (streamed and metered response bodies) and `bounds` (connection cap,
//! idle and request time limits, CORS, the request log).
//!
//! The server only reads the store, except for IPNS records sent with `PUT`,
//! which are verified before they are kept (and refused in read-only mode).
//! It never fetches anything from elsewhere: what is not in the store is 404.

mod body;
mod bounds;
pub mod explorer;
mod gateway;
mod negotiate;
mod routing;
mod traverse;

pub use bounds::Limits;

use crate::store::{DiskStore, RecordError, RecordStore};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;

/// How long requests may go on after a shutdown signal before they are cut.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every request handler sees.
#[derive(Debug, Clone)]
pub struct ServerState {
    store: DiskStore,
    records: RecordStore,
    read_only: bool,
    limits: Limits,
    explorer: Option<std::sync::Arc<explorer::data::Explorer>>,
}

impl ServerState {
    /// Serves `store` and its IPNS records, with the default [`Limits`].
    /// With `read_only`, records sent with `PUT` are refused.
    pub fn new(store: DiskStore, read_only: bool) -> Result<Self, RecordError> {
        let records = store.records()?;
        let explorer = Some(std::sync::Arc::new(explorer::data::Explorer::new(store.clone())));
        Ok(ServerState { store, records, read_only, limits: Limits::default(), explorer })
    }

    /// The same state with the explorer on (the default) or off.
    pub fn with_explorer(mut self, on: bool) -> Self {
        if !on {
            self.explorer = None;
        } else if self.explorer.is_none() {
            self.explorer = Some(std::sync::Arc::new(explorer::data::Explorer::new(self.store.clone())));
        }
        self
    }

    /// The same state with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// A handler's answer; the error side is a ready response too, so that
/// handlers can use `?`.
pub type Reply = Result<Response, Response>;

/// A plain-text response of one line.
pub(crate) fn text(status: StatusCode, message: &str) -> Response {
    let mut response = (status, format!("{message}\n")).into_response();
    if message.is_empty() {
        response = status.into_response();
    }
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// Runs blocking store work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "a store task failed");
        text(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })
}

async fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "not found: this server answers /ipfs/, /ipns/ and /routing/v1/ipns/")
}

/// The HTTP routes, with every bound and the request log around them.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/ipfs/{*rest}", get(gateway::ipfs))
        .route("/ipns/{*rest}", get(gateway::ipns))
        .route("/routing/v1/ipns/{name}", get(routing::get).put(routing::put))
        .route("/routing/v1/{*rest}", any(routing::other))
        .merge(explorer::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), bounds::around))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes; requests still
/// running then get a few seconds to finish before they are cut off.
pub async fn serve(
    listener: TcpListener,
    state: ServerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = bounds::BoundedListener::new(listener, &state.limits);
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    let grace = async move {
        match stopping_rx.await {
            Ok(()) => tokio::time::sleep(SHUTDOWN_GRACE).await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        result = server.into_future() => result,
        () = grace => {
            tracing::warn!("requests still running {}s after shutdown were cut off", SHUTDOWN_GRACE.as_secs());
            Ok(())
        }
    }
}

/// A server started by [`spawn_for_tests`]; dropping it stops the server
/// and waits for its thread.
#[derive(Debug)]
pub struct TestServer {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Serves the store at `store_dir` on `127.0.0.1:0` from a runtime on its
/// own thread, for tests: returns the address and a handle that stops the
/// server when dropped.
///
/// # Panics
///
/// If the store cannot be opened or the socket bound; a test cannot go on.
pub fn spawn_for_tests(store_dir: impl Into<PathBuf>) -> (SocketAddr, TestServer) {
    let store = DiskStore::open(store_dir.into()).expect("cannot open the test store");
    spawn_state_for_tests(ServerState::new(store, false).expect("cannot open the test record store"))
}

/// [`spawn_for_tests`] with a prepared state (read-only, other limits).
pub fn spawn_state_for_tests(state: ServerState) -> (SocketAddr, TestServer) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
    listener.set_nonblocking(true).expect("cannot make the test socket non-blocking");
    let addr = listener.local_addr().expect("a bound socket has an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("cannot start a tokio runtime");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("cannot register the test socket");
            // A dropped sender stops the server too.
            if let Err(e) = serve(listener, state, async move { drop(stopped.await) }).await {
                eprintln!("test server failed: {e}");
            }
        });
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
    });
    (addr, TestServer { stop: Some(stop), thread: Some(thread) })
}

#[cfg(test)]
mod tests;
