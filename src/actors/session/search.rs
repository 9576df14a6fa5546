//! `search` (docs/protocol.md section 11): messages containing every word of a query, in
//! the rooms the caller is a member of, or in one of them, newest first. Not a room's
//! command: without `room` it spans all of the caller's rooms, and the store (its text
//! index) does the work.

use serde_json::json;

use crate::actors::messages::Reply;
use crate::db::conversation::{ConversationError, SearchRequest};
use crate::db::models::RoomKind;
use crate::db::Store;
use crate::error::ProtoError;
use crate::model::{RoomId, UserId};
use crate::protocol::conversation::Search;
use crate::protocol::views::MessageView;

/// Runs `search` for `user`.
pub(super) async fn search(
    store: &Store,
    user: UserId,
    search: Search,
) -> Result<Reply, ProtoError> {
    let room = search.room;
    let request = SearchRequest {
        user,
        query: search.query,
        room,
        before_seq: search.before_seq,
        after: search.after,
        limit: search.limit,
    };
    let page = match store.search(request).await {
        Ok(page) => page,
        Err(ConversationError::NotMember) => return Err(outsider(store, room).await),
        Err(err) => return Err(err.into()),
    };
    let messages: Vec<MessageView> = page
        .messages
        .iter()
        .map(|message| MessageView::from_full(message, Some(user)))
        .collect();
    let next = page.next.map(|cursor| cursor.to_string());
    Ok(Reply::Data(json!({ "messages": messages, "next": next })))
}

/// The answer for a `room` the caller is not a member of: `forbidden` for a public group
/// (as `history`), `not_found` for any other (a private room is never revealed).
async fn outsider(store: &Store, room: Option<RoomId>) -> ProtoError {
    let Some(room) = room else {
        return ProtoError::no_such_room();
    };
    match store.room(room).await {
        Ok(Some(row)) if row.kind == RoomKind::Group && row.public => {
            ProtoError::forbidden("join the group before you search it")
        }
        Ok(_) => ProtoError::no_such_room(),
        Err(err) => err.into(),
    }
}
