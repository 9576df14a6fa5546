//! `palaver users add NAME` (creates a user, prints its id and token) and `palaver users
//! list` (id, name, kind of every user and bot).

use clap::Subcommand;

use super::{block_on, open, print, table, CliError};
use crate::config::DatabaseArgs;
use crate::db::models::UserKind;
use crate::http::admin::users::check_user_name;
use crate::protocol::command::MAX_PAGE;
use crate::protocol::ids;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; prints its id and its token (shown this once: the store keeps a hash).
    Add {
        /// 1 to 64 printable characters, unique.
        name: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List users and bots: id, name, kind.
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

pub fn run(command: UsersCommand) -> Result<(), CliError> {
    match command {
        UsersCommand::Add { name, db } => add(&name, &db),
        UsersCommand::List { db } => list(&db),
    }
}

fn add(name: &str, db: &DatabaseArgs) -> Result<(), CliError> {
    let name = check_user_name(name).map_err(|err| CliError::Invalid(err.message))?;
    let store = open(db)?;
    let (user, token) = block_on(async {
        let user = store.create_user(&name, UserKind::User, None).await?;
        let token = store.issue_token(user.id).await?;
        Ok((user, token))
    })?;
    print(&table(&[
        vec!["id".into(), ids::user_id(&user)],
        vec!["name".into(), user.name],
        vec!["token".into(), token],
    ]))
}

fn list(db: &DatabaseArgs) -> Result<(), CliError> {
    let store = open(db)?;
    let users = block_on(async {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let page = store.list_users(after, MAX_PAGE).await?;
            let Some(last) = page.last() else {
                break;
            };
            after = last.id;
            all.extend(page);
        }
        Ok(all)
    })?;
    let mut rows = vec![vec!["ID".into(), "NAME".into(), "KIND".into()]];
    rows.extend(
        users
            .iter()
            .map(|user| vec![ids::user_id(user), user.name.clone(), user.kind.clone()]),
    );
    print(&table(&rows))
}
