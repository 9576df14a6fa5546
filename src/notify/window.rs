//! Coalescing one user's notifications of one room (docs/protocol.md section 12): at most one
//! every window (`--push-coalesce-ms`, 2 s by default). The first message after a quiet
//! window goes at once; messages that come within the window after a notification, or while
//! the first is still unsent, wait until the window ends and go together as one
//! notification showing the newest. Messages read by then are left out, and a notification
//! with nothing left is not sent.
//!
//! [`Queue`] is what the store keeps of one user and room (the pending messages and when the
//! last notification went); the sender loads it, asks [`Queue::take`] and stores what is left.

/// One message decided for a notification and not yet sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub seq: i64,
    /// When its commit decided it (milliseconds since the epoch).
    pub decided_ms: i64,
}

/// One user's undelivered notifications of one room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Queue {
    /// The messages decided and not yet sent.
    pub pending: Vec<Pending>,
    /// When the last notification of this user and room was taken for sending.
    pub last_sent_ms: Option<i64>,
}

/// One notification standing for several messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fold {
    /// The newest unread message: the one the notification shows.
    pub newest: i64,
    /// The messages it stands for (`count` in the payload).
    pub count: i64,
}

/// What [`Queue::take`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// Nothing is pending.
    Idle,
    /// Something is pending, not before this time.
    Wait { until_ms: i64 },
    /// Send this now; the queue is empty and the window starts now.
    Send(Fold),
    /// Everything that was due had been read: nothing is sent (`read` messages dropped).
    Read { dropped: i64 },
}

impl Queue {
    /// When the pending messages go: the first decided, or the end of the window after the
    /// last notification, whichever is later. `None` when nothing is pending.
    pub fn due_ms(&self, window_ms: i64) -> Option<i64> {
        let first = self.pending.iter().map(|p| p.decided_ms).min()?;
        Some(match self.last_sent_ms {
            Some(sent) => first.max(sent.saturating_add(window_ms)),
            None => first,
        })
    }

    /// A message decided at `decided_ms`.
    pub fn decide(&mut self, seq: i64, decided_ms: i64) {
        self.pending.push(Pending { seq, decided_ms });
    }

    /// Takes what is due at `now_ms` for a user who has read up to `read_seq`.
    pub fn take(&mut self, now_ms: i64, read_seq: i64, window_ms: i64) -> Take {
        let Some(due) = self.due_ms(window_ms) else {
            return Take::Idle;
        };
        if due > now_ms {
            return Take::Wait { until_ms: due };
        }
        let pending = std::mem::take(&mut self.pending);
        let unread: Vec<i64> = pending
            .iter()
            .map(|p| p.seq)
            .filter(|seq| *seq > read_seq)
            .collect();
        match unread.iter().max() {
            None => Take::Read {
                dropped: pending.len() as i64,
            },
            Some(newest) => {
                self.last_sent_ms = Some(now_ms);
                Take::Send(Fold {
                    newest: *newest,
                    count: unread.len() as i64,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: i64 = 2000;

    #[test]
    fn the_first_after_a_quiet_window_goes_at_once() {
        let mut queue = Queue::default();
        assert_eq!(queue.take(0, 0, W), Take::Idle);
        queue.decide(1, 100);
        assert_eq!(queue.due_ms(W), Some(100));
        assert_eq!(
            queue.take(100, 0, W),
            Take::Send(Fold {
                newest: 1,
                count: 1
            })
        );
        assert_eq!(queue.last_sent_ms, Some(100));
        queue.decide(2, 2200);
        assert_eq!(
            queue.take(2200, 0, W),
            Take::Send(Fold {
                newest: 2,
                count: 1
            }),
            "the window after the first had ended"
        );
    }

    #[test]
    fn messages_within_the_window_wait_and_go_together_showing_the_newest() {
        let mut queue = Queue::default();
        queue.decide(1, 0);
        assert!(matches!(queue.take(0, 0, W), Take::Send(_)));
        queue.decide(2, 500);
        queue.decide(5, 900);
        assert_eq!(queue.take(900, 0, W), Take::Wait { until_ms: 2000 });
        queue.decide(7, 1999);
        assert_eq!(
            queue.take(2000, 0, W),
            Take::Send(Fold {
                newest: 7,
                count: 3
            })
        );
        assert_eq!(queue.take(2001, 0, W), Take::Idle);
    }

    #[test]
    fn those_committed_while_the_first_is_unsent_go_with_it() {
        let mut queue = Queue::default();
        queue.decide(1, 0);
        queue.decide(2, 30);
        assert_eq!(
            queue.take(40, 0, W),
            Take::Send(Fold {
                newest: 2,
                count: 2
            })
        );
    }

    #[test]
    fn read_messages_are_left_out_and_nothing_left_is_not_sent() {
        let mut queue = Queue::default();
        queue.decide(3, 0);
        queue.decide(4, 0);
        assert_eq!(
            queue.take(0, 3, W),
            Take::Send(Fold {
                newest: 4,
                count: 1
            })
        );
        queue.decide(6, 100);
        queue.decide(8, 200);
        assert_eq!(queue.take(2500, 8, W), Take::Read { dropped: 2 });
        assert_eq!(
            queue.last_sent_ms,
            Some(0),
            "nothing sent: the window stays"
        );
        assert_eq!(queue.take(2600, 8, W), Take::Idle);
    }
}
