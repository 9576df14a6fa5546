//! `block` and `blocks` (section 13): a user shuts another out, or lets them back, and lists
//! whom they block. The store makes the change (`db/blocks.rs`); the rooms of the blocker,
//! here and on every other node, then read themselves again and hide what the block hides.

use serde_json::json;

use super::people::find_person;
use crate::actors::messages::{Caller, Reply, RoomsChanged, SessionSupervisor};
use crate::db::Store;
use crate::error::{Answered, Mailbox, ProtoError};
use crate::model::UserId;
use crate::protocol::frames;
use crate::protocol::ids::UserRef;
use crate::protocol::views::UserView;

/// `block`: the caller blocks (`on`) or unblocks `user`. Blocking oneself or a bot is
/// `bad_request`, an unknown user `not_found`; asking for what already holds is `ok`.
pub(super) async fn block(
    store: &Store,
    hub: &SessionSupervisor,
    caller: &Caller,
    user: &UserRef,
    on: bool,
) -> Result<Reply, ProtoError> {
    let other = find_person(store, user).await?;
    if other.id == caller.user.id {
        return Err(ProtoError::bad_request("you cannot block yourself"));
    }
    let change = store.set_block(caller.user.id, other.id, on).await?;
    if !change.rooms.is_empty() {
        // Answered once the rooms live here were told, so a command after this answer
        // reaches them after they read the block (other nodes hear it on the bus).
        hub.rooms_changed
            .send(RoomsChanged {
                rooms: change.rooms,
            })
            .await
            .answered_by(Mailbox::Hub)?;
    }
    Ok(Reply::Data(frames::empty()))
}

/// `blocks`: `{"users":[User…]}`, the users the caller blocks, by id (without presence: a
/// block hides it).
pub(super) async fn blocks(store: &Store, caller: UserId) -> Result<Reply, ProtoError> {
    let users: Vec<UserView> = store
        .blocks_of(caller)
        .await?
        .iter()
        .map(UserView::sender)
        .collect();
    Ok(Reply::Data(json!({ "users": users })))
}
