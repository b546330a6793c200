//! `cargo ipfs name inspect [--verify NAME] [--json] RECORD`: an IPNS
//! record's fields and, with `--verify`, whether it is valid for a name now,
//! as kubo's `ipfs name inspect` prints them.
//!
//! Exit status: 0 when the record can be read (and, with `--verify`,
//! verifies); 1 when it cannot be read or is not valid, with the reason.

use super::{Global, Status};
use crate::formats::ipns::{inspect_record, verify_record, IpnsName, RecordFields, MAX_RECORD_SIZE, VALIDITY_EOL};
use anyhow::{bail, Context};
use data_encoding::BASE64_NOPAD;
use ipld_core::ipld::Ipld;
use serde_json::{json, Value as Json};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// `cargo ipfs name` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print an IPNS record's fields; with --verify, check it for a name.
    Inspect {
        /// Verify the record for this IPNS name (k51..., 12D3KooW... or
        /// /ipns/...) at the current time.
        #[arg(long, value_name = "NAME")]
        verify: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// The record file; `-` for standard input.
        record: PathBuf,
    },
    /// Verify a record for NAME and keep it in the store if it is better than
    /// the one there (like `ipfs routing put /ipns/NAME`).
    Put {
        /// The IPNS name (k51..., 12D3KooW... or /ipns/...).
        name: String,
        /// The record file.
        record: PathBuf,
    },
}

/// Runs a name subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    match cmd {
        Command::Inspect { verify, json, record } => inspect(verify.as_deref(), json, &record),
        Command::Put { name, record } => {
            let name: IpnsName = name.parse()?;
            let bytes = std::fs::read(&record).with_context(|| format!("cannot read {}", record.display()))?;
            let store = global.open_store()?;
            // One IPNS name, one index: a record that names an index is
            // replaced only by a record of a version of the same index.
            if let Some(stored) = store.records()?.get(&name)? {
                let guard = |bytes: &[u8]| crate::publish::guard::index_of_record(&store, &name, bytes);
                if let Some(current) = guard(&stored) {
                    let new = guard(&bytes).unwrap_or_else(|| "a value that is no version of an index here".into());
                    crate::publish::guard::check_replaces(&name, None, Some(&current), &new)
                        .with_context(|| format!("refusing {} for /ipns/{name}", record.display()))?;
                }
            }
            let outcome = store
                .records()?
                .put(&name, &bytes, std::time::SystemTime::now())
                .with_context(|| format!("refusing {} for /ipns/{name}", record.display()))?;
            match outcome {
                crate::store::PutOutcome::Stored => println!("stored the record for /ipns/{name}"),
                crate::store::PutOutcome::Kept => {
                    println!("kept the stored record for /ipns/{name}: it is as new or newer")
                }
            }
            Ok(0)
        }
    }
}

/// The outcome of `--verify`: the name, and why the record is not valid
/// for it, if it is not.
struct Verdict {
    name: IpnsName,
    problem: Option<String>,
}

fn inspect(verify: Option<&str>, json: bool, path: &Path) -> anyhow::Result<Status> {
    // A mistyped name is found before anything is read.
    let name = verify.map(|text| text.parse::<IpnsName>()).transpose()?;
    let bytes = read_record(path)?;
    let fields = inspect_record(&bytes).with_context(|| path.display().to_string())?;
    let verdict = name.map(|name| Verdict {
        name,
        problem: verify_record(&name, &bytes, SystemTime::now()).err().map(|e| e.to_string()),
    });
    // Without --verify, a record whose data cannot be read is still refused.
    let data_problem = match &fields.data_map {
        Some(Err(reason)) => Some(reason.clone()),
        _ => None,
    };
    let problem = match &verdict {
        Some(verdict) => verdict.problem.clone(),
        None => data_problem,
    };
    if json {
        println!("{}", to_json(&fields, verdict.as_ref(), problem.as_deref()));
    } else {
        print!("{}", to_text(&fields, verdict.as_ref(), problem.as_deref()));
    }
    Ok(if problem.is_some() { 1 } else { 0 })
}

fn read_record(path: &Path) -> anyhow::Result<Vec<u8>> {
    let limit = MAX_RECORD_SIZE as u64 + 1;
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().lock().take(limit).read_to_end(&mut bytes).context("cannot read standard input")?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut bytes))
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    if bytes.len() > MAX_RECORD_SIZE {
        bail!("{} is larger than {MAX_RECORD_SIZE} bytes, the limit for an IPNS record", path.display());
    }
    Ok(bytes)
}

fn to_text(fields: &RecordFields, verdict: Option<&Verdict>, problem: Option<&str>) -> String {
    let absent = || "absent".to_string();
    let size = |field: &Option<Vec<u8>>| field.as_ref().map_or_else(absent, |b| format!("present, {} bytes", b.len()));
    let data = match &fields.data_map {
        None => absent(),
        Some(Ok(ipld)) => dag_json(ipld).to_string(),
        Some(Err(reason)) => format!("unreadable: {reason}"),
    };
    let source = if fields.from_data { "the signed data (V2)" } else { "the legacy V1 fields" };
    let rows = [
        ("Value", fields.value.as_ref().map_or_else(absent, |v| format!("{:?}", String::from_utf8_lossy(v)))),
        ("Validity Type", fields.validity_type.map_or_else(absent, validity_type)),
        ("Validity", fields.validity.as_ref().map_or_else(absent, |v| String::from_utf8_lossy(v).into_owned())),
        ("Sequence", fields.sequence.map_or_else(absent, |s| s.to_string())),
        ("TTL", fields.ttl.map_or_else(absent, |ns| format!("{ns} ns ({})", go_duration(ns)))),
        ("PublicKey", size(&fields.public_key)),
        ("Signature V1", size(&fields.signature_v1)),
        ("Signature V2", size(&fields.signature_v2)),
        ("Data", data),
        ("Fields from", source.to_string()),
    ];
    let mut out = String::new();
    for (label, value) in rows {
        out += &format!("{:<14} {value}\n", format!("{label}:"));
    }
    match verdict {
        None => {
            out += "\nThis record was not validated; pass --verify NAME to check it.\n";
            if let Some(problem) = problem {
                out += &format!("Problem: {problem}\n");
            }
        }
        Some(verdict) => {
            out += &format!("\nValidation results:\nValid: {}\n", verdict.problem.is_none());
            if let Some(problem) = &verdict.problem {
                out += &format!("Reason: {problem}\n");
            }
            out += &format!("Name: {}\n", verdict.name);
        }
    }
    out
}

fn to_json(fields: &RecordFields, verdict: Option<&Verdict>, problem: Option<&str>) -> Json {
    let text = |field: &Option<Vec<u8>>| field.as_ref().map(|v| String::from_utf8_lossy(v).into_owned());
    let (data, data_error) = match &fields.data_map {
        None => (Json::Null, None),
        Some(Ok(ipld)) => (dag_json(ipld), None),
        Some(Err(reason)) => (Json::Null, Some(reason.as_str())),
    };
    json!({
        "value": text(&fields.value),
        "validity_type": fields.validity_type,
        "validity": text(&fields.validity),
        "sequence": fields.sequence,
        "ttl": fields.ttl,
        "fields_from": if fields.from_data { "data" } else { "v1" },
        "public_key": fields.public_key.is_some(),
        "signature_v1": fields.signature_v1.is_some(),
        "signature_v2": fields.signature_v2.is_some(),
        "data": data,
        "data_error": data_error,
        "verified_name": verdict.map(|v| v.name.to_string()),
        "valid": verdict.map(|v| v.problem.is_none()),
        "reason": problem,
    })
}

fn validity_type(code: u64) -> String {
    if code == VALIDITY_EOL {
        format!("{code} (EOL)")
    } else {
        format!("{code} (unknown)")
    }
}

/// A nanosecond count as Go prints a `time.Duration` when it is whole
/// seconds (`30m0s`, `1h0m0s`); otherwise as Rust prints a `Duration`.
fn go_duration(ns: u64) -> String {
    if ns == 0 || !ns.is_multiple_of(1_000_000_000) {
        return format!("{:?}", Duration::from_nanos(ns));
    }
    let secs = ns / 1_000_000_000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// DAG-CBOR data as DAG-JSON, as kubo shows it: bytes as
/// `{"/": {"bytes": <base64>}}`, links as `{"/": <cid>}`.
fn dag_json(ipld: &Ipld) -> Json {
    match ipld {
        Ipld::Null => Json::Null,
        Ipld::Bool(b) => Json::Bool(*b),
        Ipld::Integer(i) => i64::try_from(*i)
            .map(Json::from)
            .or_else(|_| u64::try_from(*i).map(Json::from))
            .unwrap_or_else(|_| Json::String(i.to_string())),
        Ipld::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Ipld::String(s) => Json::String(s.clone()),
        Ipld::Bytes(b) => json!({ "/": { "bytes": BASE64_NOPAD.encode(b) } }),
        Ipld::List(items) => Json::Array(items.iter().map(dag_json).collect()),
        Ipld::Map(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), dag_json(v))).collect()),
        Ipld::Link(cid) => json!({ "/": cid.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_kubo_prints_them() {
        assert_eq!(go_duration(1_800_000_000_000), "30m0s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(go_duration(5_000_000_000), "5s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
    }

    #[test]
    fn data_is_shown_as_dag_json() {
        let ipld = Ipld::Map(
            [("Value".to_string(), Ipld::Bytes(b"/ipfs/x".to_vec())), ("TTL".to_string(), Ipld::Integer(5))].into(),
        );
        assert_eq!(dag_json(&ipld).to_string(), r#"{"TTL":5,"Value":{"/":{"bytes":"L2lwZnMveA"}}}"#);
    }
}
