//! Pipelined sends. Consecutive `send`s to one room go to the room without waiting for each
//! other's commit: the room answers them in the order it got them, so their replies stay in
//! command order. Any other command first waits until they are all answered. Each post in
//! flight holds a [`Ticket`] inside its [`Origin`](crate::actors::origin::Origin), given
//! back where its answer is written.

use std::sync::Arc;

use tokio::sync::watch;

use crate::actors::origin::Ticket;

/// Most sends of one connection waiting for their commit at once.
pub const MAX_IN_FLIGHT: usize = 256;

pub struct SendPipeline {
    in_flight: Arc<watch::Sender<usize>>,
    room: Option<i64>,
}

impl Default for SendPipeline {
    fn default() -> Self {
        SendPipeline {
            in_flight: Arc::new(watch::Sender::new(0)),
            room: None,
        }
    }
}

impl SendPipeline {
    /// Whether a send to `room` may go now without waiting for those in flight.
    pub fn admits(&self, room: i64) -> bool {
        let count = *self.in_flight.borrow();
        count == 0 || (self.room == Some(room) && count < MAX_IN_FLIGHT)
    }

    pub fn begin(&mut self, room: i64) -> Ticket {
        self.room = Some(room);
        Ticket::issue(&self.in_flight)
    }

    /// Resolves once no send is in flight.
    pub fn drained(&self) -> impl std::future::Future<Output = ()> + 'static {
        let mut watching = self.in_flight.subscribe();
        async move {
            let _ = watching.wait_for(|count| *count == 0).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn sends_to_one_room_share_the_pipeline_others_wait() {
        let mut pipeline = SendPipeline::default();
        assert!(pipeline.admits(1));
        let first = pipeline.begin(1);
        assert!(pipeline.admits(1));
        assert!(!pipeline.admits(2), "another room waits");
        let second = pipeline.begin(1);
        let drained = pipeline.drained();
        drop(first);
        assert!(!pipeline.admits(2));
        drop(second);
        drained.await;
        assert!(pipeline.admits(2));
    }

    #[test]
    fn the_pipeline_is_bounded() {
        let mut pipeline = SendPipeline::default();
        let tickets: Vec<Ticket> = (0..MAX_IN_FLIGHT).map(|_| pipeline.begin(1)).collect();
        assert!(!pipeline.admits(1));
        drop(tickets);
        assert!(pipeline.admits(1));
    }
}
