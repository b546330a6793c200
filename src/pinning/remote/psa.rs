//! A remote pinning service through the IPFS Pinning Service API 1.0
//! (<https://ipfs.github.io/pinning-services-api-spec/>; a copy of the
//! OpenAPI document is in `docs/spec/`).
//!
//! One run on a service:
//!
//! 1. list the pins this index made there before (`GET /pins` with
//!    `meta={"app":..,"index":..}` and every status), page by page: the
//!    service answers newest first, at most `limit` a page, with the total in
//!    `count`; the next page is asked for `before` the oldest `created` seen;
//! 2. for each CID not there, or there but `failed`, `POST /pins` with `cid`,
//!    `name`, `origins` and `meta` (`202` and a `PinStatus`);
//! 3. poll each request still `queued` or `pinning` (`GET /pins/{requestid}`),
//!    pausing longer each round, until it is `pinned` or `failed`, or the
//!    wait ends.
//!
//! A `PinStatus` names its CID as the service wrote it, in any CID version:
//! CIDs are compared by multihash.

use super::http::{Http, RemoteError};
use super::{Credentials, Labels, Outcome, Pace, Target, Wanted};
use crate::formats::block::{cid_to_string, parse_cid};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// The most results a page may hold (the API's maximum `limit`).
pub const PAGE_LIMIT: u32 = 1000;
/// The most pages read when listing (a bound on a service that never ends).
const MAX_PAGES: usize = 10_000;

/// `Pin`: what is asked to be pinned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRequest {
    /// The CID (required).
    pub cid: String,
    /// A name, at most 255 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Multiaddrs of peers that hold the data, at most 20.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// Labels, string to string.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for the service to start.
    Queued,
    /// Being fetched.
    Pinning,
    /// Held.
    Pinned,
    /// Given up.
    Failed,
}

/// `PinStatus`: a pin request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinStatus {
    /// The service's id of the request.
    pub requestid: String,
    /// Where it stands.
    pub status: Status,
    /// When it was made (RFC 3339).
    pub created: String,
    /// What was asked.
    pub pin: PinRequest,
    /// Multiaddrs of the service's peers that will fetch it.
    pub delegates: Vec<String>,
    /// Free-form details from the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<BTreeMap<String, String>>,
}

/// `PinResults`: a page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinResults {
    /// How many pins match in all.
    pub count: u64,
    /// This page's, newest first.
    pub results: Vec<PinStatus>,
}

/// A pinning service.
pub struct PinningService {
    http: Http,
    endpoint: String,
    pace: Pace,
}

impl PinningService {
    /// The service `name` at `endpoint` (the API's base URL).
    pub fn new(name: &str, endpoint: &str, credentials: Credentials, pace: Pace) -> anyhow::Result<Self> {
        Ok(PinningService {
            http: Http::new(name, endpoint, credentials, pace.retry)?,
            endpoint: endpoint.into(),
            pace,
        })
    }

    /// Every pin whose `meta` holds `filter`, in any status, newest first.
    pub fn list(&self, filter: &BTreeMap<String, String>) -> Result<Vec<PinStatus>, RemoteError> {
        let meta = serde_json::to_string(filter).expect("labels serialize");
        let mut all: Vec<PinStatus> = Vec::new();
        let mut before: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = url_query(&[
                ("status", "queued,pinning,pinned,failed"),
                ("limit", &PAGE_LIMIT.to_string()),
                ("meta", &meta),
            ]);
            if let Some(before) = &before {
                query.push_str(&format!("&before={}", encode(before)));
            }
            let answer = self.http.send(Method::GET, &format!("/pins?{query}"), None)?;
            let page: PinResults = self.http.expect("GET /pins", answer, &[StatusCode::OK])?;
            let Some(oldest) = page.results.iter().map(|p| p.created.clone()).min_by_key(|c| timestamp(c)) else {
                break;
            };
            if before.as_ref().is_some_and(|b| timestamp(&oldest) >= timestamp(b)) {
                return Err(self
                    .http
                    .faulty("GET /pins", format!("a page before {before:?} held a pin created at {oldest}")));
            }
            let total = page.count;
            all.extend(page.results);
            if all.len() as u64 >= total {
                break;
            }
            before = Some(oldest);
        }
        Ok(all)
    }

    /// Asks for `wanted` to be pinned (`POST /pins`).
    pub fn add(&self, wanted: &Wanted, labels: &Labels) -> Result<PinStatus, RemoteError> {
        let name: String = wanted.name.chars().take(255).collect();
        let body =
            PinRequest { cid: cid_to_string(&wanted.cid), name: Some(name), origins: Vec::new(), meta: labels.meta() };
        let body = serde_json::to_value(&body).expect("a pin request serializes");
        let answer = self.http.send(Method::POST, "/pins", Some(&body))?;
        let status: PinStatus = self.http.expect("POST /pins", answer, &[StatusCode::ACCEPTED, StatusCode::OK])?;
        self.check_cid("POST /pins", &status, wanted)?;
        Ok(status)
    }

    /// Where request `id` stands (`GET /pins/{requestid}`).
    pub fn get(&self, id: &str) -> Result<PinStatus, RemoteError> {
        let answer = self.http.send(Method::GET, &format!("/pins/{}", encode(id)), None)?;
        self.http.expect("GET /pins/{requestid}", answer, &[StatusCode::OK])
    }

    fn check_cid(&self, what: &str, status: &PinStatus, wanted: &Wanted) -> Result<(), RemoteError> {
        match parse_cid(&status.pin.cid) {
            Ok(cid) if cid.hash() == wanted.cid.hash() => Ok(()),
            _ => Err(self.http.faulty(what, format!("asked for {}, it answered for {:?}", wanted.cid, status.pin.cid))),
        }
    }
}

impl Target for PinningService {
    fn describe(&self) -> String {
        format!("{} (pinning service at {})", self.http.service(), self.endpoint)
    }

    fn pin_all(
        &self,
        wanted: &[Wanted],
        labels: &Labels,
        progress: &mut dyn FnMut(&Wanted, &Outcome),
    ) -> Result<Vec<Outcome>, RemoteError> {
        // What is there already, by multihash; the newest request per CID.
        let mut there: HashMap<Vec<u8>, PinStatus> = HashMap::new();
        for status in self.list(&labels.filter())? {
            let Ok(cid) = parse_cid(&status.pin.cid) else { continue };
            there.entry(cid.hash().to_bytes()).or_insert(status);
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; wanted.len()];
        let mut pending: Vec<(usize, String, Status)> = Vec::new();
        for (i, w) in wanted.iter().enumerate() {
            let status = match there.get(&w.cid.hash().to_bytes()) {
                Some(s) if s.status == Status::Pinned => {
                    settle(&mut outcomes, progress, wanted, i, Outcome::Already);
                    continue;
                }
                Some(s) if matches!(s.status, Status::Queued | Status::Pinning) => s.clone(),
                _ => self.add(w, labels)?,
            };
            match status.status {
                Status::Pinned => settle(&mut outcomes, progress, wanted, i, Outcome::Pinned),
                Status::Failed => settle(&mut outcomes, progress, wanted, i, Outcome::Failed(failure(&status))),
                s => pending.push((i, status.requestid, s)),
            }
        }
        let deadline = Instant::now() + self.pace.wait;
        let mut pause = self.pace.poll;
        while !pending.is_empty() && Instant::now() < deadline {
            std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
            pause = (pause * 2).min(Duration::from_secs(5));
            let mut still = Vec::new();
            for (i, id, _) in pending {
                let status = self.get(&id)?;
                self.check_cid("GET /pins/{requestid}", &status, &wanted[i])?;
                match status.status {
                    Status::Pinned => settle(&mut outcomes, progress, wanted, i, Outcome::Pinned),
                    Status::Failed => settle(&mut outcomes, progress, wanted, i, Outcome::Failed(failure(&status))),
                    s => still.push((i, id, s)),
                }
            }
            pending = still;
        }
        for (i, _, status) in pending {
            let status =
                serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            settle(&mut outcomes, progress, wanted, i, Outcome::Pending(format!("still {status} when the wait ended")));
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every CID settles")).collect())
    }
}

fn settle(
    outcomes: &mut [Option<Outcome>],
    progress: &mut dyn FnMut(&Wanted, &Outcome),
    wanted: &[Wanted],
    i: usize,
    outcome: Outcome,
) {
    progress(&wanted[i], &outcome);
    outcomes[i] = Some(outcome);
}

/// Why the service failed a pin, from its `info`.
fn failure(status: &PinStatus) -> String {
    let info = status.info.as_ref().map(|i| i.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("; "));
    match info {
        Some(info) if !info.is_empty() => format!("the service failed it ({info})"),
        _ => "the service failed it".into(),
    }
}

/// A `created` timestamp, for ordering (unreadable ones sort first).
fn timestamp(text: &str) -> Option<std::time::SystemTime> {
    crate::formats::ipns::rfc3339::parse(text)
}

/// A query string of `pairs`, percent-encoded.
fn url_query(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
}

/// Percent-encodes all but the unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_read_and_write_as_the_openapi_document_defines_them() {
        let status: PinStatus = serde_json::from_str(
            r#"{"requestid":"UniqueIdOfPinRequest","status":"queued","created":"2020-07-27T17:32:28Z",
                "pin":{"cid":"QmCIDToBePinned","name":"PreciousData.pdf","origins":["/ip4/203.0.113.142/tcp/4001/p2p/QmSourcePeerId"],"meta":{"app_id":"99986338-1113-4706-8302-4420da6158aa"}},
                "delegates":["/ip4/203.0.113.1/tcp/4001/p2p/QmServicePeerId"],"info":{"status_details":"Queue position: 7 of 9"}}"#,
        )
        .unwrap();
        assert_eq!(status.status, Status::Queued);
        assert_eq!(status.pin.origins.len(), 1);
        let page: PinResults = serde_json::from_str(r#"{"count":1,"results":[]}"#).unwrap();
        assert_eq!(page.count, 1);
        let request = PinRequest { cid: "bafkqaaa".into(), name: None, origins: vec![], meta: BTreeMap::new() };
        assert_eq!(serde_json::to_string(&request).unwrap(), r#"{"cid":"bafkqaaa"}"#);
        assert_eq!(
            url_query(&[("meta", r#"{"a":"b"}"#), ("status", "queued,pinned")]),
            "meta=%7B%22a%22%3A%22b%22%7D&status=queued%2Cpinned"
        );
    }
}
