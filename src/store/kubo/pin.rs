//! `pin/ls` and `pin/add`: a DAG kept by the node, recursively, for a
//! pinning job or a mirror that pins onto kubo (`cargo ipfs pin remote add`
//! with a kubo service).
//!
//! The shapes follow the kubo RPC reference: `pin/ls?arg=<cid>&type=recursive`
//! answers `{"Keys": {"<cid>": {"Type": "recursive"}}}`, or an error naming
//! the CID as `is not pinned`; `pin/add?arg=<cid>&recursive=true` answers
//! `{"Pins": ["<cid>"]}` once the whole DAG is in the repository, which may
//! take the node a search of the network: the request carries kubo's
//! `timeout` so that the node stops searching when the client gives up.

use super::api::Global;
use super::{is_not_found, KuboError, KuboStore, MAX_JSON_ANSWER};
use crate::formats::block::cid_to_string;
use cid::Cid;
use ipfs_api_prelude::ApiRequest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// `POST /api/v0/pin/ls?arg=<cid>&type=recursive`.
#[derive(Serialize)]
pub(super) struct PinLs<'a> {
    pub arg: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(flatten)]
    pub global: Global,
}

impl ApiRequest for PinLs<'_> {
    const PATH: &'static str = "/pin/ls";
}

/// The answer of `pin/ls`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PinLsAnswer {
    #[serde(default)]
    keys: BTreeMap<String, PinType>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PinType {
    #[serde(rename = "Type")]
    kind: String,
}

/// `POST /api/v0/pin/add?arg=<cid>&recursive=true&progress=false`.
#[derive(Serialize)]
pub(super) struct PinAdd<'a> {
    pub arg: &'a str,
    pub recursive: bool,
    pub progress: bool,
    #[serde(flatten)]
    pub global: Global,
}

impl ApiRequest for PinAdd<'_> {
    const PATH: &'static str = "/pin/add";
}

/// The answer of `pin/add`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PinAddAnswer {
    #[serde(default)]
    pins: Option<Vec<String>>,
}

impl KuboStore {
    /// Whether the node keeps `cid` pinned recursively (`pin/ls`, offline:
    /// the answer comes from the node's own pin set).
    pub fn is_pinned(&self, cid: &Cid) -> Result<bool, KuboError> {
        const ENDPOINT: &str = "pin/ls";
        let arg = cid_to_string(cid);
        let global = Global { offline: true, timeout: Some(self.options.timeout) };
        let request = PinLs { arg: &arg, kind: "recursive", global };
        match self.call(ENDPOINT, request, None, MAX_JSON_ANSWER) {
            Ok(answer) => {
                let answer: PinLsAnswer = self.last_json(ENDPOINT, &answer)?;
                Ok(answer.keys.values().any(|p| p.kind == "recursive"))
            }
            Err(KuboError::Refused { message, .. }) if message.contains("not pinned") || is_not_found(&message) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Pins the DAG under `cid` recursively (`pin/add`), letting the node
    /// fetch what it lacks for at most `within`; kubo is told the same
    /// limit, so that it stops searching when this call gives up.
    pub fn pin_add(&self, cid: &Cid, within: Duration) -> Result<(), KuboError> {
        const ENDPOINT: &str = "pin/add";
        let arg = cid_to_string(cid);
        let global = Global { offline: self.options.offline, timeout: Some(within) };
        let request = PinAdd { arg: &arg, recursive: true, progress: false, global };
        let answer = self.run_within(ENDPOINT, within, self.send(ENDPOINT, request, None, MAX_JSON_ANSWER))?;
        let answer: PinAddAnswer = self.last_json(ENDPOINT, &answer)?;
        let pinned = answer.pins.unwrap_or_default();
        let same = |p: &String| crate::formats::block::parse_cid(p).is_ok_and(|p| p.hash() == cid.hash());
        if !pinned.iter().any(same) {
            return Err(self.faulty(ENDPOINT, format!("{arg} is not among the pins it answered ({pinned:?})")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(request: impl ApiRequest) -> String {
        request.absolute_url(&"http://127.0.0.1:5001/api/v0".parse().unwrap()).unwrap().to_string()
    }

    #[test]
    fn pin_requests_encode_as_the_reference_shows() {
        let global = Global { offline: false, timeout: Some(Duration::from_secs(90)) };
        assert_eq!(
            url(PinAdd { arg: "bafkqaaa", recursive: true, progress: false, global }),
            "http://127.0.0.1:5001/api/v0/pin/add?arg=bafkqaaa&recursive=true&progress=false&timeout=90000ms"
        );
        let global = Global { offline: true, timeout: None };
        assert_eq!(
            url(PinLs { arg: "bafkqaaa", kind: "recursive", global }),
            "http://127.0.0.1:5001/api/v0/pin/ls?arg=bafkqaaa&type=recursive&offline=true"
        );
        let answer: PinLsAnswer =
            serde_json::from_str(r#"{"Keys":{"bafkqaaa":{"Type":"recursive","Name":""}}}"#).unwrap();
        assert_eq!(answer.keys["bafkqaaa"].kind, "recursive");
        let answer: PinAddAnswer = serde_json::from_str(r#"{"Pins":["bafkqaaa"],"Progress":0}"#).unwrap();
        assert_eq!(answer.pins.unwrap(), ["bafkqaaa"]);
    }
}
