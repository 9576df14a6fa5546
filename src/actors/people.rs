//! Naming a person: the user a client names in `open_direct`, `create_group`, `invite`,
//! `kick` or `leave_groups`, with an answer that says what is wrong (a bot is not a person;
//! nobody has that id; `--directory` keeps them from the caller). Sessions and rooms both
//! ask it.

use crate::db::models::{UserKind, UserRow};
use crate::db::Store;
use crate::error::ProtoError;
use crate::model::UserId;
use crate::protocol::ids::UserRef;
use crate::safety::directory::Directory;

/// The active person a client names with their id (`u_12`). A bot is `bad_request` (it is
/// not a person: only `open_bot` talks to it); an id nobody has, the system, a deactivated
/// user or a name instead of an id are `not_found`, naming what was asked for.
pub async fn find_person(store: &Store, user: &UserRef) -> Result<UserRow, ProtoError> {
    match store.user_by_ref(user).await? {
        Some(found) if found.kind == UserKind::User => Ok(found),
        Some(found) if found.kind == UserKind::Bot => Err(not_a_person(user)),
        _ => Err(ProtoError::no_such_user_named(&user.to_string())),
    }
}

/// Whether `caller` may name the person `person` under `directory` (section 13): one they
/// cannot find is `not_found`, exactly as an id nobody has.
pub async fn may_find(
    store: &Store,
    directory: Directory,
    caller: UserId,
    person: UserId,
) -> Result<(), ProtoError> {
    if person == caller {
        return Ok(());
    }
    let shared = directory.needs_shared_room() && store.share_a_room(caller, person).await?;
    match directory.finds(shared) {
        true => Ok(()),
        false => Err(ProtoError::no_such_user_named(&person.to_string())),
    }
}

fn not_a_person(text: &UserRef) -> ProtoError {
    ProtoError::bad_request(format!(
        "{text} is a bot: bots are not members of groups or direct chats; talk to it with open_bot"
    ))
}
