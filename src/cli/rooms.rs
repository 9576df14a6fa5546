//! `palaver rooms add NAME --members u_2,u_3 [--public] [--owner u_2]`: creates a group
//! with its members and prints its id.

use super::args::{DatabaseArgs, RoomsCommand};
use super::{block_on, open, print, table, CliError};
use crate::db::models::UserKind;
use crate::db::Store;
use crate::model::{names::group_name, UserId};
use crate::protocol::command::MAX_GROUP_MEMBERS;
use crate::protocol::ids;

pub fn run(command: RoomsCommand) -> Result<(), CliError> {
    match command {
        RoomsCommand::Add {
            name,
            members,
            public,
            owner,
            db,
        } => add(&name, &members, public, owner.as_deref(), &db),
    }
}

fn add(
    name: &str,
    members: &[String],
    public: bool,
    owner: Option<&str>,
    db: &DatabaseArgs,
) -> Result<(), CliError> {
    let name = group_name(name).map_err(|err| CliError::Invalid(err.to_string()))?;
    let members: Vec<&str> = members
        .iter()
        .map(|member| member.trim())
        .filter(|member| !member.is_empty())
        .collect();
    if members.is_empty() || members.len() > MAX_GROUP_MEMBERS {
        return Err(CliError::Invalid(format!(
            "--members: 1 to {MAX_GROUP_MEMBERS} user ids"
        )));
    }
    let store = open(db)?;
    let (room, member_ids) = block_on(async {
        let mut member_ids = Vec::with_capacity(members.len());
        for member in &members {
            member_ids.push(user_id(&store, "--members", member).await?);
        }
        let owner = match owner {
            Some(owner) => Some(user_id(&store, "--owner", owner).await?),
            None => None,
        };
        let room = store
            .create_group(&name, public, owner, member_ids.clone())
            .await?;
        let mut all: Vec<UserId> = owner.into_iter().chain(member_ids).collect();
        all.sort_unstable();
        all.dedup();
        Ok((room, all))
    })?;
    let members = member_ids
        .iter()
        .map(UserId::to_string)
        .collect::<Vec<_>>()
        .join(",");
    print(&table(&[
        vec!["id".into(), room.id.to_string()],
        vec!["name".into(), name],
        vec!["members".into(), members],
    ]))
}

/// A user who can be a member of a group (not a bot, not the system), as the admin API
/// accepts them.
async fn user_id(store: &Store, flag: &str, text: &str) -> Result<UserId, CliError> {
    let found = match text.parse::<ids::UserRef>() {
        Ok(user) => store.user_by_ref(&user).await?,
        Err(_) => None,
    };
    match found {
        Some(user) if user.kind == UserKind::User => Ok(user.id),
        _ => Err(CliError::Invalid(format!("{flag}: no such user {text:?}"))),
    }
}
