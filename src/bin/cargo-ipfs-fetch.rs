//! `cargo-ipfs-fetch`: the same as `cargo ipfs fetch`.

fn main() -> std::process::ExitCode {
    cargo_ipfs_fetch::cli::run_fetch(std::env::args_os())
}
