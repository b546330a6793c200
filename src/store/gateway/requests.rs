//! One request to one gateway: a block (`GET` and `HEAD`) or the start of
//! a CAR stream, each attempt within its time limit, retried with backoff
//! while the failure is retryable. A final failure that shows the gateway
//! slow or failing is remembered here, so every kind of request feeds the
//! same memory (`health.rs`).

use super::car::{self, SingleCar};
use super::completeness::Completeness;
use super::error::{RemoteError, Target};
use super::{block_limit, DagScope, Inner, MAX_BACKOFF, MEDIA_RAW};
use crate::formats::block::{verify, MAX_BLOCK_SIZE};
use cid::Cid;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{sleep, timeout, Instant};

impl Inner {
    /// [`Inner::retrying_within`] the whole timeout.
    pub(super) async fn retrying<T, F, Fut>(&self, i: usize, target: &Target, request: F) -> Result<T, RemoteError>
    where
        F: FnMut(OwnedSemaphorePermit) -> Fut,
        Fut: Future<Output = Result<T, RemoteError>>,
    {
        self.retrying_within(i, target, self.options.timeout, request).await
    }

    /// Runs one request against gateway `i` under the concurrency limit,
    /// each attempt within `limit`, retrying with exponential backoff while
    /// the failure is retryable; a final failure that shows the gateway
    /// slow or failing is remembered. The permit is handed to the request so
    /// that a stream can keep it for as long as it runs.
    pub(super) async fn retrying_within<T, F, Fut>(
        &self,
        i: usize,
        target: &Target,
        limit: Duration,
        request: F,
    ) -> Result<T, RemoteError>
    where
        F: FnMut(OwnedSemaphorePermit) -> Fut,
        Fut: Future<Output = Result<T, RemoteError>>,
    {
        self.retrying_in(&self.permits, i, target, limit, request).await
    }

    /// [`Inner::retrying_within`], the permits drawn from `permits`: the
    /// client's limit, or the second pool of the same size that a race's
    /// later legs draw from (see `hedge.rs`).
    pub(super) async fn retrying_in<T, F, Fut>(
        &self,
        permits: &Arc<Semaphore>,
        i: usize,
        target: &Target,
        limit: Duration,
        mut request: F,
    ) -> Result<T, RemoteError>
    where
        F: FnMut(OwnedSemaphorePermit) -> Fut,
        Fut: Future<Output = Result<T, RemoteError>>,
    {
        let gateway = &self.gateways[i];
        let mut delay = self.options.backoff;
        let mut retries = 0;
        loop {
            let permit = Arc::clone(permits).acquire_owned().await.expect("the semaphore is never closed");
            let result = match timeout(limit, request(permit)).await {
                Ok(result) => result,
                Err(_) => {
                    Err(RemoteError::Timeout { gateway: gateway.label.clone(), target: target.clone(), after: limit })
                }
            };
            match result {
                Err(e) if e.is_retryable() && retries < self.options.retries => {
                    retries += 1;
                    tracing::debug!(gateway = %gateway.label, %target, error = %e, retry = retries, "retrying");
                    sleep(delay).await;
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    if let Some(blamed) = e.blames() {
                        self.health.avoid(blamed, &e.to_string());
                    }
                    return Err(e);
                }
                ok => return ok,
            }
        }
    }

    pub(super) async fn block(&self, i: usize, cid: Cid) -> Result<Vec<u8>, RemoteError> {
        let target = &Target::Block(cid);
        self.retrying_within(i, target, block_limit(&self.options), move |permit| async move {
            let _permit = permit;
            let gateway = &self.gateways[i];
            let url = gateway.url(&format!("ipfs/{cid}"), Some("format=raw"));
            let mut response =
                self.http.get(url).header(ACCEPT, MEDIA_RAW).send().await.map_err(|e| gateway.send_error(target, e))?;
            gateway.check_status(target, &response)?;
            let bytes = gateway.read_capped(target, &mut response, MAX_BLOCK_SIZE).await?;
            verify(&cid, &bytes).map_err(|source| RemoteError::WrongBlock {
                gateway: gateway.label.clone(),
                cid,
                source,
            })?;
            Ok(bytes)
        })
        .await
    }

    pub(super) async fn head(&self, i: usize, cid: Cid) -> Result<(), RemoteError> {
        let target = &Target::Block(cid);
        let limit = self.options.first_byte.min(self.options.timeout);
        self.retrying_within(i, target, limit, move |permit| async move {
            let _permit = permit;
            let gateway = &self.gateways[i];
            let url = gateway.url(&format!("ipfs/{cid}"), Some("format=raw"));
            let response = self
                .http
                .head(url)
                .header(ACCEPT, MEDIA_RAW)
                .send()
                .await
                .map_err(|e| gateway.send_error(target, e))?;
            gateway.check_status(target, &response)
        })
        .await
    }

    pub(super) async fn car(
        &self,
        i: usize,
        target: &Target,
        scope: DagScope,
        permit: OwnedSemaphorePermit,
        deadline: Option<Instant>,
    ) -> Result<SingleCar, RemoteError> {
        let gateway = &self.gateways[i];
        let Some((cid, path)) = target.car_root() else { unreachable!("CAR targets only") };
        let query = format!("format=car&dag-scope={}", scope.as_str());
        let mut url = gateway.url(&format!("ipfs/{cid}"), Some(&query));
        if let Some(path) = path {
            url.path_segments_mut().expect("gateway URLs are http(s) bases").extend(path.split('/'));
        }
        let response = self
            .http
            .get(url)
            .header(ACCEPT, car::ACCEPT_CAR)
            .send()
            .await
            .map_err(|e| gateway.send_error(target, e))?;
        gateway.check_status(target, &response)?;
        let content_type =
            response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let Some(params) = car::car_params(&content_type) else {
            return Err(RemoteError::WrongContentType {
                gateway: gateway.label.clone(),
                target: target.clone(),
                content_type,
            });
        };
        let check = Completeness::new(cid, scope, params.dfs);
        let watch = car::Watch { deadline, health: Arc::clone(&self.health) };
        Ok(SingleCar::start(response, permit, gateway.label.clone(), cid, check, self.options.timeout, watch))
    }
}
