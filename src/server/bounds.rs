//! The server's bounds: a cap on open connections, an idle timeout on each
//! connection, a time limit on every request and its body, and the
//! middleware that adds CORS headers and logs each request.

use super::body::{Metered, RequestInfo};
use super::ServerState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's limits. [`Limits::default`] is what `cargo ipfs serve` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; a client past them is answered `429 Too
    /// Many Requests` with `Retry-After` and closed, as the trustless
    /// gateway spec asks of a peer that is busy, rather than queued.
    pub max_connections: usize,
    /// A connection that moves no byte either way for this long is closed
    /// (this also ends idle keep-alive connections and stalled clients).
    pub idle_timeout: Duration,
    /// Time to answer a request, body included, except CAR streams.
    pub request_timeout: Duration,
    /// Time to send a whole CAR stream; a longer one is cut off.
    pub car_timeout: Duration,
    /// The largest request body accepted (an IPNS record).
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            idle_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
            car_timeout: Duration::from_secs(60),
            max_body: crate::formats::ipns::MAX_RECORD_SIZE,
        }
    }
}

/// A TCP listener that holds one semaphore permit per open connection and
/// wraps each in [`BoundedIo`].
pub struct BoundedListener {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    /// Refusals being written at once (each a few bytes, for at most
    /// [`REFUSAL_TIME`]); past them a connection is closed unanswered.
    refusals: Arc<Semaphore>,
    idle: Duration,
}

/// What a client past the connection cap is told: come back in a second.
const TOO_MANY: &[u8] = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n\
Content-Length: 43\r\nConnection: close\r\n\r\ntoo many connections; retry after a second\n";

/// How long writing a refusal may take.
const REFUSAL_TIME: Duration = Duration::from_secs(2);

/// Refusals written at once.
const MAX_REFUSALS: usize = 64;

impl BoundedListener {
    /// Bounds `inner` by `limits`.
    pub fn new(inner: TcpListener, limits: &Limits) -> Self {
        BoundedListener {
            inner,
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            refusals: Arc::new(Semaphore::new(MAX_REFUSALS)),
            idle: limits.idle_timeout,
        }
    }

    /// Answers a connection past the cap with [`TOO_MANY`] and closes it,
    /// on its own task, bounded in number and time.
    fn refuse(&self, mut stream: TcpStream) {
        let Ok(slot) = self.refusals.clone().try_acquire_owned() else { return };
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let _ = tokio::time::timeout(REFUSAL_TIME, async {
                stream.write_all(TOO_MANY).await?;
                stream.shutdown().await
            })
            .await;
            drop(slot);
        });
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = BoundedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (BoundedIo, SocketAddr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    match self.permits.clone().try_acquire_owned() {
                        Ok(permit) => return (BoundedIo::new(stream, permit, self.idle), addr),
                        Err(_) => {
                            tracing::debug!(%addr, "connection cap reached; answered 429");
                            self.refuse(stream);
                        }
                    }
                }
                // A client that gave up before we accepted: try the next.
                Err(e) if matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) => {}
                Err(e) => {
                    // Out of file descriptors or similar: wait for some to close.
                    tracing::error!(error = %e, "cannot accept a connection; retrying in a second");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A connection that fails with `TimedOut` when no byte has moved either way
/// for the idle timeout, and frees its connection slot when dropped.
pub struct BoundedIo {
    stream: TcpStream,
    idle: Duration,
    last_progress: Instant,
    timer: Pin<Box<tokio::time::Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl BoundedIo {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, idle: Duration) -> Self {
        let timer = Box::pin(tokio::time::sleep(idle));
        BoundedIo { stream, idle, last_progress: Instant::now(), timer, _permit: permit }
    }

    /// Passes a ready result through (noting progress), or, when the stream
    /// is not ready, fails once the connection has been idle too long. The
    /// timer is moved forward only when it fires, not on every byte.
    fn bound<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.last_progress = Instant::now();
            return polled;
        }
        while self.timer.as_mut().poll(cx).is_ready() {
            let due = self.last_progress + self.idle;
            if Instant::now() >= due {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "the connection was idle too long")));
            }
            self.timer.as_mut().reset(tokio::time::Instant::from_std(due));
        }
        Poll::Pending
    }
}

impl AsyncRead for BoundedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.bound(cx, polled)
    }
}

impl AsyncWrite for BoundedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.bound(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.bound(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.bound(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The headers that let a web page on any origin read responses, as the
/// delegated routing spec asks (CORS).
fn add_cors(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("Content-Length, Content-Type, Etag, X-Ipfs-Path, X-Ipfs-Roots"),
    );
}

/// The answer to a CORS preflight request.
fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, HEAD, PUT, OPTIONS"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Accept, Cache-Control, Content-Type, If-None-Match"),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

/// Runs every request: answers CORS preflights, gives the handler
/// [`Limits::request_timeout`] to produce a response (else 504), gives the
/// body until the request's deadline ([`Limits::car_timeout`] for CAR
/// streams), and logs the request when its body is done.
pub async fn around(State(state): State<ServerState>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path_and_query().map_or_else(|| request.uri().path().to_string(), ToString::to_string);
    let limits = state.limits;
    let mut response = if method == Method::OPTIONS {
        preflight()
    } else {
        match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                let mut response = super::text(StatusCode::GATEWAY_TIMEOUT, "the request took too long; retry later");
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
                response
            }
        }
    };
    add_cors(&mut response);
    let is_car = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(super::negotiate::CAR));
    let budget = if is_car { limits.car_timeout } else { limits.request_timeout };
    let info = RequestInfo { method: method.to_string(), path, status: response.status().as_u16(), start };
    let head = method == Method::HEAD;
    response.map(|body| Body::new(Metered::new(body, info, budget, head)))
}
