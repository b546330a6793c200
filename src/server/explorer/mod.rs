//! The index explorer that `serve` answers at `/` and `/explorer/...`
//! (off with `--no-explorer`): the indexes this store trusts, each
//! index's history and crates, a crate's entries with their attestations,
//! a search over crate names, and the same as JSON under
//! `/explorer/api/...` (documented in docs/operators.md).
//!
//! `data` gathers and verifies (read-only), `html` renders (no I/O). The
//! pages load nothing from another origin: their CSS and script are
//! embedded here and served from `/explorer/assets/`, under a strict
//! Content-Security-Policy. The explorer sits behind the same bounds as
//! the gateway (connection cap, time limits; it takes no request body).

pub mod data;
pub mod html;

use super::{blocking, text, ServerState};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use data::Explorer;
use serde::Deserialize;
use std::sync::Arc;

const CSS: &str = include_str!("explorer.css");
const JS: &str = include_str!("explorer.js");
/// Only this origin's stylesheet and script; no inline code, no frames,
/// no forms sent elsewhere.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/// The longest search query considered.
const MAX_QUERY: usize = 100;

/// The explorer's routes, for [`super::router`].
pub fn routes() -> Router<ServerState> {
    Router::new()
        .route("/", get(overview))
        .route("/explorer/index/{name}", get(index))
        .route("/explorer/index/{name}/crate/{krate}", get(krate))
        .route("/explorer/search", get(search))
        .route("/explorer/assets/explorer.css", get(|| async { asset(CSS, "text/css; charset=utf-8") }))
        .route("/explorer/assets/explorer.js", get(|| async { asset(JS, "text/javascript; charset=utf-8") }))
        .route("/explorer/api/indexes", get(api_indexes))
        .route("/explorer/api/index/{name}", get(api_index))
        .route("/explorer/api/index/{name}/crate/{krate}", get(api_crate))
        .route("/explorer/api/search", get(api_search))
}

#[derive(Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

fn secured(mut response: Response, content_type: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    secured(body.into_response(), content_type)
}

fn html(body: String) -> Response {
    secured(body.into_response(), "text/html; charset=utf-8")
}

fn json(value: &impl serde::Serialize) -> Response {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => secured(bytes.into_response(), "application/json"),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

/// Runs `work` on the explorer off the async threads; 404 when the
/// explorer is off, 500 (logged) when the store cannot be read.
async fn with<T: Send + 'static>(
    state: &ServerState,
    work: impl FnOnce(&Explorer) -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Response> {
    let Some(explorer) = state.explorer.clone() else {
        return Err(text(StatusCode::NOT_FOUND, "not found: the explorer is off (`serve --no-explorer`)"));
    };
    blocking(move || work(&explorer)).await?.map_err(|e| {
        tracing::error!(error = format!("{e:#}"), "the explorer cannot read the store");
        text(StatusCode::INTERNAL_SERVER_ERROR, "the explorer cannot read this store; see the server's log")
    })
}

fn unknown(name: &str) -> Response {
    text(StatusCode::NOT_FOUND, &format!("no index `{name}` is trusted on this server"))
}

async fn overview(State(state): State<ServerState>) -> Response {
    match with(&state, |e| e.indexes()).await {
        Ok(indexes) => html(html::overview(&indexes)),
        Err(r) => r,
    }
}

type History = Vec<(data::VersionView, Option<Arc<data::Change>>)>;

fn index_and_history(e: &Explorer, name: &str) -> anyhow::Result<Option<(data::IndexView, History)>> {
    let Some(view) = e.index(name)? else { return Ok(None) };
    let history = match &view.current {
        Some(current) => e.history(current)?,
        None => Vec::new(),
    };
    Ok(Some((view, history)))
}

async fn index(State(state): State<ServerState>, Path(name): Path<String>) -> Response {
    let wanted = name.clone();
    match with(&state, move |e| index_and_history(e, &wanted)).await {
        Ok(Some((view, history))) => html(html::index_page(&view, &history)),
        Ok(None) => unknown(&name),
        Err(r) => r,
    }
}

async fn api_index(State(state): State<ServerState>, Path(name): Path<String>) -> Response {
    let wanted = name.clone();
    match with(&state, move |e| index_and_history(e, &wanted)).await {
        Ok(Some((view, history))) => {
            let history: Vec<_> =
                history.into_iter().map(|(v, c)| serde_json::json!({"version": v, "change": c.as_deref()})).collect();
            json(&serde_json::json!({"index": view, "history": history}))
        }
        Ok(None) => unknown(&name),
        Err(r) => r,
    }
}

fn crate_of(
    e: &Explorer,
    name: &str,
    krate: &str,
) -> anyhow::Result<Option<(data::IndexView, Vec<serde_json::Value>)>> {
    let Some(view) = e.index(name)? else { return Ok(None) };
    let entries = e.crate_entries(&view, krate)?;
    Ok(Some((view, entries)))
}

async fn krate(State(state): State<ServerState>, Path((name, krate)): Path<(String, String)>) -> Response {
    let (wanted, k) = (name.clone(), krate.clone());
    match with(&state, move |e| crate_of(e, &wanted, &k)).await {
        Ok(Some((view, entries))) => html(html::crate_page(&view, &krate, &entries)),
        Ok(None) => unknown(&name),
        Err(r) => r,
    }
}

async fn api_crate(State(state): State<ServerState>, Path((name, krate)): Path<(String, String)>) -> Response {
    let wanted = name.clone();
    match with(&state, move |e| crate_of(e, &wanted, &krate)).await {
        Ok(Some((_, entries))) => json(&entries),
        Ok(None) => unknown(&name),
        Err(r) => r,
    }
}

fn query(search: Search) -> Result<String, Response> {
    if search.q.len() > MAX_QUERY {
        return Err(text(StatusCode::BAD_REQUEST, &format!("the query is longer than {MAX_QUERY} bytes")));
    }
    Ok(search.q)
}

async fn search(State(state): State<ServerState>, Query(q): Query<Search>) -> Response {
    let q = match query(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let wanted = q.clone();
    match with(&state, move |e| e.search(&wanted)).await {
        Ok(found) => html(html::search_page(&q, &found)),
        Err(r) => r,
    }
}

async fn api_search(State(state): State<ServerState>, Query(q): Query<Search>) -> Response {
    let q = match query(q) {
        Ok(q) => q,
        Err(r) => return r,
    };
    match with(&state, move |e| e.search(&q)).await {
        Ok(found) => {
            let found: Vec<_> = found.into_iter().map(|(i, c)| serde_json::json!({"index": i, "crate": c})).collect();
            json(&found)
        }
        Err(r) => r,
    }
}

async fn api_indexes(State(state): State<ServerState>) -> Response {
    match with(&state, |e| e.indexes()).await {
        Ok(indexes) => json(&indexes),
        Err(r) => r,
    }
}
