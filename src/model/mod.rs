//! The domain's own types: the ids ([`RoomId`], [`UserId`], [`MessageId`], [`FileId`],
//! [`TokenId`], [`UserRef`]), the positions ([`Seq`], [`Rev`]), the kinds ([`RoomKind`],
//! [`UserKind`]) and the rules of names ([`names`]). A leaf: the store (`db`), the wire (`protocol`), the actors and the HTTP face all use
//! these, and it imports none of them.

pub mod ids;
pub mod kinds;
pub mod names;

pub use ids::{
    room_number, FileId, InvalidId, MessageId, Rev, RoomId, Seq, TokenId, UserId, UserRef,
};
pub use kinds::{RoomKind, UserKind};
