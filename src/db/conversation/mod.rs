//! The store's part for conversations (docs/protocol.md section 11, docs/conversations.md):
//! a message's state beside its body (what it answers, whom it mentions, its edit, its
//! tombstone, its reactions, its `rev`), the changes that take a room's next `rev`, the
//! `changes` catch-up, search, and what a room list shows (unread mentions, last message);
//! a new message's reply and mentions inside the group commit; whole-message pages.

use serde::{Deserialize, Serialize};

pub use super::models::ReplyRef;
use super::models::StoredMessage;
use crate::conversation::{ReactionSet, ReactionView};
use crate::model::{RoomId, UserId};

mod changes;
mod error;
mod load;
mod lookups;
mod pages;
mod posted;
mod rooms;
mod search;
mod search_index;
mod search_plan;
mod search_sql;

pub use changes::Deleter;
pub use error::ConversationError;
pub(crate) use load::ConversationReads;
pub use pages::FullPage;
pub(crate) use posted::{Attached, Known, PostedConversation};
pub use rooms::RoomExtras;
pub(crate) use search::register_sqlite_functions;
pub use search::SearchPage;
pub use search_index::SearchIndexer;
pub use search_plan::{SearchLimits, SearchRequest};

/// A message with all it carries since section 11: what the wire's Message is made of.
/// The reactions keep who reacted, so one read serves every receiver's `me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FullMessage {
    /// Body, files, sender, template, action, what it answers and whom it mentions as
    /// stored (a tombstone has an empty body, no files, no template, no action, no reply and
    /// no mentions).
    pub message: StoredMessage,
    pub edited_ms: Option<i64>,
    pub deleted: bool,
    pub reactions: ReactionSet,
    /// The room `rev` of the message's latest change; 0 when it never changed.
    pub rev: i64,
}

impl FullMessage {
    pub fn room_id(&self) -> RoomId {
        self.message.row.room_id
    }

    pub fn seq(&self) -> i64 {
        self.message.row.seq
    }

    /// The reactions as `viewer` sees them.
    pub fn reactions_for(&self, viewer: Option<UserId>) -> Vec<ReactionView> {
        self.reactions.view(viewer)
    }
}

/// What a change did: a new `rev` (to be sent as `message_updated`), or nothing (a repeated
/// delete, a reaction already there or already gone), with the message as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Changed { rev: i64, message: FullMessage },
    Unchanged(FullMessage),
}

impl Change {
    pub fn message(&self) -> &FullMessage {
        match self {
            Change::Changed { message, .. } | Change::Unchanged(message) => message,
        }
    }

    pub fn rev(&self) -> Option<i64> {
        match self {
            Change::Changed { rev, .. } => Some(*rev),
            Change::Unchanged(_) => None,
        }
    }
}

/// A page of `changes`: each message changed after the asked `rev` once, at its latest
/// state, by its `rev` ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangesPage {
    pub messages: Vec<FullMessage>,
    /// The room's `last_rev` when the page was read: every change up to it is in this page
    /// or the pages after it (when `has_more`, ask again after the page's last `rev`).
    pub last_rev: i64,
    pub has_more: bool,
}

/// Most messages of one `changes` page.
pub const MAX_CHANGES_PAGE: i64 = 200;
/// Most messages of one search page.
pub const MAX_SEARCH_PAGE: i64 = 50;
