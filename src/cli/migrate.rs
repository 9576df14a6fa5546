//! `palaver migrate`: creates or updates the database schema (through the store, as the
//! server does at start) and lists every migration with whether it was already applied or
//! applied by this run.

use std::collections::BTreeSet;

use diesel::migration::MigrationSource;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::Connection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;

use super::args::DatabaseArgs;
use super::{open, parse_url, print, table, CliError};
use crate::db::DatabaseUrl;

use crate::db::backend::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

pub fn run(args: &DatabaseArgs) -> Result<(), CliError> {
    let url = parse_url(args)?;
    let known = known(&url)?;
    let before = applied(&url)?;
    drop(open(args)?);
    let after = applied(&url)?;
    let mut rows: Vec<Vec<String>> = known
        .iter()
        .map(|(version, name)| {
            let status = match (before.contains(version), after.contains(version)) {
                (true, _) => "already applied",
                (false, true) => "applied now",
                (false, false) => "NOT applied",
            };
            vec![name.clone(), status.to_string()]
        })
        .collect();
    // Versions a newer palaver applied: this one does not know their names.
    rows.extend(
        after
            .iter()
            .filter(|version| !known.iter().any(|(known, _)| known == *version))
            .map(|version| vec![version.clone(), "applied (unknown to this version)".into()]),
    );
    let newly = known
        .iter()
        .filter(|(version, _)| !before.contains(version))
        .count();
    let mut lines = table(&rows);
    lines.push(format!(
        "{} migrations applied, {newly} of them now; the database is up to date",
        after.len()
    ));
    print(&lines)
}

/// The migrations this binary carries: (version, folder name), oldest first.
fn known(url: &DatabaseUrl) -> Result<Vec<(String, String)>, CliError> {
    let names = match url {
        DatabaseUrl::Sqlite(_) => MigrationSource::<Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .map_err(|err| CliError::Migrations(err.to_string()))?
            .iter()
            .map(|migration| {
                let name = migration.name();
                (name.version().to_string(), name.to_string())
            })
            .collect::<Vec<_>>(),
        DatabaseUrl::Postgres(_) => {
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map_err(|err| CliError::Migrations(err.to_string()))?
                .iter()
                .map(|migration| {
                    let name = migration.name();
                    (name.version().to_string(), name.to_string())
                })
                .collect::<Vec<_>>()
        }
    };
    Ok(names)
}

/// The versions recorded as applied in the database. Read with plain queries that create
/// nothing (diesel's `applied_migrations` creates its table when missing, which races with
/// a node migrating at the same time; the migration itself runs under the store's lock).
fn applied(url: &DatabaseUrl) -> Result<BTreeSet<String>, CliError> {
    let cannot = |err: &dyn std::fmt::Display| {
        CliError::Open(crate::db::StoreError::Unavailable(err.to_string()))
    };
    let versions = match url {
        DatabaseUrl::Sqlite(path) => {
            let mut conn = SqliteConnection::establish(path).map_err(|err| cannot(&err))?;
            diesel::connection::SimpleConnection::batch_execute(
                &mut conn,
                "PRAGMA busy_timeout=5000;",
            )
            .map_err(|err| cannot(&err))?;
            recorded(
                &mut conn,
                "SELECT count(*) AS present FROM sqlite_master \
                 WHERE type = 'table' AND name = '__diesel_schema_migrations'",
            )
            .map_err(|err| cannot(&err))?
        }
        DatabaseUrl::Postgres(url) => {
            // Outside any runtime the wrapper runs the async connection on one of its own.
            let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(url)
                .map_err(|err| cannot(&err))?;
            recorded(
                &mut conn,
                "SELECT count(*) AS present FROM pg_tables \
                 WHERE schemaname = current_schema() AND tablename = '__diesel_schema_migrations'",
            )
            .map_err(|err| cannot(&err))?
        }
    };
    Ok(versions)
}

#[derive(diesel::QueryableByName)]
struct Present {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    present: i64,
}

#[derive(diesel::QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Text)]
    version: String,
}

/// The versions in `__diesel_schema_migrations`, none when `exists` (a count of the table)
/// says it is not there yet.
fn recorded<C>(conn: &mut C, exists: &str) -> diesel::QueryResult<BTreeSet<String>>
where
    C: diesel::Connection,
    C::Backend: diesel::backend::Backend,
    Present: diesel::QueryableByName<C::Backend>,
    Version: diesel::QueryableByName<C::Backend>,
    diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'static, C, Present>
        + diesel::query_dsl::LoadQuery<'static, C, Version>,
{
    use diesel::RunQueryDsl;
    let present: Vec<Present> = diesel::sql_query(exists).load(conn)?;
    if present.first().map_or(0, |row| row.present) == 0 {
        return Ok(BTreeSet::new());
    }
    let versions: Vec<Version> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load(conn)?;
    Ok(versions.into_iter().map(|row| row.version).collect())
}
