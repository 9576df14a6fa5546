//! The commands about people rather than rooms: `users`, the directory (docs/protocol.md
//! section 10), and naming a person in `open_direct`, `create_group`, `invite` and `kick`,
//! with an answer that says what is wrong (a bot is not a person; nobody has that id).

use serde_json::json;

use crate::actors::messages::{GetDirectoryScope, Reply, SessionSupervisor};
use crate::db::models::{UserKind, UserRow};
use crate::db::{DirectoryAfter, DirectoryPage, Store};
use crate::error::ProtoError;
use crate::protocol::command::bad_cursor;
use crate::protocol::ids::{self, UserRef};
use crate::protocol::views::UserView;

/// One page of the directory: `{"users":[User…],"next":…}`.
pub(super) async fn directory(
    store: &Store,
    hub: &SessionSupervisor,
    query: &str,
    after: Option<UserRef>,
    limit: i64,
) -> Result<Reply, ProtoError> {
    let scope = hub.directory_scope.send(GetDirectoryScope).await?;
    let after = after.map(|cursor| match cursor {
        UserRef::Id(id) => DirectoryAfter::Id(id),
        UserRef::Handle(handle) => DirectoryAfter::Handle(handle),
    });
    let (users, more) = match store.directory(query, after, scope.bot_ids, limit).await? {
        DirectoryPage::Page { users, more } => (users, more),
        DirectoryPage::UnknownCursor => return Err(bad_cursor()),
    };
    let next = users.last().filter(|_| more).map(ids::user_id);
    let users: Vec<UserView> = users
        .iter()
        .map(|user| UserView::with_presence(user, scope.presence.is_online(user.id)))
        .collect();
    Ok(Reply::Data(json!({ "users": users, "next": next })))
}

/// The active person a client names with their id (`u_12`). A bot is `bad_request` (it is
/// not a person: only `open_bot` talks to it); an id nobody has, the system, a deactivated
/// user or a name instead of an id are `not_found`, naming what was asked for.
pub(super) async fn find_person(store: &Store, text: &str) -> Result<UserRow, ProtoError> {
    let user = match ids::parse_user_ref(text) {
        Some(UserRef::Id(id)) => store.user(id).await?,
        Some(UserRef::Handle(handle)) => store.user_by_handle(&handle).await?,
        None => None,
    };
    match user {
        Some(user) if user.kind == UserKind::Bot.as_str() => Err(not_a_person(text)),
        Some(user)
            if user.kind == UserKind::User.as_str() && !store.is_deactivated(user.id).await? =>
        {
            Ok(user)
        }
        _ => Err(no_such_person(text)),
    }
}

/// A group member named by a client: `u_N`, or the answer [`find_person`] gives for anything
/// else (a bot handle, a name). Ids that parse are checked by the store with the group.
pub(super) async fn member_id(store: &Store, text: &str) -> Result<i64, ProtoError> {
    match ids::parse_user_ref(text) {
        Some(UserRef::Id(id)) => Ok(id),
        _ => find_person(store, text).await.map(|user| user.id),
    }
}

fn not_a_person(text: &str) -> ProtoError {
    ProtoError::bad_request(format!(
        "{text} is a bot: bots are not members of groups or direct chats; talk to it with open_bot"
    ))
}

fn no_such_person(text: &str) -> ProtoError {
    if text.starts_with("u_") {
        ProtoError::not_found(format!("no such user {text}"))
    } else {
        ProtoError::not_found(format!(
            "no such user {text:?}: people are named by id (u_12); find one by name with `users`"
        ))
    }
}
