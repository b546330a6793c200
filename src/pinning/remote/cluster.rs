//! An IPFS Cluster through its REST API
//! (<https://ipfscluster.io/documentation/reference/api/>).
//!
//! For each CID: `GET /pins/{cid}` (the pin's status on every peer, a
//! `GlobalPinInfo` whose `peer_map` holds each peer's `status`); when fewer
//! peers hold it than required, `POST /pins/{cid}?name=..&mode=recursive`
//! with the replication factors, then `GET /pins/{cid}` again until enough
//! peers are `pinned`, one reports `pin_error`, or the wait ends. A pin is
//! enough when `replication-min` peers hold it (at least one), and no
//! allocated peer is still queued or pinning.
//!
//! Cluster writes a CID either as a string or, from version 1.0, as
//! `{"/": "<cid>"}`; both are read.

use super::http::{Http, RemoteError};
use super::{Credentials, Labels, Outcome, Pace, Service, Target, Wanted};
use crate::formats::block::{cid_to_string, parse_cid};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A CID as cluster writes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum ClusterCid {
    /// `"bafy..."`.
    Text(String),
    /// `{"/": "bafy..."}`.
    Link {
        /// The CID.
        #[serde(rename = "/")]
        cid: String,
    },
}

impl ClusterCid {
    fn text(&self) -> &str {
        match self {
            ClusterCid::Text(t) | ClusterCid::Link { cid: t } => t,
        }
    }
}

/// `GET /pins/{cid}`: the pin's status on each peer.
#[derive(Debug, Clone, Deserialize)]
pub struct GlobalPinInfo {
    /// The CID.
    pub cid: ClusterCid,
    /// By peer id.
    #[serde(default)]
    pub peer_map: BTreeMap<String, PinInfo>,
}

/// One peer's status of a pin.
#[derive(Debug, Clone, Deserialize)]
pub struct PinInfo {
    /// `pinned`, `pinning`, `pin_queued`, `pin_error`, `unpinned`, `remote`, ...
    pub status: String,
    /// The peer's error, with `pin_error`.
    #[serde(default)]
    pub error: String,
    /// The peer's name.
    #[serde(default)]
    pub peername: String,
}

/// `POST /pins/{cid}`: the pin as cluster stored it.
#[derive(Debug, Clone, Deserialize)]
struct PinAnswer {
    cid: ClusterCid,
}

/// Where a pin stands across the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Standing {
    Enough,
    Working,
    Missing,
    Failed(String),
}

/// An IPFS Cluster.
pub struct Cluster {
    http: Http,
    endpoint: String,
    replication_min: Option<i32>,
    replication_max: Option<i32>,
    pace: Pace,
}

impl Cluster {
    /// The cluster `name`, as `service` configures it.
    pub fn new(name: &str, service: &Service, credentials: Credentials, pace: Pace) -> anyhow::Result<Self> {
        Ok(Cluster {
            http: Http::new(name, &service.endpoint, credentials, pace.retry)?,
            endpoint: service.endpoint.clone(),
            replication_min: service.replication_min,
            replication_max: service.replication_max,
            pace,
        })
    }

    fn status(&self, w: &Wanted) -> Result<Standing, RemoteError> {
        let answer = self.http.send(Method::GET, &format!("/pins/{}", cid_to_string(&w.cid)), None)?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(Standing::Missing);
        }
        let info: GlobalPinInfo = self.http.expect("GET /pins/{cid}", answer, &[StatusCode::OK])?;
        self.check_cid("GET /pins/{cid}", info.cid.text(), w)?;
        Ok(self.standing(&info))
    }

    fn standing(&self, info: &GlobalPinInfo) -> Standing {
        let count = |s: &str| info.peer_map.values().filter(|p| p.status == s).count();
        let pinned = count("pinned");
        let need = self.replication_min.filter(|m| *m > 0).unwrap_or(1) as usize;
        let working = count("pinning") + count("pin_queued");
        let errors: Vec<String> = info
            .peer_map
            .iter()
            .filter(|(_, p)| p.status == "pin_error" || p.status == "cluster_error")
            .map(|(id, p)| format!("{}: {}", if p.peername.is_empty() { id } else { &p.peername }, p.error))
            .collect();
        if pinned >= need && working == 0 {
            Standing::Enough
        } else if working > 0 {
            Standing::Working
        } else if !errors.is_empty() {
            Standing::Failed(errors.join("; "))
        } else if pinned > 0 {
            Standing::Failed(format!("{pinned} peers hold it, {need} required"))
        } else {
            Standing::Missing
        }
    }

    fn add(&self, w: &Wanted) -> Result<(), RemoteError> {
        let mut query = format!("name={}&mode=recursive", query_value(&w.name));
        if let Some(min) = self.replication_min {
            query.push_str(&format!("&replication-min={min}"));
        }
        if let Some(max) = self.replication_max {
            query.push_str(&format!("&replication-max={max}"));
        }
        let answer = self.http.send(Method::POST, &format!("/pins/{}?{query}", cid_to_string(&w.cid)), None)?;
        let pin: PinAnswer = self.http.expect("POST /pins/{cid}", answer, &[StatusCode::OK, StatusCode::ACCEPTED])?;
        self.check_cid("POST /pins/{cid}", pin.cid.text(), w)
    }

    fn check_cid(&self, what: &str, text: &str, w: &Wanted) -> Result<(), RemoteError> {
        match parse_cid(text) {
            Ok(cid) if cid.hash() == w.cid.hash() => Ok(()),
            _ => Err(self.http.faulty(what, format!("asked for {}, it answered for {text:?}", w.cid))),
        }
    }
}

impl Target for Cluster {
    fn describe(&self) -> String {
        format!("{} (IPFS Cluster at {})", self.http.service(), self.endpoint)
    }

    fn pin_all(
        &self,
        wanted: &[Wanted],
        _labels: &Labels,
        progress: &mut dyn FnMut(&Wanted, &Outcome),
    ) -> Result<Vec<Outcome>, RemoteError> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; wanted.len()];
        let mut pending = Vec::new();
        for (i, w) in wanted.iter().enumerate() {
            match self.status(w)? {
                Standing::Enough => {
                    progress(w, &Outcome::Already);
                    outcomes[i] = Some(Outcome::Already);
                }
                Standing::Working => pending.push(i),
                Standing::Missing | Standing::Failed(_) => {
                    self.add(w)?;
                    pending.push(i);
                }
            }
        }
        let deadline = Instant::now() + self.pace.wait;
        let mut pause = self.pace.poll;
        let mut first = true;
        while !pending.is_empty() && (first || Instant::now() < deadline) {
            if !first {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            first = false;
            let mut still = Vec::new();
            for i in pending {
                let outcome = match self.status(&wanted[i])? {
                    Standing::Enough => Outcome::Pinned,
                    Standing::Failed(why) => Outcome::Failed(format!("the cluster failed it ({why})")),
                    Standing::Working | Standing::Missing => {
                        still.push(i);
                        continue;
                    }
                };
                progress(&wanted[i], &outcome);
                outcomes[i] = Some(outcome);
            }
            pending = still;
        }
        for i in pending {
            let outcome = Outcome::Pending("the cluster was still pinning it when the wait ended".into());
            progress(&wanted[i], &outcome);
            outcomes[i] = Some(outcome);
        }
        Ok(outcomes.into_iter().map(|o| o.expect("every CID settles")).collect())
    }
}

/// Percent-encodes a query value.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cids_are_read_in_both_of_clusters_forms() {
        let a: GlobalPinInfo =
            serde_json::from_str(r#"{"cid":{"/":"bafkqaaa"},"peer_map":{"12D3KooA":{"status":"pinned"}}}"#).unwrap();
        let b: GlobalPinInfo = serde_json::from_str(r#"{"cid":"bafkqaaa","peer_map":{}}"#).unwrap();
        assert_eq!((a.cid.text(), b.cid.text()), ("bafkqaaa", "bafkqaaa"));
        assert_eq!(a.peer_map["12D3KooA"].status, "pinned");
    }
}
