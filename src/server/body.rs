//! Response bodies: one fed from a channel (CAR streams written on the
//! blocking pool), and the wrapper every response goes out in, which cuts a
//! body off at its deadline and logs the request when the body is done.

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A body whose chunks arrive on a channel; an `Err` ends it with an error,
/// which makes hyper cut the response off instead of ending it cleanly (so
/// that no client or cache takes a truncated stream for a whole one).
pub struct ChannelBody {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    error: Option<io::Error>,
}

impl ChannelBody {
    /// The body reading `rx` until every sender is gone.
    pub fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        ChannelBody { rx, error: None }
    }
}

impl HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(error) = self.error.take() {
            return Poll::Ready(Some(Err(error)));
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Err(error))) => {
                // hyper drops what it has buffered when a body fails; being
                // pending once first lets it flush the blocks already sent.
                self.error = Some(error);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            other => other.map(|item| item.map(|chunk| chunk.map(Frame::data))),
        }
    }
}

/// What the log line of a request says besides the body's fate.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The method.
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The response status.
    pub status: u16,
    /// When the request arrived.
    pub start: Instant,
}

/// Wraps a response body: counts the bytes sent, ends the body with an
/// error once `deadline` passes, and logs one line when dropped (after the
/// last byte, an error, or the client going away).
pub struct Metered {
    inner: Body,
    /// For a HEAD request, the size of the body that was not sent.
    head_hint: Option<SizeHint>,
    info: RequestInfo,
    deadline: Pin<Box<tokio::time::Sleep>>,
    bytes: u64,
    outcome: Option<String>,
    timed_out: bool,
}

impl Metered {
    /// Wraps `inner`, which must be sent within `budget` of the request's
    /// start. For a HEAD request the body is dropped at once, but its size
    /// is still reported, so that `Content-Length` is that of the GET
    /// response (and absent for a stream of unknown length).
    pub fn new(inner: Body, info: RequestInfo, budget: Duration, head: bool) -> Self {
        let deadline = Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(info.start + budget)));
        let (inner, head_hint) = if head { (Body::empty(), Some(inner.size_hint())) } else { (inner, None) };
        Metered { inner, head_hint, info, deadline, bytes: 0, outcome: None, timed_out: false }
    }
}

impl HttpBody for Metered {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.timed_out {
            let error = io::Error::new(io::ErrorKind::TimedOut, "the response took longer than its time limit");
            return Poll::Ready(Some(Err(axum::Error::new(error))));
        }
        if this.outcome.is_some() {
            return Poll::Ready(None);
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.outcome = Some("cut off: over the time limit".into());
            // Pending once so that hyper flushes what it holds (see
            // `ChannelBody`), then the error.
            this.timed_out = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => this.bytes += frame.data_ref().map_or(0, |d| d.len() as u64),
            Poll::Ready(Some(Err(e))) => this.outcome = Some(format!("cut off: {e}")),
            Poll::Ready(None) => this.outcome = Some("complete".into()),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.head_hint.unwrap_or_else(|| self.inner.size_hint())
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let outcome = match &self.outcome {
            Some(outcome) => outcome.as_str(),
            None if self.inner.is_end_stream() => "complete",
            None => "aborted: the client went away",
        };
        let info = &self.info;
        let ms = info.start.elapsed().as_millis() as u64;
        if outcome.starts_with("complete") {
            tracing::info!(method = %info.method, path = %info.path, status = info.status, bytes = self.bytes, ms, "request");
        } else {
            tracing::warn!(method = %info.method, path = %info.path, status = info.status, bytes = self.bytes, ms, outcome, "request");
        }
    }
}
