//! Stand-ins for the remote pinning APIs, for contract tests and the
//! pinning job's local run: real HTTP on `127.0.0.1` with a port of its
//! own, answering as the published references say, over an in-memory set
//! of pins. They record every exchange (request and answer), so that a
//! test can check both sides against the API's document.
//!
//! - [`psa::PinningServiceStandIn`]: the IPFS Pinning Service API 1.0;
//! - [`cluster::ClusterStandIn`]: IPFS Cluster's REST API (`/pins`).

pub mod cluster;
pub mod psa;

use axum::Router;
use serde::Serialize;
use std::sync::Mutex;
use tokio::runtime::Runtime;

/// One request and its answer, as a stand-in saw them.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// The method.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's pairs, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The request's body, if it was JSON.
    pub body: Option<serde_json::Value>,
    /// The answer's status.
    pub status: u16,
    /// The answer's body, if it was JSON.
    pub answer: Option<serde_json::Value>,
}

/// A server on its own runtime; stops when dropped.
pub(crate) struct Running {
    runtime: Option<Runtime>,
    url: String,
}

impl Running {
    /// Serves `app` on `127.0.0.1`, port 0.
    pub(crate) fn start(name: &str, app: Router) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .expect("a runtime for the stand-in");
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Running { runtime: Some(runtime), url }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Records `exchange`; at most 100 000 are kept (a bound for long runs).
pub(crate) fn record(log: &Mutex<Vec<Exchange>>, exchange: Exchange) {
    let mut log = log.lock().expect("the log");
    if log.len() < 100_000 {
        log.push(exchange);
    }
}
