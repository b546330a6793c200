//! The runtime under the blocking HTTP stores ([`RemoteStore`](super::RemoteStore)
//! and [`KuboStore`](super::KuboStore)): their `BlockStore` methods are
//! plain calls, their clients async.

use std::future::Future;
use tokio::runtime::{Builder, Handle, Runtime};

/// A runtime of its own that blocking callers run futures on; several
/// threads may call at once. Calling it from inside an async task is refused
/// (that would block the task's thread) rather than allowed to panic.
pub(crate) struct Blocking {
    /// Always `Some` until dropped (see `Drop`).
    runtime: Option<Runtime>,
}

impl Blocking {
    /// Starts the runtime, its threads named `thread_name`.
    pub(crate) fn new(thread_name: &str) -> std::io::Result<Self> {
        // Worker threads drive the connections, so that many threads can
        // block on requests at once without taking turns at one driver.
        let runtime = Builder::new_multi_thread().worker_threads(2).thread_name(thread_name).enable_all().build()?;
        Ok(Blocking { runtime: Some(runtime) })
    }

    /// Blocks on `future`; `None` on a thread that runs async tasks.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> Option<F::Output> {
        if Handle::try_current().is_ok() {
            return None;
        }
        Some(self.runtime.as_ref().expect("the runtime lives until drop").block_on(future))
    }
}

impl Drop for Blocking {
    fn drop(&mut self) {
        // A runtime dropped the ordinary way blocks until its tasks end, which
        // panics inside async code; its owner may well be dropped there.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
