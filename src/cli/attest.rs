//! `cargo ipfs attest`: rebuild as `verify --rebuild` does, sign a
//! statement for every artifact that matched with this rebuilder's key, and
//! publish them as a new version of its attestation index
//! ([`crate::rebuild::attest`]). Exit status 1 on any mismatch (never
//! attested).

use super::verify::{print_report, RebuildArgs};
use super::{Global, Status};
use crate::rebuild::attest::attest;

/// Arguments of `cargo ipfs attest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    what: RebuildArgs,
    /// The attestation index to publish the statements in (made with
    /// `cargo ipfs index init --name NAME --key KEY --attestations`); its
    /// first key signs them.
    #[arg(long = "as", value_name = "NAME")]
    as_index: String,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Rebuilds, compares, signs and publishes.
pub fn exec(global: &Global, args: Args) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    global.open_store()?;
    let keystore = global.open_keystore()?;
    let done = attest(&store_dir, &keystore, &args.what.options(), &args.as_index, std::time::SystemTime::now())?;
    let status = if done.report.mismatched.is_empty() { 0 } else { 1 };
    let version = done.version.as_ref().map(|v| (v.version.manifest.seq, v.version.root.to_string()));
    if args.json {
        let out = serde_json::json!({
            "report": done.report,
            "attestations": args.as_index,
            "statements": done.statements,
            "version": version.as_ref().map(|(seq, _)| seq),
            "root": version.as_ref().map(|(_, root)| root),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(status);
    }
    print_report(&done.report);
    match version {
        Some((seq, root)) => println!(
            "attested {} artifact(s) of index {} in {} version {seq} ({root})",
            done.statements, done.report.index, args.as_index
        ),
        None => println!(
            "attested {} artifact(s) of index {}: {} holds them all already, no new version",
            done.statements, done.report.index, args.as_index
        ),
    }
    Ok(status)
}
