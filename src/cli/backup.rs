//! `palaver backup FILE` and `palaver restore FILE` (docs/operations.md, "Backup and
//! restore"): a consistent copy of a live SQLite store, and its way back into a fresh data
//! folder. The copy is made with SQLite's `VACUUM INTO`, one read transaction while the
//! server goes on writing (WAL: it waits for nobody and nobody waits for it), never a copy
//! of the file. Uploaded files live in the database (tables `files` and `file_chunks`), so a
//! backup is one SQLite file holding everything. Neither command overwrites anything: both
//! write `NAME.partial` beside the target, sync it, check it, and rename it into place.
//! PostgreSQL is backed up with `pg_dump` (refused here, with a pointer to the docs).

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::SqliteConnection;

use super::args::DatabaseArgs;
use super::{open, parse_url, print, CliError};
use crate::db::backend::SqliteSync;
use crate::db::DatabaseUrl;

/// What a store or a backup holds, to say what was copied.
#[derive(QueryableByName)]
struct Contents {
    #[diesel(sql_type = BigInt)]
    users: i64,
    #[diesel(sql_type = BigInt)]
    messages: i64,
    #[diesel(sql_type = BigInt)]
    files: i64,
    #[diesel(sql_type = BigInt)]
    file_bytes: i64,
}

/// `palaver backup FILE`: copies the live SQLite store of `--database-url` to FILE.
pub fn backup(file: &Path, db: &DatabaseArgs) -> Result<(), CliError> {
    let store = sqlite_path(db, "backup")?;
    if !Path::new(&store).exists() {
        return Err(CliError::Invalid(format!(
            "no SQLite store at {store}: nothing to back up"
        )));
    }
    refuse_existing(file)?;
    let mut source = connect(&store)?;
    let partial = write_partial(file, |partial| {
        diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(partial)
            .execute(&mut source)
            .map(drop)
            .map_err(|err| CliError::Invalid(format!("cannot copy {store}: {err}")))
    })?;
    let contents = check(&partial).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })?;
    finish(&partial, file)?;
    print(&[format!(
        "backed up {store} to {}: {}",
        file.display(),
        contents.describe()
    )])
}

/// `palaver restore FILE`: makes the SQLite store of `--database-url` from a backup. The
/// store must not exist yet; migrations newer than the backup run as at a server's start.
pub fn restore(file: &Path, db: &DatabaseArgs) -> Result<(), CliError> {
    let store = sqlite_path(db, "restore")?;
    if !file.exists() {
        return Err(CliError::Invalid(format!(
            "no backup at {}",
            file.display()
        )));
    }
    let target = PathBuf::from(&store);
    for taken in [
        target.clone(),
        suffixed(&target, "-wal"),
        suffixed(&target, "-shm"),
    ] {
        if taken.exists() {
            return Err(CliError::Invalid(format!(
                "{} exists: restore never overwrites a store; stop the server and move the \
                 store (with its -wal and -shm files) away first",
                taken.display()
            )));
        }
    }
    refuse_missing_folder(&target)?;
    check(file)?;
    let backup_path = path_text(file)?;
    let mut source = connect(&backup_path)?;
    let partial = write_partial(&target, |partial| {
        diesel::sql_query("VACUUM INTO ?")
            .bind::<Text, _>(partial)
            .execute(&mut source)
            .map(drop)
            .map_err(|err| CliError::Invalid(format!("cannot copy {backup_path}: {err}")))
    })?;
    drop(source);
    finish(&partial, &target)?;
    // Opening the store applies the migrations this binary has and the backup lacks.
    drop(open(db)?);
    let contents = check(&target)?;
    print(&[format!(
        "restored {} into {store}: {}; the schema is up to date",
        file.display(),
        contents.describe()
    )])
}

fn sqlite_path(db: &DatabaseArgs, what: &str) -> Result<String, CliError> {
    match parse_url(db)? {
        DatabaseUrl::Sqlite(path) => Ok(path),
        DatabaseUrl::Postgres(_) => Err(CliError::Invalid(format!(
            "palaver {what} works on SQLite stores; for PostgreSQL use pg_dump and \
             pg_restore (docs/operations.md, \"Backup and restore\")"
        ))),
    }
}

fn refuse_existing(file: &Path) -> Result<(), CliError> {
    if file.exists() {
        return Err(CliError::Invalid(format!(
            "{} exists: a backup never overwrites a file",
            file.display()
        )));
    }
    refuse_missing_folder(file)
}

fn refuse_missing_folder(file: &Path) -> Result<(), CliError> {
    match file.parent() {
        Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => Err(
            CliError::Invalid(format!("the folder {} does not exist", folder.display())),
        ),
        _ => Ok(()),
    }
}

fn path_text(path: &Path) -> Result<String, CliError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| CliError::Invalid(format!("{} is not UTF-8", path.display())))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn connect(path: &str) -> Result<SqliteConnection, CliError> {
    crate::db::sqlite::open(path, SqliteSync::Full)
        .map_err(|err| CliError::Open(crate::db::StoreError::Unavailable(err.to_string())))
}

/// Runs `write` to make `TARGET.partial` (which must not exist: a run that died leaves it
/// for a person to look at), then syncs it to disk.
fn write_partial(
    target: &Path,
    write: impl FnOnce(&str) -> Result<(), CliError>,
) -> Result<PathBuf, CliError> {
    let partial = suffixed(target, ".partial");
    if partial.exists() {
        return Err(CliError::Invalid(format!(
            "{} exists, left by a run that did not finish: remove it and try again",
            partial.display()
        )));
    }
    write(&path_text(&partial)?)?;
    let synced = std::fs::File::open(&partial).and_then(|file| file.sync_all());
    synced.map_err(|err| {
        let _ = std::fs::remove_file(&partial);
        CliError::Output(err)
    })?;
    Ok(partial)
}

/// Renames the checked copy into place and syncs the folder, so the name survives a crash.
fn finish(partial: &Path, target: &Path) -> Result<(), CliError> {
    std::fs::rename(partial, target).map_err(CliError::Output)?;
    let folder = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::File::open(folder)
        .and_then(|dir| dir.sync_all())
        .map_err(CliError::Output)
}

/// Checks that `path` is a whole Palaver store (SQLite's integrity check, the migrations
/// table, the tables read below) and counts what it holds.
fn check(path: &Path) -> Result<Contents, CliError> {
    let text = path_text(path)?;
    let not_a_backup =
        |why: String| CliError::Invalid(format!("{text} is not a usable Palaver store: {why}"));
    let mut conn =
        SqliteConnection::establish(&text).map_err(|err| not_a_backup(err.to_string()))?;
    // Waits out another connection's short lock instead of failing at once: after `restore`
    // drops the store it opened, its last connection may still be closing (SQLite
    // checkpoints the WAL then, holding the database whole for a moment).
    diesel::sql_query("PRAGMA busy_timeout = 5000")
        .execute(&mut conn)
        .map_err(|err| not_a_backup(err.to_string()))?;
    #[derive(QueryableByName)]
    struct Integrity {
        #[diesel(sql_type = Text)]
        integrity_check: String,
    }
    let integrity: Vec<Integrity> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .map_err(|err| not_a_backup(err.to_string()))?;
    if integrity.len() != 1 || integrity[0].integrity_check != "ok" {
        let said: Vec<&str> = integrity
            .iter()
            .take(3)
            .map(|row| row.integrity_check.as_str())
            .collect();
        return Err(not_a_backup(format!(
            "integrity check: {}",
            said.join("; ")
        )));
    }
    let contents: Contents = diesel::sql_query(
        "SELECT (SELECT COUNT(*) FROM users) AS users, \
                (SELECT COUNT(*) FROM messages) AS messages, \
                (SELECT COUNT(*) FROM files) AS files, \
                (SELECT COALESCE(SUM(size), 0) FROM files) AS file_bytes",
    )
    .get_result(&mut conn)
    .map_err(|err| not_a_backup(err.to_string()))?;
    Ok(contents)
}

impl Contents {
    fn describe(&self) -> String {
        format!(
            "{} users, {} messages, {} files ({} bytes of uploads)",
            self.users, self.messages, self.files, self.file_bytes
        )
    }
}
