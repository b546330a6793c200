//! The delegated routing v1 IPNS endpoints: `GET` and `PUT
//! /routing/v1/ipns/{name}` with `application/vnd.ipfs.ipns-record` bodies.
//!
//! Every endpoint is asked at once. A record is verified against the name and
//! the current time before it counts, and the best of the valid ones (higher
//! sequence, then later validity) is returned; a record that does not verify
//! marks its endpoint as faulty. A record to publish is verified before it is
//! sent anywhere.

use super::{GatewayClient, Inner, RemoteError, Target, MEDIA_IPNS_RECORD};
use crate::formats::ipns::{better, verify_record, IpnsName, IpnsRecord, MAX_RECORD_SIZE};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::cmp::Ordering;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::task::JoinSet;

impl GatewayClient {
    /// Fetches the IPNS record of `name` from every gateway's routing
    /// endpoint and returns the bytes of the best one that verifies now.
    pub async fn get_record(&self, name: &IpnsName) -> Result<Vec<u8>, RemoteError> {
        let name = *name;
        let now = SystemTime::now();
        let mut requests = JoinSet::new();
        for i in 0..self.inner.gateways.len() {
            let inner = Arc::clone(&self.inner);
            requests.spawn(async move { inner.record(i, name, now).await });
        }
        let mut best: Option<(Vec<u8>, IpnsRecord)> = None;
        let mut errors = Vec::new();
        while let Some(joined) = requests.join_next().await {
            match joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())) {
                Ok((bytes, record)) => {
                    if best.as_ref().is_none_or(|(_, b)| better(&record, b) == Ordering::Greater) {
                        best = Some((bytes, record));
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "IPNS record request failed");
                    errors.push(e);
                }
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
    async fn record(&self, i: usize, name: IpnsName, now: SystemTime) -> Result<(Vec<u8>, IpnsRecord), RemoteError> {
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
            let bytes = gateway.read_capped(target, &mut response, MAX_RECORD_SIZE).await?;
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
