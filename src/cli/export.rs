//! `palaver users export USER FILE`: the document `GET /admin/users/{id}/export` answers
//! with (`http::admin::export`), written to FILE a piece at a time (never more than one page
//! of messages or one stored chunk of a file in memory). Nothing is overwritten: the
//! document goes to `FILE.partial`, is synced, and is renamed to FILE only once complete.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::args::DatabaseArgs;
use super::{block_on, open, print, CliError};
use crate::http::admin::export::UserExport;
use crate::protocol::ids::UserRef;

pub fn export(user: &str, file: &Path, db: &DatabaseArgs) -> Result<(), CliError> {
    let Ok(UserRef::Id(user_id)) = user.parse::<UserRef>() else {
        return Err(CliError::Invalid(format!("not a user id (u_N): {user}")));
    };
    if file.exists() {
        return Err(CliError::Invalid(format!(
            "{} exists: give a new file",
            file.display()
        )));
    }
    let partial = PathBuf::from(format!("{}.partial", file.display()));
    let store = open(db)?;
    let written = block_on(async {
        let mut export = UserExport::start(store, user_id)
            .await?
            .ok_or_else(|| CliError::Invalid(format!("no such user: {user}")))?;
        let failed = |err: std::io::Error| {
            CliError::Invalid(format!("cannot write {}: {err}", partial.display()))
        };
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .map_err(failed)?;
        let wrote = async {
            while let Some(piece) = export.next().await? {
                out.write_all(&piece).map_err(failed)?;
            }
            out.sync_all().map_err(failed)?;
            Ok(export.counts)
        }
        .await;
        if wrote.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        wrote
    })?;
    std::fs::rename(&partial, file).map_err(|err| {
        CliError::Invalid(format!(
            "cannot rename {} to {}: {err}",
            partial.display(),
            file.display()
        ))
    })?;
    print(&[format!(
        "exported {user_id} to {}: {} messages, {} files ({} bytes), {} bytes written",
        file.display(),
        written.messages,
        written.files,
        written.file_bytes,
        written.written
    )])
}
