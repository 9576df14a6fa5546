//! Per room, per receiving connection: which `seq` numbers arrived, to count lost,
//! duplicated and out-of-order deliveries.

use std::collections::BTreeSet;

/// Most gaps remembered for one room on one connection; past that a gap is counted lost.
const MAX_GAPS: usize = 100_000;

/// What one connection saw of one room.
#[derive(Debug, Default)]
pub struct SeqTracker {
    /// Highest `seq` received.
    high: u64,
    /// Seqs below `high` not received yet.
    gaps: BTreeSet<u64>,
    /// Gaps that did not fit in `gaps`.
    forgotten: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
}

impl SeqTracker {
    /// Records a delivery. The room is fresh when the run starts, so seq 1 comes first.
    pub fn saw(&mut self, seq: u64) {
        if seq == self.high + 1 {
            self.high = seq;
        } else if seq > self.high {
            for missing in self.high + 1..seq {
                if self.gaps.len() < MAX_GAPS {
                    self.gaps.insert(missing);
                } else {
                    self.forgotten += 1;
                }
            }
            self.high = seq;
        } else if self.gaps.remove(&seq) {
            self.out_of_order += 1;
        } else {
            self.duplicated += 1;
        }
    }

    /// Messages never received, given the room's last committed seq.
    pub fn lost(&self, last_seq: u64) -> u64 {
        self.gaps.len() as u64 + self.forgotten + last_seq.saturating_sub(self.high)
    }
}

#[cfg(test)]
mod tests {
    use super::SeqTracker;

    #[test]
    fn counts_gaps_duplicates_and_reordering() {
        let mut tracker = SeqTracker::default();
        for seq in [1, 2, 4, 3, 3, 6] {
            tracker.saw(seq);
        }
        assert_eq!(tracker.out_of_order, 1);
        assert_eq!(tracker.duplicated, 1);
        assert_eq!(tracker.lost(7), 2); // 5 and 7
    }
}
