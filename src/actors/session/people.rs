//! The commands about people rather than rooms: `users`, the directory (docs/protocol.md
//! section 10, scoped by `--directory`, section 13), naming a person in `open_direct` and `create_group` (see
//! [`crate::actors::people`]), and the limit on groups a person creates.

use serde_json::json;

use crate::actors::messages::{GetDirectoryScope, Reply, SessionSupervisor};
pub(super) use crate::actors::people::{find_person, may_find};
use crate::db::{DirectoryAfter, DirectoryPage, People, Store};
use crate::error::{Answered, Mailbox, ProtoError};
use crate::model::UserId;
use crate::protocol::command::bad_cursor;
use crate::protocol::ids::{self, UserRef};
use crate::protocol::views::UserView;
use crate::safety::directory::Directory;

/// One page of the directory: `{"users":[User…],"next":…}`.
pub(super) async fn directory(
    store: &Store,
    hub: &SessionSupervisor,
    query: &str,
    after: Option<UserRef>,
    limit: i64,
    (caller, directory): (UserId, Directory),
) -> Result<Reply, ProtoError> {
    let scope = hub
        .directory_scope
        .send(GetDirectoryScope)
        .await
        .answered_by(Mailbox::Hub)?;
    let after = after.map(|cursor| match cursor {
        UserRef::Id(id) => DirectoryAfter::Id(id),
        UserRef::Handle(handle) => DirectoryAfter::Handle(handle),
    });
    let people = match directory {
        Directory::All => People::All,
        Directory::Shared => People::SharingRoomWith(caller),
        Directory::None => People::None,
    };
    let (users, more) = match store
        .directory(query, after, scope.bot_ids, people, limit)
        .await?
    {
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

/// A group member named by a client: `u_N`, or the answer [`find_person`] gives for anything
/// else (a bot handle, a name). Ids that parse are checked by the store with the group.
pub(super) async fn member_id(store: &Store, user: &UserRef) -> Result<UserId, ProtoError> {
    match user {
        UserRef::Id(id) => Ok(*id),
        UserRef::Handle(_) => find_person(store, user).await.map(|user| user.id),
    }
}

/// `rate_limited` when `owner` created `per_hour` groups in the last hour (counted in the
/// store, so on every node), with the wait until the oldest of them is an hour old.
pub(super) async fn may_create_group(
    store: &Store,
    owner: UserId,
    per_hour: u32,
) -> Result<(), ProtoError> {
    const HOUR_MS: i64 = 3_600_000;
    let now = crate::clock::now_ms();
    let (created, oldest) = store.groups_created_since(owner, now - HOUR_MS).await?;
    if created < i64::from(per_hour) {
        return Ok(());
    }
    let wait = oldest
        .map_or(HOUR_MS, |oldest| oldest + HOUR_MS - now)
        .max(1);
    Err(ProtoError::rate_limited_because(
        format!("at most {per_hour} groups may be created an hour; try again later"),
        wait.unsigned_abs(),
    ))
}
