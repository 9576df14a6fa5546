//! The soak's bookkeeping, pure logic: what one member received of its room (live events,
//! `join` pages, history fills), what the senders had acked, and the end-of-run tally of
//! lost, duplicated, out-of-order and mismatched messages.
//!
//! A message is named by its `client_msg_id`, packed into a `u64` ([`pack`]). The rules a
//! member's stream is held to (docs/protocol.md sections 4 and 8):
//! - a `join` page is the messages right after `after_seq`, in order, and no live event of
//!   the same connection repeats one of them;
//! - live events come in `seq` order without gaps (a slow connection is closed instead);
//! - a history fill (paging forwards after a full page) may overlap live events: that is the
//!   client's own read-ahead, checked for equal content, not counted as a duplicate;
//! - a page may repeat what an earlier connection already had when `after_seq` was the
//!   member's contiguous watermark below an earlier gap: counted as `refetched`.

use std::collections::HashMap;

/// Seqs above this are refused as implausible (memory stays bounded).
const MAX_SEQ: u64 = 50_000_000;

/// Marks a message without a (benchmark) `client_msg_id`.
pub const NO_CMID: u64 = u64::MAX;

/// `client_msg_id` of the `n`-th message (from 1) of connection `index`.
pub fn cmid(index: usize, n: u32) -> String {
    format!("s{index}-{n}")
}

/// The packed form of a `client_msg_id` made by [`cmid`]; [`NO_CMID`] for anything else.
pub fn pack(cmid: Option<&str>) -> u64 {
    let parsed = cmid
        .and_then(|text| text.strip_prefix('s'))
        .and_then(|rest| rest.split_once('-'))
        .and_then(|(index, n)| Some((index.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
    match parsed {
        Some((index, n)) if n > 0 && index < u32::MAX => {
            (u64::from(index) + 1) << 32 | u64::from(n)
        }
        _ => NO_CMID,
    }
}

/// What is wrong with a member's stream, counted as it arrives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamCounts {
    /// A seq received twice where the protocol promises once.
    pub duplicated: u64,
    /// A live event (or page entry) below one already received in the same stream.
    pub out_of_order: u64,
    /// Seqs skipped by the live stream (each one counted).
    pub live_gaps: u64,
    /// Seqs skipped between `after_seq` and a join page, or inside a page.
    pub resume_gaps: u64,
    /// The same seq with two different `client_msg_id`s.
    pub mismatched: u64,
    /// Live events that a history fill had already brought (benign read-ahead).
    pub fill_overlaps: u64,
    /// Page entries an earlier connection of the member already had (benign).
    pub refetched: u64,
    /// Seqs 0 or past [`MAX_SEQ`].
    pub implausible: u64,
}

/// Where the current connection's stream is.
#[derive(Debug, Default)]
struct Stream {
    /// `after_seq` of the join, then the highest page entry.
    page_high: u64,
    /// The page was full (`has_more`): live events start further on, history fills between.
    has_more: bool,
    page_done: bool,
    live_high: Option<u64>,
    fill_high: u64,
}

/// One member's record of its room.
#[derive(Debug, Default)]
pub struct MemberLog {
    /// `received[seq - 1]`: the packed `client_msg_id`, 0 when not received.
    received: Vec<u64>,
    /// Every seq up to this one has been received.
    watermark: u64,
    stream: Stream,
    pub counts: StreamCounts,
}

impl MemberLog {
    /// The seq to resume after: everything up to it has been received.
    pub fn watermark(&self) -> u64 {
        self.watermark
    }

    /// A new connection joined with `after_seq`.
    pub fn begin(&mut self, after_seq: u64) {
        self.stream = Stream {
            page_high: after_seq,
            ..Stream::default()
        };
    }

    /// An entry of the join page.
    pub fn page(&mut self, seq: u64, packed: u64) {
        if self.stream.page_done {
            // Not a page of this stream: treat like a fill, so nothing is lost.
            return self.fill(seq, packed);
        }
        let expected = self.stream.page_high + 1;
        if seq < expected {
            if self.get(seq).is_some() {
                self.counts.duplicated += 1;
            } else {
                self.counts.out_of_order += 1;
            }
            self.put(seq, packed);
            return;
        }
        self.counts.resume_gaps += seq - expected;
        self.stream.page_high = seq;
        if self.get(seq).is_some() {
            self.counts.refetched += 1;
        }
        self.put(seq, packed);
    }

    /// The join page has been read; `has_more` as the reply said.
    pub fn page_done(&mut self, has_more: bool) {
        self.stream.page_done = true;
        self.stream.has_more = has_more;
    }

    /// A live `message` event.
    pub fn live(&mut self, seq: u64, packed: u64) {
        let seen = self.get(seq).is_some();
        let stream = &self.stream;
        if stream.live_high.is_some_and(|high| seq <= high) || seq <= stream.page_high {
            if seen {
                self.counts.duplicated += 1;
            } else {
                self.counts.out_of_order += 1;
            }
            self.put(seq, packed);
            return;
        }
        let expected = match stream.live_high {
            Some(high) => Some(high + 1),
            None if !stream.has_more => Some(stream.page_high + 1),
            // After a full page the live stream starts where the room's delivery was.
            None => None,
        };
        if let Some(expected) = expected {
            self.counts.live_gaps += seq - expected;
        }
        if seen && seq <= stream.fill_high {
            self.counts.fill_overlaps += 1;
        } else if seen {
            self.counts.duplicated += 1;
        }
        self.stream.live_high = Some(seq);
        self.put(seq, packed);
    }

    /// An entry of a history page read to fill between a full join page and live events.
    pub fn fill(&mut self, seq: u64, packed: u64) {
        self.stream.fill_high = self.stream.fill_high.max(seq);
        self.put(seq, packed);
    }

    fn get(&self, seq: u64) -> Option<u64> {
        let slot = seq.checked_sub(1)? as usize;
        self.received
            .get(slot)
            .copied()
            .filter(|packed| *packed != 0)
    }

    fn put(&mut self, seq: u64, packed: u64) {
        if seq == 0 || seq > MAX_SEQ {
            self.counts.implausible += 1;
            return;
        }
        let slot = (seq - 1) as usize;
        if self.received.len() <= slot {
            self.received.resize(slot + 1, 0);
        }
        let had = self.received[slot];
        if had == 0 {
            self.received[slot] = packed;
        } else if had != packed {
            self.counts.mismatched += 1;
        }
        while self.get(self.watermark + 1).is_some() {
            self.watermark += 1;
        }
    }
}

/// The acks of one room: seq to packed `client_msg_id`.
#[derive(Debug, Default)]
pub struct RoomAcks {
    by_seq: HashMap<u64, u64>,
    by_cmid: HashMap<u64, u64>,
    /// One seq acked with two different messages.
    pub conflicts: u64,
    /// One `client_msg_id` acked at two seqs (stored twice).
    pub stored_twice: u64,
}

impl RoomAcks {
    pub fn ack(&mut self, seq: u64, packed: u64) {
        match self.by_seq.insert(seq, packed) {
            Some(before) if before != packed => self.conflicts += 1,
            _ => {}
        }
        match self.by_cmid.insert(packed, seq) {
            Some(before) if before != seq => self.stored_twice += 1,
            _ => {}
        }
    }

    pub fn len(&self) -> u64 {
        self.by_seq.len() as u64
    }
}

/// The end-of-run tally over every member of every room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Acked messages a member never received (one per member and message).
    pub lost: u64,
    /// Committed messages (seq up to the room's `last_seq`) a member never received.
    pub missing_committed: u64,
    /// A member received another message than the one acked at that seq.
    pub mismatched_acked: u64,
    /// Messages received whose `client_msg_id` is at another seq too (stored twice).
    pub stored_twice: u64,
    pub stream: StreamCounts,
}

impl Tally {
    /// Adds one member: its log against the room's acks and its `last_seq`.
    pub fn member(&mut self, log: &MemberLog, acks: &RoomAcks, last_seq: u64) {
        for (seq, packed) in &acks.by_seq {
            match log.get(*seq) {
                None => self.lost += 1,
                Some(got) if got != *packed => self.mismatched_acked += 1,
                Some(_) => {}
            }
        }
        self.missing_committed +=
            (1..=last_seq).filter(|seq| log.get(*seq).is_none()).count() as u64;
        let mut seen: HashMap<u64, u64> = HashMap::new();
        for (slot, packed) in log.received.iter().enumerate() {
            if *packed == 0 || *packed == NO_CMID {
                continue;
            }
            let seq = slot as u64 + 1;
            let elsewhere = acks.by_cmid.get(packed).filter(|acked| **acked != seq);
            if seen.insert(*packed, seq).is_some() || elsewhere.is_some() {
                self.stored_twice += 1;
            }
        }
        let c = &log.counts;
        let s = &mut self.stream;
        s.duplicated += c.duplicated;
        s.out_of_order += c.out_of_order;
        s.live_gaps += c.live_gaps;
        s.resume_gaps += c.resume_gaps;
        s.mismatched += c.mismatched;
        s.fill_overlaps += c.fill_overlaps;
        s.refetched += c.refetched;
        s.implausible += c.implausible;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u32) -> u64 {
        pack(Some(&cmid(3, n)))
    }

    #[test]
    fn packs_benchmark_ids_only() {
        assert_eq!(pack(Some("s0-1")), 1 << 32 | 1);
        assert_eq!(pack(Some("s3-7")), 4 << 32 | 7);
        assert_eq!(pack(Some("s3-0")), NO_CMID);
        assert_eq!(pack(Some("c-1")), NO_CMID);
        assert_eq!(pack(None), NO_CMID);
    }

    #[test]
    fn a_clean_resume_counts_nothing() {
        let mut log = MemberLog::default();
        log.begin(0);
        log.page_done(false);
        for seq in 1..=3 {
            log.live(seq, p(seq as u32));
        }
        // Dropped; the page brings 4 and 5, live goes on at 6.
        log.begin(log.watermark());
        log.page(4, p(4));
        log.page(5, p(5));
        log.page_done(false);
        log.live(6, p(6));
        assert_eq!(log.counts, StreamCounts::default());
        assert_eq!(log.watermark(), 6);
    }

    #[test]
    fn counts_duplicates_reordering_and_gaps_of_the_live_stream() {
        let mut log = MemberLog::default();
        log.begin(0);
        log.page(1, p(1));
        log.page_done(false);
        log.live(1, p(1)); // repeats the page
        log.live(2, p(2));
        log.live(4, p(4)); // 3 skipped
        log.live(3, p(3)); // late
        log.live(4, p(4)); // twice
        assert_eq!(log.counts.duplicated, 2);
        assert_eq!(log.counts.out_of_order, 1);
        assert_eq!(log.counts.live_gaps, 1);
    }

    #[test]
    fn a_full_page_then_a_fill_that_overlaps_live_events_is_clean() {
        let mut log = MemberLog::default();
        log.begin(0);
        log.page(1, p(1));
        log.page(2, p(2));
        log.page_done(true);
        log.live(6, p(6)); // live starts past the page
        for seq in 3..=6 {
            log.fill(seq, p(seq as u32)); // history read ahead to 6
        }
        log.live(7, p(7));
        assert_eq!(log.counts.live_gaps, 0);
        assert_eq!(log.counts.duplicated, 0);
        // Fill read ahead of delivery: 8 and 9 come from history, then live.
        let mut log = MemberLog::default();
        log.begin(0);
        log.page(1, p(1));
        log.page_done(true);
        for seq in 2..=9 {
            log.fill(seq, p(seq as u32));
        }
        log.live(8, p(8));
        log.live(9, p(9));
        log.live(10, p(10));
        assert_eq!(log.counts.fill_overlaps, 2);
        assert_eq!(log.counts.duplicated, 0);
        assert_eq!(log.counts.live_gaps, 0);
        assert_eq!(log.watermark(), 10);
    }

    #[test]
    fn a_resume_that_skips_is_a_gap_and_another_body_is_a_mismatch() {
        let mut log = MemberLog::default();
        log.begin(0);
        log.page_done(false);
        log.live(1, p(1));
        log.begin(1);
        log.page(3, p(3)); // 2 skipped by the page
        log.page_done(false);
        log.live(4, p(99)); // another message at 4
        log.live(4, p(4));
        assert_eq!(log.counts.resume_gaps, 1);
        assert_eq!(log.counts.mismatched, 1);
        assert_eq!(log.counts.duplicated, 1);
        assert_eq!(log.watermark(), 1);
    }

    #[test]
    fn the_tally_counts_lost_acks_and_messages_stored_twice() {
        let mut acks = RoomAcks::default();
        acks.ack(1, p(1));
        acks.ack(2, p(2));
        acks.ack(3, p(3));
        acks.ack(3, p(3)); // the same ack twice (a retry answered by the first message)
        assert_eq!((acks.len(), acks.conflicts, acks.stored_twice), (3, 0, 0));
        let mut log = MemberLog::default();
        log.begin(0);
        log.page_done(false);
        log.live(1, p(1));
        log.live(2, p(2));
        log.live(3, p(3));
        log.live(4, p(2)); // message 2 again, at seq 4: stored twice
        let mut tally = Tally::default();
        tally.member(&log, &acks, 5);
        assert_eq!(tally.lost, 0);
        assert_eq!(tally.missing_committed, 1); // seq 5
        assert_eq!(tally.stored_twice, 1);
        let mut behind = MemberLog::default();
        behind.begin(0);
        behind.page_done(false);
        behind.live(1, p(1));
        let mut tally = Tally::default();
        tally.member(&behind, &acks, 3);
        assert_eq!((tally.lost, tally.missing_committed), (2, 2));
    }
}
