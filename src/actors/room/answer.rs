//! What a room's request handlers return: an answer the room gives when its work is done
//! ([`Answer`]), or at once ([`ready`]).

use actix::prelude::*;

use super::Room;
use crate::error::ProtoError;

/// A room's answer to a request, given when the future completes on the room.
pub(super) type Answer<T> = ResponseActFuture<Room, Result<T, ProtoError>>;

/// An answer known at once.
pub(super) fn ready<T: 'static>(result: Result<T, ProtoError>) -> Answer<T> {
    Box::pin(actix::fut::ready(result))
}
