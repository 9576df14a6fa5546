//! Answering a request once the store work it needs is done, in turn: [`in_turn`] runs the
//! work inside `ctx.wait`, so the room takes no further message until the work is done and
//! applied (a `join`'s reply reaches the connection before any later event of the room, an
//! `invite` is in the member list before the next request sees it), then answers the
//! request with what applying it gave. It is the one place the oneshot-and-`ctx.wait`
//! plumbing is written; [`later`], its answering half, also answers a system or bot post
//! once the posting pipeline settles it.

use std::future::Future;

use actix::prelude::*;
use futures_util::FutureExt;
use tokio::sync::oneshot;

use super::answer::Answer;
use super::Room;
use crate::error::ProtoError;

/// Runs `work` while the room waits, hands its output to `then` with the room, and answers
/// with what `then` returns.
pub(super) fn in_turn<O: 'static, T: 'static>(
    ctx: &mut Context<Room>,
    work: impl Future<Output = O> + 'static,
    then: impl FnOnce(O, &mut Room, &mut Context<Room>) -> Result<T, ProtoError> + 'static,
) -> Answer<T> {
    let (answer, receiver) = oneshot::channel();
    ctx.wait(
        actix::fut::wrap_future::<_, Room>(work).map(move |output, room, ctx| {
            // The requester may have gone (its session closed): no one to answer, nothing lost.
            let _ = answer.send(then(output, room, ctx));
        }),
    );
    later(receiver)
}

/// Answers once `receiver` does.
pub(super) fn later<T: 'static>(receiver: oneshot::Receiver<Result<T, ProtoError>>) -> Answer<T> {
    Box::pin(actix::fut::wrap_future::<_, Room>(receiver.map(|answer| {
        answer.unwrap_or_else(|_| Err(ProtoError::internal("the room dropped the request")))
    })))
}
