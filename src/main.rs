//! The `palaver` binary: parse flags, start logging, then run the server, or one admin
//! subcommand on the database (`users`, `rooms`, `migrate`; see `src/cli/`).

use clap::Parser;

fn main() {
    let cli = match palaver::cli::args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => bad_flags(err),
    };
    let result = match cli.command {
        None => {
            init_logging("info");
            palaver::server::run(cli.server).map_err(|err| (err.exit_code(), err.to_string()))
        }
        Some(command) => {
            // A command prints its answer on stdout; only warnings are worth a log line.
            init_logging("warn");
            palaver::cli::run(command).map_err(|err| (1, err.to_string()))
        }
    };
    if let Err((code, err)) = result {
        eprintln!("palaver: {err}");
        std::process::exit(code);
    }
}

fn init_logging(default: &str) {
    palaver::logging::init(default);
}

/// A bad flag or value: one line on stderr, exit code 2 (help and version print as usual).
fn bad_flags(err: clap::Error) -> ! {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        err.exit();
    }
    let text = err.to_string();
    let mut lines = text.lines().map(str::trim).filter(|line| !line.is_empty());
    let mut line = lines
        .next()
        .unwrap_or("bad arguments")
        .trim_start_matches("error: ")
        .to_string();
    // "the following required arguments were not provided:" names them on the next line.
    if line.ends_with(':') {
        if let Some(next) = lines.next() {
            line = format!("{line} {next}");
        }
    }
    eprintln!("palaver: {line} (see palaver --help)");
    std::process::exit(2);
}
