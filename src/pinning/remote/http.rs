//! HTTP for the remote pinning clients: one request at a time on a runtime
//! of their own, with the service's credentials, retried with exponential
//! backoff and jitter on what is worth retrying (no answer, `408`, `429`,
//! `5xx`; a `Retry-After` in seconds is honoured up to the backoff's cap),
//! never on a refused token or a refused request.

use super::Credentials;
use rand_core::{OsRng, RngCore};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use std::time::Duration;
use thiserror::Error;

/// The largest answer read.
const MAX_ANSWER: usize = 16 << 20;

/// Why a request to a pinning service failed.
#[derive(Debug, Error)]
pub enum RemoteError {
    /// The runtime or client could not be made.
    #[error("cannot set up requests to {service}: {reason}")]
    Setup {
        /// The service's name.
        service: String,
        /// What failed.
        reason: String,
    },
    /// No answer after every retry.
    #[error("cannot reach {service} at {url} ({reason}) after {attempts} attempts; check the endpoint (`cargo ipfs pin remote service ls`) and the network")]
    Unreachable {
        /// The service's name.
        service: String,
        /// What was asked.
        url: String,
        /// The transport's error.
        reason: String,
        /// How many tries.
        attempts: u32,
    },
    /// The credentials were refused.
    #[error("{service} refused the access token (HTTP {status}: {reason}); it is wrong or has expired: put a valid one in {source_of_token}")]
    Unauthorized {
        /// The service's name.
        service: String,
        /// 401 or 403.
        status: u16,
        /// The service's reason.
        reason: String,
        /// Where the token came from.
        source_of_token: String,
    },
    /// The service refused the request (after the retries, for `429` and `5xx`).
    #[error("{service} answered HTTP {status} to {what}: {reason}")]
    Refused {
        /// The service's name.
        service: String,
        /// The status.
        status: u16,
        /// The request, such as `POST /pins`.
        what: String,
        /// The service's reason.
        reason: String,
    },
    /// The answer is not what the API promises.
    #[error("{service} gave a faulty answer to {what}: {reason}")]
    Faulty {
        /// The service's name.
        service: String,
        /// The request.
        what: String,
        /// What is wrong.
        reason: String,
    },
}

/// How a request is retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The first backoff.
    pub base: Duration,
    /// The longest backoff.
    pub cap: Duration,
    /// How long one request may take.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 5,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            timeout: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// The wait before try `attempt + 1` (`attempt` from 1): half the
    /// exponential step plus a random part of the other half, so that many
    /// clients refused at once do not come back at once.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let step = self.base.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(self.cap);
        let half = step / 2;
        let jitter = half.as_millis() as u64;
        half + Duration::from_millis(if jitter == 0 { 0 } else { OsRng.next_u64() % (jitter + 1) })
    }
}

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The body, at most 16 MiB.
    pub body: Vec<u8>,
}

/// A client for one service's base URL.
pub struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
    service: String,
    credentials: Credentials,
    retry: Retry,
}

impl Http {
    /// A client for `base` (no trailing slash needed), named `service` in
    /// errors.
    pub fn new(service: &str, base: &str, credentials: Credentials, retry: Retry) -> Result<Self, RemoteError> {
        let setup = |reason: String| RemoteError::Setup { service: service.to_string(), reason };
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| setup(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(retry.timeout)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("cargo-ipfs-fetch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| setup(e.to_string()))?;
        Ok(Http {
            runtime,
            client,
            base: base.trim_end_matches('/').to_string(),
            service: service.to_string(),
            credentials,
            retry,
        })
    }

    /// The service's name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// Sends `method path_and_query` with an optional JSON body, retrying
    /// as the module says; any answer that is not retried is returned, for
    /// the caller to read (a `401`/`403` is an error here).
    pub fn send(
        &self,
        method: Method,
        path_and_query: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<Answer, RemoteError> {
        let url = format!("{}{path_and_query}", self.base);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.client.request(method.clone(), &url);
            request = match &self.credentials {
                Credentials::None => request,
                Credentials::Bearer { token, .. } => request.header(AUTHORIZATION, format!("Bearer {token}")),
                Credentials::Basic { user, password, .. } => request.basic_auth(user, Some(password)),
            };
            if let Some(json) = json {
                request = request.header(CONTENT_TYPE, "application/json").body(json.to_string());
            }
            let sent = self.runtime.block_on(async {
                let response = request.send().await?;
                let status = response.status();
                let headers = response.headers().clone();
                let mut response = response;
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await? {
                    if body.len() + chunk.len() > MAX_ANSWER {
                        break;
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, reqwest::Error>((status, headers, body))
            });
            let wait = match sent {
                Ok((status, _, body)) if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN => {
                    return Err(RemoteError::Unauthorized {
                        service: self.service.clone(),
                        status: status.as_u16(),
                        reason: reason(&body),
                        source_of_token: self.credentials.source(),
                    })
                }
                Ok((status, headers, _)) if retried(status) && attempt < self.retry.attempts => {
                    retry_after(&headers).map_or_else(|| self.retry.backoff(attempt), |d| d.min(self.retry.cap))
                }
                Ok((status, _, body)) => return Ok(Answer { status, body }),
                Err(_) if attempt < self.retry.attempts => self.retry.backoff(attempt),
                Err(e) => {
                    return Err(RemoteError::Unreachable {
                        service: self.service.clone(),
                        url,
                        reason: e.to_string(),
                        attempts: attempt,
                    })
                }
            };
            std::thread::sleep(wait);
        }
    }

    /// The body of `answer` as `T` when its status is one of `ok`, else the
    /// service's refusal.
    pub fn expect<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        answer: Answer,
        ok: &[StatusCode],
    ) -> Result<T, RemoteError> {
        if !ok.contains(&answer.status) {
            return Err(self.refused(what, &answer));
        }
        serde_json::from_slice(&answer.body).map_err(|e| self.faulty(what, format!("unreadable JSON ({e})")))
    }

    /// The service's refusal of `what`.
    pub fn refused(&self, what: &str, answer: &Answer) -> RemoteError {
        RemoteError::Refused {
            service: self.service.clone(),
            status: answer.status.as_u16(),
            what: what.to_string(),
            reason: reason(&answer.body),
        }
    }

    /// A faulty answer to `what`.
    pub fn faulty(&self, what: &str, reason: String) -> RemoteError {
        RemoteError::Faulty { service: self.service.clone(), what: what.to_string(), reason }
    }
}

/// Whether a status is worth another try.
fn retried(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT || status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After` in seconds.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok().map(Duration::from_secs)
}

/// A service's reason, from the error shapes of the Pinning Service API
/// (`{"error": {"reason", "details"}}`), IPFS Cluster (`{"code",
/// "message"}`) and kubo (`{"Message"}`), or the start of the text.
pub fn reason(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
        let error = &value["error"];
        if let Some(reason) = error["reason"].as_str() {
            return match error["details"].as_str() {
                Some(details) if !details.is_empty() => format!("{reason}: {details}"),
                _ => reason.to_string(),
            };
        }
        for key in ["message", "Message"] {
            if let Some(message) = value[key].as_str() {
                return message.to_string();
            }
        }
    }
    let text: String = String::from_utf8_lossy(body).trim().chars().take(300).collect();
    if text.is_empty() {
        "no reason given".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter_in_the_upper_half() {
        let retry = Retry {
            attempts: 8,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(800),
            timeout: Duration::from_secs(1),
        };
        for (attempt, step) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 800), (30, 800)] {
            for _ in 0..50 {
                let d = retry.backoff(attempt).as_millis() as u64;
                assert!(d >= step / 2 && d <= step, "attempt {attempt}: {d} ms outside {}..={step}", step / 2);
            }
        }
        let spread: std::collections::BTreeSet<_> = (0..50).map(|_| retry.backoff(4)).collect();
        assert!(spread.len() > 1, "jitter spreads the waits");
    }

    #[test]
    fn reasons_are_read_from_each_apis_error_shape() {
        assert_eq!(reason(br#"{"error":{"reason":"NOT_FOUND","details":"no such pin"}}"#), "NOT_FOUND: no such pin");
        assert_eq!(reason(br#"{"error":{"reason":"UNAUTHORIZED"}}"#), "UNAUTHORIZED");
        assert_eq!(reason(br#"{"code":404,"message":"cid not found"}"#), "cid not found");
        assert_eq!(reason(br#"{"Message":"bad","Code":0,"Type":"error"}"#), "bad");
        assert_eq!(reason(b"plain text\n"), "plain text");
        assert_eq!(reason(b""), "no reason given");
    }
}
