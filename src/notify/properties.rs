//! Properties of the notification rules over random histories: who is notified, and what
//! coalescing sends whatever the order of messages, reads and the sender's turns.

use std::collections::HashSet;

use proptest::prelude::*;

use super::decide::{recipients, Candidate, Level, Notable};
use super::window::{Queue, Take};
use crate::model::{RoomKind, UserId, UserKind};

const W: i64 = 2000;

#[derive(Clone, Debug)]
enum Step {
    /// Time passes, then a message is decided.
    Decide { after_ms: i64 },
    /// Time passes, then the user reads up to a point (0..=100 % of what exists).
    Read { after_ms: i64, percent: i64 },
    /// Time passes, then the sender takes what is due.
    Tick { after_ms: i64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0i64..3000).prop_map(|after_ms| Step::Decide { after_ms }),
        (0i64..3000, 0i64..=100).prop_map(|(after_ms, percent)| Step::Read { after_ms, percent }),
        (0i64..3000).prop_map(|after_ms| Step::Tick { after_ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Notifications are a window apart; every message is in exactly one sent notification
    /// or was read before its notification went, never both; the one shown is the newest
    /// unread; nothing read is counted.
    #[test]
    fn every_message_is_sent_once_or_read_and_windows_hold(steps in prop::collection::vec(step(), 1..60)) {
        let mut queue = Queue::default();
        let (mut now, mut last_seq, mut read_seq) = (0i64, 0i64, 0i64);
        let mut sent_at: Vec<i64> = Vec::new();
        let (mut counted, mut dropped) = (0i64, 0i64);
        let mut decided = 0i64;
        // Seqs decided and not yet taken, with the read position when they were taken.
        let mut outstanding: Vec<i64> = Vec::new();
        let steps = steps.into_iter().chain(std::iter::once(Step::Tick { after_ms: 10 * W }));
        for step in steps {
            match step {
                Step::Decide { after_ms } => {
                    now += after_ms;
                    last_seq += 1;
                    decided += 1;
                    queue.decide(last_seq, now);
                    outstanding.push(last_seq);
                }
                Step::Read { after_ms, percent } => {
                    now += after_ms;
                    read_seq = read_seq.max(last_seq * percent / 100);
                }
                Step::Tick { after_ms } => {
                    now += after_ms;
                    match queue.take(now, read_seq, W) {
                        Take::Idle => prop_assert!(outstanding.is_empty()),
                        Take::Wait { until_ms } => {
                            prop_assert!(until_ms > now);
                            let last = sent_at.last().copied().unwrap_or(i64::MIN / 2);
                            prop_assert_eq!(until_ms, last + W, "only a window makes one wait");
                        }
                        Take::Send(fold) => {
                            if let Some(last) = sent_at.last() {
                                prop_assert!(now - last >= W, "two notifications within a window");
                            }
                            sent_at.push(now);
                            let unread: Vec<i64> =
                                outstanding.iter().copied().filter(|seq| *seq > read_seq).collect();
                            prop_assert_eq!(fold.count, unread.len() as i64);
                            prop_assert_eq!(Some(fold.newest), unread.iter().copied().max());
                            counted += fold.count;
                            dropped += outstanding.len() as i64 - fold.count;
                            outstanding.clear();
                        }
                        Take::Read { dropped: gone } => {
                            prop_assert!(outstanding.iter().all(|seq| *seq <= read_seq));
                            prop_assert_eq!(gone, outstanding.len() as i64);
                            dropped += gone;
                            outstanding.clear();
                        }
                    }
                }
            }
        }
        prop_assert!(outstanding.is_empty(), "the last turn, long after, takes everything");
        prop_assert_eq!(counted + dropped, decided);
    }

    /// With a sender that takes everything the moment it is due, the first message after a
    /// quiet window goes the moment it is decided.
    #[test]
    fn after_a_quiet_window_the_first_goes_at_once(gaps in prop::collection::vec(0i64..5000, 1..40)) {
        let mut queue = Queue::default();
        let mut now = 0;
        let mut last_sent: Option<i64> = None;
        for (index, gap) in gaps.into_iter().enumerate() {
            // Whatever came due in the gap goes at its due time.
            if let Some(due) = queue.due_ms(W).filter(|due| *due <= now + gap) {
                prop_assert!(matches!(queue.take(due, 0, W), Take::Send(_)));
                last_sent = Some(due);
            }
            now += gap;
            let quiet = queue.pending.is_empty() && last_sent.is_none_or(|sent| now - sent >= W);
            queue.decide(index as i64 + 1, now);
            if quiet {
                prop_assert!(matches!(queue.take(now, 0, W), Take::Send(_)));
                last_sent = Some(now);
            }
        }
    }

    /// The recipients are people, never the sender, never someone joined, never one who
    /// blocks the sender, never at `none`;
    /// everyone else at `all` is among them, and at `mentions` exactly when called on.
    #[test]
    fn recipients_follow_the_levels(
        members in prop::collection::vec((1i64..30, 0u8..4, 0u8..3, any::<bool>()), 0..30),
        sender in 1i64..30,
        mentioned in prop::collection::hash_set(1i64..30, 0..5),
        reply_to in prop::option::of(1i64..30),
        joined in prop::collection::hash_set(1i64..30, 0..10),
        group in any::<bool>(),
    ) {
        let kind = if group { RoomKind::Group } else { RoomKind::Direct };
        let sender = UserId(sender);
        let reply_to = reply_to.map(UserId);
        let mentioned: HashSet<UserId> = mentioned.into_iter().map(UserId).collect();
        let joined: HashSet<UserId> = joined.into_iter().map(UserId).collect();
        let mut seen = HashSet::new();
        let members: Vec<Candidate> = members
            .into_iter()
            .filter(|(id, _, _, _)| seen.insert(*id))
            .map(|(user_id, level, who, blocks_sender)| Candidate {
                user_id: UserId(user_id),
                kind: if who == 0 { UserKind::Bot } else { UserKind::User },
                level: [None, Some(Level::All), Some(Level::Mentions), Some(Level::None)][level as usize],
                blocks_sender,
            })
            .collect();
        let mentions: Vec<UserId> = mentioned.iter().copied().collect();
        let message = Notable { sender, mentions: &mentions, reply_to_sender: reply_to };
        let chosen = recipients(kind, &members, &message, |user| joined.contains(&user));
        for member in &members {
            let called = mentioned.contains(&member.user_id) || reply_to == Some(member.user_id);
            let expected = member.kind == UserKind::User
                && member.user_id != sender
                && !member.blocks_sender
                && !joined.contains(&member.user_id)
                && match Level::effective(member.level, kind) {
                    Level::All => true,
                    Level::Mentions => called,
                    Level::None => false,
                };
            prop_assert_eq!(chosen.contains(&member.user_id), expected, "{:?}", member);
        }
        prop_assert!(chosen.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
