//! The `palaver` binary: parse flags, start logging, run the server.

use clap::Parser;

fn main() {
    let cli = palaver::config::Cli::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    if let Err(err) = palaver::server::run(cli.server) {
        eprintln!("palaver: {err}");
        std::process::exit(1);
    }
}
