//! Room objects whole: rooms as a caller sees them, completed with the fields of section 11
//! (`last_rev`, `mentions_unread`, `last_message`) read for all of them at once (three
//! queries whatever the number of rooms, never one per room, and one more for whom the
//! viewer blocks: a blocked sender's `last_message` comes as `blocked`, section 13).

use crate::db::conversation::RoomExtras;
use crate::db::{RoomSummary, Store};
use crate::error::ProtoError;
use crate::model::UserId;
use crate::protocol::views::{MessageView, RoomView};

/// The views of `summaries` as `viewer` sees them (`None`: the admin API).
pub async fn room_views(
    store: &Store,
    summaries: &[RoomSummary],
    viewer: Option<UserId>,
) -> Result<Vec<RoomView>, ProtoError> {
    let ids = summaries.iter().map(|summary| summary.room.id).collect();
    let mut extras = store.room_extras(viewer, ids).await?;
    let blocked = match viewer {
        Some(viewer) => store.blocked_by(viewer).await?,
        None => Default::default(),
    };
    Ok(summaries
        .iter()
        .map(|summary| {
            let mut view = RoomView::from_summary(summary);
            if let Some(extras) = extras.remove(&summary.room.id) {
                complete(&mut view, extras, viewer, |sender| {
                    blocked.contains(&sender)
                });
            }
            view
        })
        .collect())
}

/// Sets the section 11 fields of `view` from what the store read; `hides` says whether the
/// viewer blocks a sender.
pub fn complete(
    view: &mut RoomView,
    extras: RoomExtras,
    viewer: Option<UserId>,
    hides: impl Fn(UserId) -> bool,
) {
    view.last_rev = extras.last_rev;
    view.mentions_unread = extras.mentions_unread;
    view.last_message = extras.last_message.map(|message| {
        let hidden = hides(message.message.row.sender_id);
        Box::new(MessageView::from_full(&message, viewer).hidden(hidden))
    });
}

/// One room's view, completed.
pub async fn room_view(
    store: &Store,
    summary: &RoomSummary,
    viewer: Option<UserId>,
) -> Result<RoomView, ProtoError> {
    let mut views = room_views(store, std::slice::from_ref(summary), viewer).await?;
    views.pop().ok_or_else(ProtoError::no_such_room)
}
