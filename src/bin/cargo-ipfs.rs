//! `cargo-ipfs`: every subcommand of `cargo ipfs`.

fn main() -> std::process::ExitCode {
    cargo_ipfs_fetch::cli::run(std::env::args_os())
}
