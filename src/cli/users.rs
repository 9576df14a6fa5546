//! `palaver users add NAME` (creates a user, prints its id, token and token id), `palaver
//! users list` (id, name, kind of every active user and bot), `palaver users tokens USER`,
//! `palaver users revoke USER TOKEN_ID`, `palaver users deactivate USER` and `palaver users
//! export USER FILE` (`export.rs`).

use super::args::{DatabaseArgs, UsersCommand};
use super::{block_on, open, print, table, CliError};
use crate::db::models::{UserKind, UserRow};
use crate::db::StoreError;
use crate::model::names::user_name;
use crate::protocol::command::MAX_PAGE;
use crate::protocol::ids::{self, TokenId};

pub fn run(command: UsersCommand) -> Result<(), CliError> {
    match command {
        UsersCommand::Add { name, db } => add(&name, &db),
        UsersCommand::List { db } => list(&db),
        UsersCommand::Tokens { user, db } => tokens(&user, &db),
        UsersCommand::Revoke { user, token, db } => revoke(&user, &token, &db),
        UsersCommand::Deactivate { user, db } => deactivate(&user, &db),
        UsersCommand::Export { user, file, db } => super::export::export(&user, &file, &db),
    }
}

/// The active person `text` names, or the error the command prints.
async fn person(store: &crate::db::Store, text: &str) -> Result<UserRow, CliError> {
    let found = match text.parse::<ids::UserRef>() {
        Ok(user) => store.user_by_ref(&user).await?,
        Err(_) => None,
    };
    match found {
        Some(user) if user.kind == UserKind::User => Ok(user),
        _ => Err(CliError::Invalid(format!("no such user: {text}"))),
    }
}

fn tokens(user: &str, db: &DatabaseArgs) -> Result<(), CliError> {
    let store = open(db)?;
    let tokens = block_on(async {
        let user = person(&store, user).await?;
        Ok(store.tokens_of(user.id).await?)
    })?;
    let mut rows = vec![vec!["ID".into(), "CREATED".into()]];
    rows.extend(
        tokens.iter().map(|(id, created)| {
            vec![TokenId(*id).to_string(), crate::clock::rfc3339_ms(*created)]
        }),
    );
    print(&table(&rows))
}

fn revoke(user: &str, token: &str, db: &DatabaseArgs) -> Result<(), CliError> {
    let store = open(db)?;
    let TokenId(token_id) = token
        .parse()
        .map_err(|_| CliError::Invalid(format!("not a token id (t_N): {token}")))?;
    block_on(async {
        let user = person(&store, user).await?;
        match store.revoke_token(user.id, token_id).await {
            Err(StoreError::NotFound(_)) => Err(CliError::Invalid(format!(
                "{} has no token {token}",
                ids::user_id(&user)
            ))),
            other => Ok(other?),
        }
    })?;
    print(&[format!("revoked {token}")])
}

fn deactivate(user: &str, db: &DatabaseArgs) -> Result<(), CliError> {
    let store = open(db)?;
    let user = block_on(async {
        let user = person(&store, user).await?;
        store.deactivate_user(user.id).await?;
        Ok(user)
    })?;
    print(&[format!(
        "deactivated {} ({})",
        ids::user_id(&user),
        user.name
    )])
}

fn add(name: &str, db: &DatabaseArgs) -> Result<(), CliError> {
    let name = user_name(name).map_err(|err| CliError::Invalid(err.to_string()))?;
    let store = open(db)?;
    let (user, token) = block_on(async {
        let user = store.create_user(&name, UserKind::User, None).await?;
        let token = store.issue_token(user.id).await?;
        Ok((user, token))
    })?;
    print(&table(&[
        vec!["id".into(), ids::user_id(&user)],
        vec!["name".into(), user.name],
        vec!["token".into(), token.token],
        vec!["token_id".into(), TokenId(token.id).to_string()],
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
            after = last.id.0;
            all.extend(page);
        }
        Ok(all)
    })?;
    let mut rows = vec![vec!["ID".into(), "NAME".into(), "KIND".into()]];
    rows.extend(users.iter().map(|user| {
        vec![
            ids::user_id(user),
            user.name.clone(),
            user.kind.as_str().into(),
        ]
    }));
    print(&table(&rows))
}
