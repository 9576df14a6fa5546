//! The domain's own types: the ids ([`RoomId`], [`UserId`], [`MessageId`], [`FileId`],
//! [`TokenId`]), the positions ([`Seq`], [`Rev`]) and the kinds ([`RoomKind`], [`UserKind`]).
//! A leaf: the store (`db`), the wire (`protocol`), the actors and the HTTP face all use
//! these, and it imports none of them.

pub mod ids;
pub mod kinds;

pub use ids::{FileId, InvalidId, MessageId, Rev, RoomId, Seq, TokenId, UserId};
pub use kinds::{RoomKind, UserKind};
