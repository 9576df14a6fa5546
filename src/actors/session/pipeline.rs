//! Pipelined sends. Consecutive `send`s to one room go to the room without waiting for each
//! other's commit: the room answers them in the order it got them, so their replies stay in
//! command order. Any other command first waits until they are all answered. Each post in
//! flight holds a [`Ticket`] inside its [`Origin`](crate::actors::origin::Origin), given
//! back where its answer is written. The counter is made at the first send: a connection
//! that never sends (most idle ones) allocates nothing here.

use std::sync::Arc;

use tokio::sync::watch;

use crate::actors::origin::Ticket;
use crate::model::RoomId;

/// Most sends of one connection waiting for their commit at once.
pub const MAX_IN_FLIGHT: usize = 256;

#[derive(Default)]
pub struct SendPipeline {
    /// Sends in flight; `None` until the first send.
    in_flight: Option<Arc<watch::Sender<usize>>>,
    room: Option<RoomId>,
}

impl SendPipeline {
    /// Whether a send to `room` may go now without waiting for those in flight.
    /// Whether no send is in flight.
    pub fn is_idle(&self) -> bool {
        self.in_flight
            .as_ref()
            .is_none_or(|in_flight| *in_flight.borrow() == 0)
    }

    pub fn admits(&self, room: RoomId) -> bool {
        let count = self
            .in_flight
            .as_ref()
            .map_or(0, |in_flight| *in_flight.borrow());
        count == 0 || (self.room == Some(room) && count < MAX_IN_FLIGHT)
    }

    pub fn begin(&mut self, room: RoomId) -> Ticket {
        self.room = Some(room);
        let in_flight = self
            .in_flight
            .get_or_insert_with(|| Arc::new(watch::Sender::new(0)));
        Ticket::issue(in_flight)
    }

    /// Resolves once no send is in flight.
    pub fn drained(&self) -> impl std::future::Future<Output = ()> + 'static {
        let watching = self
            .in_flight
            .as_ref()
            .map(|in_flight| in_flight.subscribe());
        async move {
            if let Some(mut watching) = watching {
                // An error means the counter is gone, and with it every ticket: none in flight.
                let _ = watching.wait_for(|count| *count == 0).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn sends_to_one_room_share_the_pipeline_others_wait() {
        let mut pipeline = SendPipeline::default();
        assert!(pipeline.admits(RoomId(1)));
        let first = pipeline.begin(RoomId(1));
        assert!(pipeline.admits(RoomId(1)));
        assert!(!pipeline.admits(RoomId(2)), "another room waits");
        let second = pipeline.begin(RoomId(1));
        let drained = pipeline.drained();
        drop(first);
        assert!(!pipeline.admits(RoomId(2)));
        drop(second);
        drained.await;
        assert!(pipeline.admits(RoomId(2)));
    }

    #[actix_rt::test]
    async fn a_pipeline_that_never_sent_allocates_nothing_and_is_drained() {
        let pipeline = SendPipeline::default();
        assert!(pipeline.in_flight.is_none());
        assert!(pipeline.admits(RoomId(1)) && pipeline.admits(RoomId(2)));
        pipeline.drained().await;
        assert!(pipeline.in_flight.is_none());
    }

    #[test]
    fn the_pipeline_is_bounded() {
        let mut pipeline = SendPipeline::default();
        let tickets: Vec<Ticket> = (0..MAX_IN_FLIGHT)
            .map(|_| pipeline.begin(RoomId(1)))
            .collect();
        assert!(!pipeline.admits(RoomId(1)));
        drop(tickets);
        assert!(pipeline.admits(RoomId(1)));
    }
}
