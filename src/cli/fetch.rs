//! `cargo ipfs fetch` / `cargo ipfs-fetch`: fetch prebuilt dependencies of the
//! current lockfile. Resolving the signed index is not built yet; the command
//! says so with exit status 2 rather than pretending to succeed.

use super::{Global, Status};

/// Arguments of `cargo ipfs fetch`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The manifest of the project whose dependencies to fetch.
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<std::path::PathBuf>,
}

/// Reports that fetching is not implemented yet.
pub fn exec(_global: &Global, _args: Args) -> anyhow::Result<Status> {
    eprintln!(
        "cargo ipfs fetch: fetching prebuilt dependencies is not implemented yet; \
         `cargo build` works as usual in the meantime"
    );
    Ok(2)
}
