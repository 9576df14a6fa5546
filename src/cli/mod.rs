//! The admin command line: `palaver users …`, `palaver rooms …` and `palaver migrate` work
//! on the database directly through the store (no server needed, and safe beside a running
//! server on the same database), for the first minutes of a new install; `palaver backup`
//! and `palaver restore` copy a SQLite store out and back; `palaver chat` is a terminal
//! client of a running server. `args.rs` holds the clap definitions of every
//! flag and subcommand, the server's too (its notification flags in `push_args.rs`).

pub mod args;
pub mod backup;
pub mod chat;
pub mod export;
pub mod migrate;
pub mod parse;
pub mod push_args;
pub mod rooms;
pub mod users;

use std::future::Future;
use std::io::Write;

use self::args::{Command, DatabaseArgs};
use crate::db::{DatabaseUrl, Store, StoreConfig, StoreError};

/// Why a command failed; printed as one line, and the process exits with 1.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("bad --database-url: {0}")]
    DatabaseUrl(String),
    #[error("cannot open the database: {0}")]
    Open(StoreError),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Bad input, said in the words of the check that refused it.
    #[error("{0}")]
    Invalid(String),
    #[error("cannot start: {0}")]
    Runtime(std::io::Error),
    #[error("cannot write the answer: {0}")]
    Output(std::io::Error),
    #[error("cannot read the migrations: {0}")]
    Migrations(String),
}

/// Runs one subcommand to its end.
pub fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Users(command) => users::run(command),
        Command::Rooms(command) => rooms::run(command),
        Command::Migrate(args) => migrate::run(&args),
        Command::Chat(args) => chat::run(&args),
        Command::Backup { file, db } => backup::backup(&file, &db),
        Command::Restore { file, db } => backup::restore(&file, &db),
    }
}

/// Parses the URL and opens the store, which creates and migrates the database as needed.
pub(crate) fn open(args: &DatabaseArgs) -> Result<Store, CliError> {
    let url = parse_url(args)?;
    let config = StoreConfig {
        pool_size: 2,
        ..StoreConfig::default()
    };
    Store::open(&url, config).map_err(CliError::Open)
}

pub(crate) fn parse_url(args: &DatabaseArgs) -> Result<DatabaseUrl, CliError> {
    DatabaseUrl::parse(&args.database_url).map_err(CliError::DatabaseUrl)
}

/// Waits for store calls on a small runtime of this thread's own.
pub(crate) fn block_on<T>(work: impl Future<Output = Result<T, CliError>>) -> Result<T, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?
        .block_on(work)
}

/// Prints the answer on stdout; a closed pipe is an error, not a panic.
pub(crate) fn print(lines: &[String]) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{line}").map_err(CliError::Output)?;
    }
    out.flush().map_err(CliError::Output)
}

/// Lines of aligned columns (the last column is not padded).
pub(crate) fn table(rows: &[Vec<String>]) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            rows.iter()
                .filter_map(|row| row.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if column + 1 < row.len() {
                    let pad = widths[column].saturating_sub(cell.chars().count()) + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tables_line_up() {
        let rows = vec![
            vec!["ID".into(), "NAME".into(), "KIND".into()],
            vec!["u_2".into(), "amy".into(), "user".into()],
            vec!["mathbot".into(), "Mathbot".into(), "bot".into()],
        ];
        assert_eq!(
            super::table(&rows),
            [
                "ID       NAME     KIND",
                "u_2      amy      user",
                "mathbot  Mathbot  bot"
            ]
        );
    }
}
