//! Which waiting append jobs the group-commit writer may commit now, with several batches in
//! flight at once on separate connections (pure logic; `writer::run` does the I/O).
//!
//! The rules, which keep what one batch at a time gave:
//! - A job waits while any of its rooms is in a batch still in flight, and so does every
//!   later job of those rooms: a room's jobs commit one batch after another, in the order
//!   they came, so its seqs follow that order and its answers come in that order.
//! - Batches in flight never share a room, so they never wait for each other's row locks
//!   (other nodes' batches may; every batch locks its rooms in ascending id order).
//! - A job with no rooms (`Store::flush`) is a barrier: it waits until everything that came
//!   before it has been answered, and nothing after it starts before it.
//! - At most `limit` batches are in flight and a batch stops taking jobs once it has
//!   `max_posts` posts (the first job always goes in whole).
//! - With nothing in flight a batch starts at once, however small (a lone message is not
//!   kept waiting). Beside batches in flight, one starts only with at least `min_beside`
//!   posts: smaller ones wait for a commit to finish and grow meanwhile. Each commit costs
//!   the database round trips and work of its own, so a backlog is better committed as a
//!   few big batches side by side than as many small ones (without the minimum, 10,000
//!   connections at 8,000 sends/s made batches of 22–57 posts instead of 310–386);
//!   several still commit side by side once a backlog builds up, so commit latency does not
//!   cap throughput.

use std::collections::{HashMap, HashSet, VecDeque};

use crate::model::RoomId;

/// Names a batch in flight, for [`Schedule::finished`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct BatchId(u64);

#[derive(Debug)]
struct Waiting<J> {
    /// The job's rooms, ascending, no repeats; empty for a barrier.
    rooms: Vec<RoomId>,
    posts: usize,
    job: J,
}

/// Jobs waiting for a batch, and the rooms of the batches in flight.
#[derive(Debug)]
pub(crate) struct Schedule<J> {
    limit: usize,
    max_posts: usize,
    min_beside: usize,
    waiting: VecDeque<Waiting<J>>,
    waiting_posts: usize,
    /// Each batch in flight, with its rooms.
    in_flight: HashMap<BatchId, Vec<RoomId>>,
    /// Every room of the batches in flight.
    busy: HashSet<RoomId>,
    /// The batch in flight that carries a barrier: no other starts until it is answered.
    fence: Option<BatchId>,
    next_id: u64,
}

impl<J> Schedule<J> {
    /// At most `limit` batches in flight (at least 1), of about `max_posts` posts each; a
    /// batch starts beside others in flight only with at least `min_beside` posts.
    pub(crate) fn new(limit: usize, max_posts: usize, min_beside: usize) -> Schedule<J> {
        Schedule {
            limit: limit.max(1),
            max_posts: max_posts.max(1),
            min_beside: min_beside.clamp(1, max_posts.max(1)),
            waiting: VecDeque::new(),
            waiting_posts: 0,
            in_flight: HashMap::new(),
            busy: HashSet::new(),
            fence: None,
            next_id: 0,
        }
    }

    /// A job that came, with the rooms its posts go to (any order, repeats allowed; none
    /// for a barrier) and its number of posts.
    pub(crate) fn push(&mut self, job: J, mut rooms: Vec<RoomId>, posts: usize) {
        rooms.sort_unstable();
        rooms.dedup();
        self.waiting_posts += posts;
        self.waiting.push_back(Waiting { rooms, posts, job });
    }

    /// Whether enough is waiting to fill a batch: the writer then stops taking jobs off its
    /// (bounded) queue until a batch starts, so what waits here stays bounded too.
    pub(crate) fn is_full(&self) -> bool {
        self.waiting_posts >= self.max_posts || self.waiting.len() >= self.max_posts
    }

    /// Nothing is waiting and nothing is in flight.
    #[cfg(test)]
    pub(crate) fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.in_flight.is_empty()
    }

    /// Batches in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// The next batch to commit, in the order its jobs came, if one may start now. Its rooms
    /// count as busy until [`finished`](Self::finished).
    pub(crate) fn next_batch(&mut self) -> Option<(BatchId, Vec<J>)> {
        if self.in_flight.len() >= self.limit || self.waiting.is_empty() || self.fence.is_some() {
            return None;
        }
        // Rooms of jobs passed over in this scan: a later job of theirs must not go first.
        let mut passed_over: HashSet<RoomId> = HashSet::new();
        let mut taken: Vec<usize> = Vec::new();
        let mut posts = 0;
        let mut barrier = false;
        for (index, waiting) in self.waiting.iter().enumerate() {
            if waiting.rooms.is_empty() {
                // A barrier: it goes with the last batch, once everything before it is in
                // (a job not passed over was taken).
                if self.in_flight.is_empty() && passed_over.is_empty() {
                    taken.push(index);
                    barrier = true;
                }
                break;
            }
            if posts >= self.max_posts {
                break;
            }
            let free = waiting
                .rooms
                .iter()
                .all(|room| !self.busy.contains(room) && !passed_over.contains(room));
            if free {
                posts += waiting.posts;
                taken.push(index);
            } else {
                passed_over.extend(waiting.rooms.iter().copied());
            }
        }
        if taken.is_empty() || (!self.in_flight.is_empty() && posts < self.min_beside) {
            return None;
        }
        let mut jobs = Vec::with_capacity(taken.len());
        let mut rooms = Vec::new();
        // Remove from the back so the earlier indices stay valid.
        for index in taken.into_iter().rev() {
            if let Some(waiting) = self.waiting.remove(index) {
                self.waiting_posts -= waiting.posts;
                rooms.extend(waiting.rooms);
                jobs.push(waiting.job);
            }
        }
        jobs.reverse();
        rooms.sort_unstable();
        rooms.dedup();
        self.busy.extend(rooms.iter().copied());
        let id = BatchId(self.next_id);
        self.next_id += 1;
        self.in_flight.insert(id, rooms);
        if barrier {
            self.fence = Some(id);
        }
        Some((id, jobs))
    }

    /// The batch `id` has been answered: its rooms are free for the jobs waiting on them.
    pub(crate) fn finished(&mut self, id: BatchId) {
        if self.fence == Some(id) {
            self.fence = None;
        }
        if let Some(rooms) = self.in_flight.remove(&id) {
            for room in rooms {
                self.busy.remove(&room);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job is its name; `rooms` and `posts` as the writer would give them.
    fn schedule(
        limit: usize,
        max_posts: usize,
        jobs: &[(&'static str, &[i64], usize)],
    ) -> Schedule<&'static str> {
        let mut schedule = Schedule::new(limit, max_posts, 1);
        for (name, rooms, posts) in jobs {
            schedule.push(*name, rooms.iter().copied().map(RoomId).collect(), *posts);
        }
        schedule
    }

    fn next(schedule: &mut Schedule<&'static str>) -> Option<(BatchId, Vec<&'static str>)> {
        schedule.next_batch()
    }

    #[test]
    fn other_rooms_start_while_a_batch_is_in_flight() {
        let mut plan = schedule(4, 100, &[("a1", &[1], 1), ("b1", &[2], 1)]);
        let (first, jobs) = next(&mut plan).expect("a batch");
        assert_eq!(jobs, vec!["a1", "b1"]);
        plan.push("c1", vec![RoomId(3)], 1);
        plan.push("d1", vec![RoomId(4)], 2);
        let (second, jobs) = next(&mut plan).expect("a second batch at once");
        assert_eq!(jobs, vec!["c1", "d1"]);
        assert_ne!(first, second);
        assert_eq!(plan.in_flight(), 2);
        assert!(next(&mut plan).is_none(), "nothing waits");
    }

    #[test]
    fn beside_a_batch_in_flight_only_a_big_enough_one_starts() {
        let mut plan = Schedule::new(4, 100, 10);
        plan.push("a1", vec![RoomId(1)], 1);
        let (first, jobs) = plan
            .next_batch()
            .expect("nothing in flight: a lone post starts");
        assert_eq!(jobs, vec!["a1"]);
        plan.push("b1", vec![RoomId(2)], 4);
        plan.push("c1", vec![RoomId(3)], 5);
        assert!(
            plan.next_batch().is_none(),
            "9 posts wait for the commit in flight"
        );
        plan.push("d1", vec![RoomId(4)], 1);
        let (_, jobs) = plan.next_batch().expect("10 posts start beside it");
        assert_eq!(jobs, vec!["b1", "c1", "d1"]);
        plan.push("e1", vec![RoomId(5)], 1);
        assert!(plan.next_batch().is_none());
        plan.finished(first);
        assert!(plan.next_batch().is_none(), "one batch is still in flight");
        assert_eq!(plan.in_flight(), 1);
    }

    #[test]
    fn a_room_in_flight_waits_and_keeps_its_order() {
        let mut plan = schedule(4, 100, &[("a1", &[1], 1)]);
        let (first, _) = next(&mut plan).expect("a batch");
        plan.push("a2", vec![RoomId(1)], 1);
        plan.push("b1", vec![RoomId(2)], 1);
        plan.push("a3", vec![RoomId(1)], 1);
        let (second, jobs) = next(&mut plan).expect("room 2 goes at once");
        assert_eq!(jobs, vec!["b1"]);
        assert!(next(&mut plan).is_none(), "room 1 is in flight");
        plan.finished(first);
        let (_, jobs) = next(&mut plan).expect("room 1 again");
        assert_eq!(
            jobs,
            vec!["a2", "a3"],
            "in the order they came, in one batch"
        );
        plan.finished(second);
        assert!(next(&mut plan).is_none());
    }

    #[test]
    fn a_job_of_several_rooms_holds_back_the_later_jobs_of_each() {
        // Room 1 is in flight; the job for rooms 1 and 2 waits, so room 2's later job does
        // too, while room 3 goes.
        let mut plan = schedule(4, 100, &[("a1", &[1], 1)]);
        let (first, _) = next(&mut plan).expect("a batch");
        plan.push("ab", vec![RoomId(2), RoomId(1), RoomId(2)], 2);
        plan.push("b1", vec![RoomId(2)], 1);
        plan.push("c1", vec![RoomId(3)], 1);
        let (_, jobs) = next(&mut plan).expect("room 3");
        assert_eq!(jobs, vec!["c1"]);
        assert!(next(&mut plan).is_none());
        plan.finished(first);
        let (_, jobs) = next(&mut plan).expect("rooms 1 and 2");
        assert_eq!(jobs, vec!["ab", "b1"]);
    }

    #[test]
    fn no_more_than_the_limit_in_flight() {
        let mut plan = schedule(2, 100, &[("a", &[1], 1)]);
        let (first, _) = next(&mut plan).expect("one");
        plan.push("b", vec![RoomId(2)], 1);
        let _ = next(&mut plan).expect("two");
        plan.push("c", vec![RoomId(3)], 1);
        assert!(next(&mut plan).is_none(), "two in flight already");
        plan.finished(first);
        assert_eq!(next(&mut plan).map(|(_, jobs)| jobs), Some(vec!["c"]));
    }

    #[test]
    fn a_batch_stops_at_max_posts_but_takes_a_big_first_job_whole() {
        let mut plan = schedule(
            4,
            4,
            &[
                ("big", &[1], 6),
                ("b", &[2], 1),
                ("c", &[3], 3),
                ("d", &[4], 1),
            ],
        );
        assert!(plan.is_full());
        assert_eq!(next(&mut plan).map(|(_, jobs)| jobs), Some(vec!["big"]));
        assert_eq!(next(&mut plan).map(|(_, jobs)| jobs), Some(vec!["b", "c"]));
        assert!(!plan.is_full());
        assert_eq!(next(&mut plan).map(|(_, jobs)| jobs), Some(vec!["d"]));
    }

    #[test]
    fn a_barrier_waits_for_everything_before_it_and_holds_back_what_follows() {
        let mut plan = schedule(4, 100, &[("a1", &[1], 1)]);
        let (first, _) = next(&mut plan).expect("a batch");
        plan.push("b1", vec![RoomId(2)], 1);
        plan.push("flush", vec![], 0);
        plan.push("c1", vec![RoomId(3)], 1);
        let (second, jobs) = next(&mut plan).expect("b1 goes; the barrier waits");
        assert_eq!(jobs, vec!["b1"]);
        assert!(next(&mut plan).is_none(), "the barrier waits, c1 behind it");
        plan.finished(first);
        assert!(next(&mut plan).is_none(), "b1 still in flight");
        plan.finished(second);
        let (third, jobs) = next(&mut plan).expect("the barrier, alone");
        assert_eq!(jobs, vec!["flush"]);
        assert!(
            next(&mut plan).is_none(),
            "c1 waits for the barrier's answer"
        );
        plan.finished(third);
        assert_eq!(next(&mut plan).map(|(_, jobs)| jobs), Some(vec!["c1"]));
        assert!(!plan.is_idle());
    }

    #[test]
    fn a_barrier_joins_the_batch_of_the_jobs_before_it() {
        let mut plan = schedule(
            4,
            100,
            &[("a1", &[1], 1), ("flush", &[], 0), ("b1", &[2], 1)],
        );
        let (id, jobs) = next(&mut plan).expect("a batch");
        assert_eq!(jobs, vec!["a1", "flush"]);
        assert!(next(&mut plan).is_none());
        plan.finished(id);
        let (id, jobs) = next(&mut plan).expect("b1");
        assert_eq!(jobs, vec!["b1"]);
        plan.finished(id);
        assert!(plan.is_idle());
    }

    /// Random arrivals (barriers among them) and completions: every room's jobs start in
    /// the order they came, one batch at a time; batches in flight never share a room; a
    /// barrier starts after every job before it and alone in flight, and no job after it
    /// starts before it is answered.
    #[test]
    fn random_runs_keep_each_rooms_order_and_never_share_a_room_in_flight() {
        const BARRIER: i64 = -1;
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        // A job is (room, its number in the order of all jobs).
        let mut plan: Schedule<(i64, u32)> = Schedule::new(3, 5, 2);
        let mut pushed = 0u32;
        let mut last_of_room: HashMap<i64, u32> = HashMap::new();
        let mut started = 0u32;
        let mut flying: Vec<(BatchId, Vec<RoomId>, bool)> = Vec::new();
        for _ in 0..20_000 {
            match random(7) {
                0..=2 => {
                    let room = random(6) as i64;
                    pushed += 1;
                    plan.push((room, pushed), vec![RoomId(room)], 1 + random(3) as usize);
                }
                3 => {
                    pushed += 1;
                    plan.push((BARRIER, pushed), vec![], 0);
                }
                _ if !flying.is_empty() => {
                    let (id, _, _) = flying.swap_remove(random(flying.len() as u64) as usize);
                    plan.finished(id);
                }
                _ => {}
            }
            while let Some((id, jobs)) = plan.next_batch() {
                assert!(
                    flying.iter().all(|(_, _, barrier)| !barrier),
                    "nothing starts while a barrier is in flight"
                );
                let mut rooms = Vec::new();
                let mut barrier = false;
                for (room, number) in jobs {
                    started += 1;
                    if room == BARRIER {
                        barrier = true;
                        assert_eq!(number, started, "everything before the barrier started");
                        assert!(flying.is_empty(), "the barrier is alone in flight");
                        continue;
                    }
                    let last = last_of_room.entry(room).or_default();
                    assert!(number > *last, "room {room} in order");
                    *last = number;
                    rooms.push(RoomId(room));
                }
                for (_, other, _) in &flying {
                    assert!(rooms.iter().all(|room| !other.contains(room)));
                }
                flying.push((id, rooms, barrier));
            }
            assert!(plan.in_flight() <= 3);
        }
        assert!(
            started > 10_000,
            "the run went somewhere: {started} started"
        );
    }
}
