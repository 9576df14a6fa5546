//! The `palaver` binary: parse flags, start logging, then run the server, or one admin
//! subcommand on the database (`users`, `rooms`, `migrate`; see `src/cli/`).

use clap::Parser;

fn main() {
    let cli = palaver::config::Cli::parse();
    let result = match cli.command {
        None => {
            init_logging("info");
            palaver::server::run(cli.server).map_err(|err| err.to_string())
        }
        Some(command) => {
            // A command prints its answer on stdout; only warnings are worth a log line.
            init_logging("warn");
            palaver::cli::run(command).map_err(|err| err.to_string())
        }
    };
    if let Err(err) = result {
        eprintln!("palaver: {err}");
        std::process::exit(1);
    }
}

fn init_logging(default: &str) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default)).init();
}
