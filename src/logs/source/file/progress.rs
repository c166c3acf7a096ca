//! Per file: which batches are in flight and how far the checkpoint may move.
//!
//! Each batch carries the offset up to which everything is in that batch or an earlier one (its
//! "safe" offset). Acks may arrive in any order; the committed offset moves only across a
//! prefix of batches that are all finished (delivered, or rejected for good). A failed batch
//! stops it: those lines will be read again after a restart.

use crate::logs::pipeline::BatchStatus;
use std::collections::VecDeque;

#[derive(Debug, Default)]
pub struct Progress {
    in_flight: VecDeque<InFlight>,
    committed: u64,
}

#[derive(Debug)]
struct InFlight {
    batch: u64,
    safe_offset: u64,
    status: Option<BatchStatus>,
}

impl Progress {
    pub fn starting_at(offset: u64) -> Self {
        Self {
            in_flight: VecDeque::new(),
            committed: offset,
        }
    }

    /// The offset after the last line whose delivery is finished, with all before it.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    pub fn sent(&mut self, batch: u64, safe_offset: u64) {
        self.in_flight.push_back(InFlight {
            batch,
            safe_offset,
            status: None,
        });
    }

    /// Records an ack; returns whether the committed offset moved.
    pub fn acknowledged(&mut self, batch: u64, status: BatchStatus) -> bool {
        if let Some(entry) = self.in_flight.iter_mut().find(|e| e.batch == batch) {
            entry.status = Some(status);
        }
        let before = self.committed;
        while let Some(front) = self.in_flight.front() {
            match front.status {
                Some(BatchStatus::Delivered | BatchStatus::Rejected) => {
                    self.committed = self.committed.max(front.safe_offset);
                    self.in_flight.pop_front();
                }
                Some(BatchStatus::Failed) | None => break,
            }
        }
        self.committed != before
    }

    /// The file was truncated: what was in flight belongs to content that is gone.
    pub fn reset(&mut self) {
        self.in_flight.clear();
        self.committed = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_only_across_a_finished_prefix() {
        let mut progress = Progress::starting_at(10);
        progress.sent(1, 100);
        progress.sent(2, 200);
        progress.sent(3, 300);
        assert!(!progress.acknowledged(2, BatchStatus::Delivered));
        assert_eq!(progress.committed(), 10);
        assert!(progress.acknowledged(1, BatchStatus::Delivered));
        assert_eq!(progress.committed(), 200);
        assert!(progress.acknowledged(3, BatchStatus::Rejected));
        assert_eq!(progress.committed(), 300);
        assert_eq!(progress.in_flight(), 0);
    }

    #[test]
    fn a_failed_batch_holds_the_checkpoint() {
        let mut progress = Progress::starting_at(0);
        progress.sent(1, 100);
        progress.sent(2, 200);
        progress.acknowledged(1, BatchStatus::Failed);
        progress.acknowledged(2, BatchStatus::Delivered);
        assert_eq!(progress.committed(), 0);
    }

    #[test]
    fn acks_for_batches_from_before_a_truncation_are_ignored() {
        let mut progress = Progress::starting_at(0);
        progress.sent(1, 5000);
        progress.reset();
        assert!(!progress.acknowledged(1, BatchStatus::Delivered));
        assert_eq!(progress.committed(), 0);
    }
}
