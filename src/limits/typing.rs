//! How often a room passes `typing` on: at most once per user every [`TYPING_EVERY`] (docs/
//! protocol.md, `typing`). A `typing` inside the window is answered `ok` and folded into the
//! one already sent: a client that sends it on every key press reaches the others once
//! every few seconds, not hundreds of times a second. Pure: the room keeps one per room.

use crate::model::UserId;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One `typing` event per user and room at most this often (per node).
pub const TYPING_EVERY: Duration = Duration::from_secs(3);

/// When each user's last `typing` was passed on.
#[derive(Debug, Default)]
pub struct TypingFold {
    last: HashMap<UserId, Instant>,
}

impl TypingFold {
    /// Whether `user`'s `typing` at `now` is passed on (and then remembered).
    pub fn pass(&mut self, user: UserId, now: Instant) -> bool {
        if let Some(last) = self.last.get(&user) {
            if now.saturating_duration_since(*last) < TYPING_EVERY {
                return false;
            }
        }
        // Entries past the window say nothing any more: keep only the recent ones, so the
        // map holds at most the users who typed in the last few seconds.
        self.last
            .retain(|_, at| now.saturating_duration_since(*at) < TYPING_EVERY);
        self.last.insert(user, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_typing_per_user_per_window() {
        let mut fold = TypingFold::default();
        let start = Instant::now();
        assert!(fold.pass(UserId(1), start));
        for ms in [1, 100, 2_999] {
            assert!(
                !fold.pass(UserId(1), start + Duration::from_millis(ms)),
                "{ms} ms"
            );
        }
        assert!(
            fold.pass(UserId(2), start + Duration::from_millis(10)),
            "another user"
        );
        assert!(
            fold.pass(UserId(1), start + TYPING_EVERY),
            "the next window"
        );
        assert!(!fold.pass(UserId(1), start + TYPING_EVERY + Duration::from_millis(1)));
    }

    #[test]
    fn users_who_stopped_typing_are_forgotten() {
        let mut fold = TypingFold::default();
        let start = Instant::now();
        for user in 0..100 {
            fold.pass(UserId(user), start);
        }
        fold.pass(UserId(1_000), start + TYPING_EVERY * 2);
        assert_eq!(fold.last.len(), 1);
    }
}
