//! `cargo ipfs index init|add|rotate|refresh|show|verify|push|log|diff`: publish an
//! index and read one, verified.
//!
//! One function per subcommand: `sign.rs` makes new versions (`init`,
//! `add`, `rotate`, through [`crate::publish`]), `read.rs` opens a version
//! with every check and shows it (`show`, `verify`, `log`, `diff`); `push`
//! is here, beside what `cargo ipfs publish --kubo` shares with it.

mod attestations;
mod read;
mod sign;

use super::{Global, Status};
use crate::index::state::IndexState;
use crate::publish::PushReport;
use crate::store::DiskStore;
use anyhow::Context;
use std::time::SystemTime;

/// `cargo ipfs index` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create an index and publish its first, empty version under the first
    /// KEY's IPNS name.
    Init(sign::InitArgs),
    /// Add entries (JSON lines files, one entry per line) and publish a new version.
    Add(sign::AddArgs),
    /// Publish a version signed by a new key set (and by the old one).
    Rotate(sign::RotateArgs),
    /// Publish a version with the same entries and keys and a new expiry
    /// (for the pinning job's schedule, well inside the index's lifetime).
    Refresh(sign::IndexName),
    /// Show a version's manifest, or a crate's entries, verified.
    Show(read::ShowArgs),
    /// Verify a version completely: record, signatures, every block and entry.
    Verify(Target),
    /// Push a version and every artifact it names into a kubo node, pinned,
    /// and hand the node the IPNS record (a mirror that runs kubo).
    Push(PushArgs),
    /// Walk the history of versions through their `prev` links.
    Log(read::LogArgs),
    /// Entries added and removed between two versions.
    Diff(read::DiffArgs),
}

// The version a subcommand reads.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// A trusted index name, or a root CID.
    target: String,
}

// `index push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    #[command(flatten)]
    version: Target,
    #[command(flatten)]
    kubo: KuboArgs,
}

/// `--kubo ADDR`: the kubo node to push to.
#[derive(Debug, clap::Args)]
pub struct KuboArgs {
    /// The kubo node's RPC API: `http://127.0.0.1:5001` or a multiaddr such
    /// as `/ip4/127.0.0.1/tcp/5001`.
    #[arg(long = "kubo", env = crate::vars::KUBO, value_name = "ADDR")]
    pub addr: Option<String>,
}

/// What every index subcommand works on.
struct Ctx {
    store: DiskStore,
    local: IndexState,
    now: SystemTime,
}

/// Runs an index subcommand.
pub fn exec(global: &Global, cmd: Command) -> anyhow::Result<Status> {
    let ctx = Ctx { store: global.open_store()?, local: IndexState::new(global.store_dir()?), now: SystemTime::now() };
    match cmd {
        Command::Init(args) => sign::init(global, &ctx, args)?,
        Command::Add(args) => sign::add(global, &ctx, args)?,
        Command::Rotate(args) => sign::rotate(global, &ctx, args)?,
        Command::Refresh(args) => sign::refresh(global, &ctx, args)?,
        Command::Show(args) => read::show(&ctx, args)?,
        Command::Verify(args) => read::verify(&ctx, args)?,
        Command::Push(args) => push(&ctx, args)?,
        Command::Log(args) => read::log(&ctx, args)?,
        Command::Diff(args) => read::diff(&ctx, args)?,
    }
    Ok(0)
}

/// `index push`: the version, opened with every check, and the artifacts it
/// names; a name brings its record along.
fn push(ctx: &Ctx, args: PushArgs) -> anyhow::Result<()> {
    let addr = args.kubo.addr.context("no kubo node given; pass --kubo ADDR or set CARGO_IPFS_KUBO")?;
    let target = &args.version.target;
    let opened = read::open(&ctx.store, &ctx.local, target, ctx.now)?;
    print_push(crate::publish::push_index(&ctx.store, &ctx.local, &addr, target, &opened.version)?)
}

/// Prints what a push into kubo did; a record the node refused is the
/// error, after the push's lines.
pub(super) fn print_push(report: PushReport) -> anyhow::Result<()> {
    let PushReport { kubo_version, url, pushed, record } = report;
    println!(
        "kubo {kubo_version} at {url}: {} roots pinned (the index version and {} more: its artifacts and earlier manifests); {} blocks ({} bytes) sent, the rest it had",
        pushed.pinned,
        pushed.pinned.saturating_sub(1),
        pushed.blocks,
        pushed.bytes
    );
    if !pushed.incomplete.is_empty() {
        eprintln!(
            "{} artifacts are not (wholly) in this store or the node and are not pushed; fetch them first (`cargo ipfs car import`, or `cargo ipfs fetch` of a project that uses them)",
            pushed.incomplete.len()
        );
    }
    if let Some(name) = record? {
        println!("kubo at {url}: IPNS record of {name} handed over for publishing");
    }
    Ok(())
}

/// The newest verified version of each trusted index, opened from the
/// local store only (as `index show NAME` does), by index name: what
/// `why-miss` compares with.
pub(super) fn trusted_versions(
    global: &Global,
    store: &DiskStore,
) -> anyhow::Result<Vec<(String, anyhow::Result<crate::index::IndexVersion>)>> {
    let local = IndexState::new(global.store_dir()?);
    let now = SystemTime::now();
    let names: Vec<String> = local.trust()?.into_keys().collect();
    Ok(names.into_iter().map(|name| (name.clone(), read::open(store, &local, &name, now).map(|v| v.version))).collect())
}
