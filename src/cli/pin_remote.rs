//! `cargo ipfs pin remote add|service`: an index version pinned on kubo
//! nodes, pinning services and IPFS Clusters configured by name (see
//! [`crate::pinning::remote`] and `docs/operators.md`).

use super::{Global, Status};
use crate::pinning::remote::run::{pin_index, RunReport};
use crate::pinning::remote::{read_services, write_services, Api, Outcome, Pace, Service};
use anyhow::bail;
use std::path::PathBuf;
use std::time::Duration;

/// `cargo ipfs pin remote` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Pin every CID the newest version of an index references (its root,
    /// manifest, shards and artifacts) on the configured services.
    Add {
        /// The index [default: the configured index, or the only one here].
        index: Option<String>,
        /// Only what was added since the version last pinned whole on each
        /// service.
        #[arg(long)]
        only_new: bool,
        /// A service to pin on (repeat) [default: every configured service].
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// How long to wait in all for each service to finish pinning.
        #[arg(long, value_name = "D", default_value = "30m", value_parser = super::parse_duration)]
        wait: Duration,
        /// How long one request may take.
        #[arg(long, value_name = "D", default_value = "60s", value_parser = super::parse_duration)]
        timeout: Duration,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Configure the services.
    #[command(subcommand)]
    Service(ServiceCommand),
}

/// `cargo ipfs pin remote service` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ServiceCommand {
    /// Add (or replace) a service. Its access token is read at each run
    /// from --token-file, or the variable --token-env names (by default
    /// CARGO_IPFS_PIN_TOKEN_<NAME>); never give it on the command line.
    Add {
        /// The service's name.
        name: String,
        /// Its API's base URL (kubo: its RPC address).
        endpoint: String,
        /// The API it speaks.
        #[arg(long, value_enum)]
        api: Api,
        /// The environment variable that holds the access token.
        #[arg(long, value_name = "VAR")]
        token_env: Option<String>,
        /// A file that holds the access token.
        #[arg(long, value_name = "PATH")]
        token_file: Option<PathBuf>,
        /// A cluster with basic authentication: the user (the token is the password).
        #[arg(long, value_name = "USER")]
        basic_user: Option<String>,
        /// A cluster: the fewest peers that must hold each pin.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        replication_min: Option<i32>,
        /// A cluster: the most peers that may hold each pin (-1: all).
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        replication_max: Option<i32>,
    },
    /// List the services.
    Ls {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a service.
    Rm {
        /// Its name.
        name: String,
    },
}

/// Runs a `pin remote` subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    let store_dir = global.store_dir()?;
    let mut services = read_services(&store_dir)?;
    match cmd {
        Command::Service(ServiceCommand::Add {
            name,
            endpoint,
            api,
            token_env,
            token_file,
            basic_user,
            replication_min,
            replication_max,
        }) => {
            if name.is_empty() || name.contains(char::is_whitespace) {
                bail!("a service name is one word, such as `ci-pins`");
            }
            let token_file = token_file.map(|p| std::path::absolute(&p)).transpose()?;
            let service =
                Service { api, endpoint, token_env, token_file, basic_user, replication_min, replication_max };
            let replaced = services.insert(name.clone(), service).is_some();
            write_services(&store_dir, &services)?;
            println!("service {name} {}", if replaced { "replaced" } else { "added" });
        }
        Command::Service(ServiceCommand::Ls { json }) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&services)?);
            } else {
                for (name, s) in &services {
                    let token = match (&s.token_file, &s.token_env, s.api) {
                        (_, _, Api::Kubo) => String::new(),
                        (Some(file), _, _) => format!(" (token from {})", file.display()),
                        (None, Some(var), _) => format!(" (token from ${var})"),
                        (None, None, _) => {
                            format!(" (token from ${})", crate::pinning::remote::default_token_env(name))
                        }
                    };
                    println!("{name}  {}  {}{token}", s.api, s.endpoint);
                }
            }
        }
        Command::Service(ServiceCommand::Rm { name }) => {
            if services.remove(&name).is_none() {
                bail!("no pinning service named `{name}`; `cargo ipfs pin remote service ls` lists them");
            }
            write_services(&store_dir, &services)?;
            println!("service {name} removed");
        }
        Command::Add { index, only_new, services: chosen, wait, timeout, json } => {
            if services.is_empty() {
                bail!("no pinning service is configured; add one with `cargo ipfs pin remote service add NAME ENDPOINT --api ...`");
            }
            let chosen = if chosen.is_empty() { services.keys().cloned().collect() } else { chosen };
            let index = match index {
                Some(index) => index,
                None => default_index(&store_dir)?,
            };
            let mut pace = Pace { wait, ..Pace::default() };
            pace.retry.timeout = timeout;
            let mut progress = |service: &str, w: &crate::pinning::remote::Wanted, o: &Outcome| match o {
                Outcome::Pinned => eprintln!("{service}: pinned {} ({})", w.cid, w.name),
                Outcome::Failed(why) => eprintln!("{service}: FAILED {} ({}): {why}", w.cid, w.name),
                Outcome::Pending(why) => eprintln!("{service}: not yet {} ({}): {why}", w.cid, w.name),
                Outcome::Already => {}
            };
            let report = pin_index(&store_dir, &index, &services, &chosen, only_new, pace, &mut progress)?;
            summary(&report, json)?;
            return Ok(if report.services.iter().all(|s| s.complete()) { 0 } else { 1 });
        }
    }
    Ok(0)
}

/// The index named by `CARGO_IPFS_INDEX` or `config.json`, else the only
/// one this store publishes or follows.
fn default_index(store_dir: &std::path::Path) -> anyhow::Result<String> {
    let local = crate::index::state::IndexState::new(store_dir);
    let mut known: Vec<String> = local.published()?.into_keys().collect();
    known.extend(local.seen()?.into_keys());
    known.sort();
    known.dedup();
    let flags = crate::sources::config::Flags::default();
    let file = crate::sources::config::read_config(store_dir)?;
    Ok(crate::sources::config::settings(flags, |k| std::env::var(k).ok(), &file, &known)?.index)
}

fn summary(report: &RunReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!("index {} version {} ({}):", report.index, report.seq, report.root);
    for s in &report.services {
        match &s.error {
            Some(error) => println!("  {}: not done: {error}", s.target),
            None if s.already == s.total => println!("  {}: all {} CIDs pinned already", s.target, s.total),
            None => println!(
                "  {}: {} CIDs: {} pinned now, {} already, {} failed, {} still pending",
                s.target,
                s.total,
                s.pinned,
                s.already,
                s.failed.len(),
                s.pending.len()
            ),
        }
        for u in s.failed.iter().chain(&s.pending) {
            println!("    {} ({}): {}", u.cid, u.name, u.reason);
        }
    }
    Ok(())
}
