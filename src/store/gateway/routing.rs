//! The delegated routing v1 IPNS endpoints: `GET` and `PUT
//! /routing/v1/ipns/{name}` with `application/vnd.ipfs.ipns-record` bodies.
//!
//! Every endpoint is asked at once. A record is verified against the name and
//! the current time before it counts, and the best of the valid ones (higher
//! sequence, then later validity) is returned; a record that does not verify
//! marks its endpoint as faulty. A record to publish is verified before it is
//! sent anywhere.
//!
//! The resolution is raced rather than waited out: once one valid record is
//! in hand, the endpoints still answering have [`RECORD_GRACE`] to send a
//! better one, and are then abandoned (not remembered as failing: they
//! were only slower; one whose answer had begun is marked as behind, and
//! asked after the others later). And a record, at most
//! [`MAX_RECORD_SIZE`] bytes, must arrive within
//! [`ClientOptions::first_byte`](super::ClientOptions::first_byte) of its
//! answer's start, so that an endpoint that trickles it fails (and is
//! remembered) in seconds even when it is the only one.

use super::{GatewayClient, Inner, RemoteError, Target, MEDIA_IPNS_RECORD};
use crate::formats::ipns::{better, verify_record, IpnsName, IpnsRecord, MAX_RECORD_SIZE};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::cmp::Ordering;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};

/// How long the other endpoints may take to send a better record once one
/// valid record is in hand: 1 s. Endpoints that have the newest record
/// answer within about as long of each other; one that trickles or hangs
/// would otherwise hold every fetch for its whole timeout. A record missed
/// this way is an older index version (never one older than the last seen),
/// which costs hits, never correctness.
pub const RECORD_GRACE: Duration = Duration::from_secs(1);

impl GatewayClient {
    /// Fetches the IPNS record of `name` from every gateway's routing
    /// endpoint and returns the bytes of the best one that verifies now,
    /// among those that arrived within [`RECORD_GRACE`] of the first.
    pub async fn get_record(&self, name: &IpnsName) -> Result<Vec<u8>, RemoteError> {
        let name = *name;
        let now = SystemTime::now();
        let mut requests = JoinSet::new();
        // Which endpoints' answers have begun, and which have ended.
        let began: Vec<Arc<AtomicBool>> = self.inner.gateways.iter().map(|_| Arc::default()).collect();
        let mut ended = vec![false; began.len()];
        for (i, began) in began.iter().enumerate() {
            let (inner, began) = (Arc::clone(&self.inner), Arc::clone(began));
            requests.spawn(async move { (i, inner.record(i, name, now, &began).await) });
        }
        let mut best: Option<(Vec<u8>, IpnsRecord)> = None;
        let mut errors = Vec::new();
        let mut until: Option<Instant> = None;
        loop {
            let joined = tokio::select! {
                joined = requests.join_next() => joined,
                // The endpoints still answering are abandoned when the set
                // of tasks is dropped.
                () = sleep_until(until.unwrap_or_else(Instant::now)), if until.is_some() => break,
            };
            let Some(joined) = joined else { break };
            let (i, result) = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            ended[i] = true;
            match result {
                Ok((bytes, record)) => {
                    if best.as_ref().is_none_or(|(_, b)| better(&record, b) == Ordering::Greater) {
                        best = Some((bytes, record));
                    }
                    until.get_or_insert_with(|| Instant::now() + RECORD_GRACE);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "IPNS record request failed");
                    errors.push(e);
                }
            }
        }
        // An endpoint abandoned while its record was arriving sent less
        // than a record in `RECORD_GRACE`: asked after the others later.
        for (i, began) in began.iter().enumerate() {
            if !ended[i] && began.load(AtomicOrdering::SeqCst) {
                let why = format!("its IPNS record of {name} was not whole {RECORD_GRACE:?} after another one");
                self.inner.health.fell_behind(&self.inner.gateways[i].label, &why);
            }
        }
        match best {
            Some((bytes, _)) => Ok(bytes),
            None => Err(RemoteError::combine(Target::Record(name), errors)),
        }
    }

    /// Publishes a record for `name` to every gateway's routing endpoint
    /// (`PUT`). The record is verified first and not sent if it fails.
    /// Returns how many endpoints accepted it; it is an error if none did.
    pub async fn put_record(&self, name: &IpnsName, bytes: &[u8]) -> Result<usize, RemoteError> {
        let name = *name;
        verify_record(&name, bytes, SystemTime::now()).map_err(|source| RemoteError::RecordRefused { source })?;
        let body: Arc<[u8]> = bytes.into();
        let mut requests = JoinSet::new();
        for i in 0..self.inner.gateways.len() {
            let inner = Arc::clone(&self.inner);
            let body = Arc::clone(&body);
            requests.spawn(async move { inner.publish(i, name, body).await });
        }
        let mut accepted = 0;
        let mut errors = Vec::new();
        while let Some(joined) = requests.join_next().await {
            match joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())) {
                Ok(()) => accepted += 1,
                Err(e) => {
                    tracing::warn!(error = %e, "an endpoint did not accept the IPNS record");
                    errors.push(e);
                }
            }
        }
        if accepted == 0 {
            return Err(RemoteError::combine(Target::Publish(name), errors));
        }
        Ok(accepted)
    }
}

impl Inner {
    /// One endpoint's record of `name`, verified at `now`; `began` is set
    /// once its answer has begun.
    async fn record(
        &self,
        i: usize,
        name: IpnsName,
        now: SystemTime,
        began: &AtomicBool,
    ) -> Result<(Vec<u8>, IpnsRecord), RemoteError> {
        let target = &Target::Record(name);
        self.retrying(i, target, move |permit| async move {
            let _permit = permit;
            let gateway = &self.gateways[i];
            let url = gateway.url(&format!("routing/v1/ipns/{name}"), None);
            let mut response = self
                .http
                .get(url)
                .header(ACCEPT, MEDIA_IPNS_RECORD)
                .send()
                .await
                .map_err(|e| gateway.send_error(target, e))?;
            gateway.check_status(target, &response)?;
            began.store(true, AtomicOrdering::SeqCst);
            // A record is small: once the answer began, it comes at once.
            let within = self.options.first_byte.min(self.options.timeout);
            let read = gateway.read_capped(target, &mut response, MAX_RECORD_SIZE);
            let bytes = timeout(within, read).await.map_err(|_| RemoteError::Timeout {
                gateway: gateway.label.clone(),
                target: target.clone(),
                after: within,
            })??;
            let record = verify_record(&name, &bytes, now)
                .map_err(|source| RemoteError::InvalidRecord { gateway: gateway.label.clone(), source })?;
            Ok((bytes, record))
        })
        .await
    }

    async fn publish(&self, i: usize, name: IpnsName, body: Arc<[u8]>) -> Result<(), RemoteError> {
        let target = &Target::Publish(name);
        let body = &body;
        self.retrying(i, target, move |permit| async move {
            let _permit = permit;
            let gateway = &self.gateways[i];
            let url = gateway.url(&format!("routing/v1/ipns/{name}"), None);
            let response = self
                .http
                .put(url)
                .header(CONTENT_TYPE, MEDIA_IPNS_RECORD)
                .body(body.to_vec())
                .send()
                .await
                .map_err(|e| gateway.send_error(target, e))?;
            // A 404 here means the endpoint does not exist, not that the
            // record is absent, so it is reported as a status.
            let status = response.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(RemoteError::Status {
                    gateway: gateway.label.clone(),
                    target: target.clone(),
                    status: status.as_u16(),
                })
            }
        })
        .await
    }
}
