//! End-to-end acknowledgement: how a source learns that a batch it produced has been
//! delivered, so that checkpoints only move past lines a sink has really written.
//!
//! A source creates one [`AckToken`] per batch with an [`Acker`]. Every stage that holds the
//! batch (or a part of it) holds a token; a sink [`resolve`](AckToken::resolve)s its token once
//! the events are written. When the last token of a batch is gone, the source receives one
//! [`Ack`] with the batch's combined status. A token dropped without being resolved (a sink
//! that crashed, a shutdown that gave up) marks the batch [`BatchStatus::Failed`]: the source
//! must not advance past it, and the lines are read again after a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::sync::mpsc;

/// How a sink finished with its share of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Written and acknowledged by the destination.
    Delivered,
    /// Permanently refused by the destination (e.g. Loki's 400): counted as dropped; the
    /// source may move past it, since retrying would fail the same way.
    Rejected,
}

/// The combined outcome of a whole batch, as the source sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    Delivered,
    /// At least one part was rejected, none failed.
    Rejected,
    /// At least one part was neither delivered nor rejected.
    Failed,
}

impl BatchStatus {
    /// Counts `events` whose delivery finished so in `vigia_source_acknowledged_events_total`.
    pub fn count(self, counters: &crate::telemetry::agent_metrics::SourceCounters, events: u64) {
        match self {
            BatchStatus::Delivered => counters.delivered.inc_by(events),
            BatchStatus::Rejected => counters.rejected.inc_by(events),
            BatchStatus::Failed => counters.failed.inc_by(events),
        }
    }
}

/// What a source receives once a batch is finished with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub batch: u64,
    pub status: BatchStatus,
}

const REJECTED: u8 = 1;
const FAILED: u8 = 2;

struct Shared {
    batch: u64,
    outcome: AtomicU8,
    notify: mpsc::UnboundedSender<Ack>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        let outcome = self.outcome.load(Ordering::Acquire);
        let status = if outcome & FAILED != 0 {
            BatchStatus::Failed
        } else if outcome & REJECTED != 0 {
            BatchStatus::Rejected
        } else {
            BatchStatus::Delivered
        };
        // The source may be gone already (shutdown); nobody is left to tell.
        let _ = self.notify.send(Ack {
            batch: self.batch,
            status,
        });
    }
}

/// One holder's share of a batch's acknowledgement.
pub struct AckToken {
    shared: Option<Arc<Shared>>,
    resolved: bool,
}

impl AckToken {
    /// A token for a batch nobody waits for.
    pub fn untracked() -> Self {
        Self {
            shared: None,
            resolved: true,
        }
    }

    /// Another holder of the same batch (fan-out to several sinks, or a batch split across
    /// requests). The batch is finished only when every holder is.
    pub fn fork(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            resolved: self.shared.is_none(),
        }
    }

    pub fn resolve(mut self, delivery: Delivery) {
        if let (Some(shared), Delivery::Rejected) = (&self.shared, delivery) {
            shared.outcome.fetch_or(REJECTED, Ordering::AcqRel);
        }
        self.resolved = true;
    }
}

impl Drop for AckToken {
    fn drop(&mut self) {
        if let (false, Some(shared)) = (self.resolved, &self.shared) {
            shared.outcome.fetch_or(FAILED, Ordering::AcqRel);
        }
    }
}

impl std::fmt::Debug for AckToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckToken")
            .field("batch", &self.shared.as_ref().map(|s| s.batch))
            .field("resolved", &self.resolved)
            .finish()
    }
}

/// The source's side: numbers batches and hands out their tokens.
pub struct Acker {
    next_batch: u64,
    notify: mpsc::UnboundedSender<Ack>,
}

/// Acks arrive here. Unbounded on purpose: there is at most one ack per batch in flight,
/// and batches in flight are bounded by the pipeline's channels.
pub type AckReceiver = mpsc::UnboundedReceiver<Ack>;

impl Acker {
    pub fn new() -> (Self, AckReceiver) {
        let (notify, receiver) = mpsc::unbounded_channel();
        (
            Self {
                next_batch: 0,
                notify,
            },
            receiver,
        )
    }

    /// The next batch's number and its first token.
    pub fn issue(&mut self) -> (u64, AckToken) {
        let batch = self.next_batch;
        self.next_batch += 1;
        let shared = Arc::new(Shared {
            batch,
            outcome: AtomicU8::new(0),
            notify: self.notify.clone(),
        });
        (
            batch,
            AckToken {
                shared: Some(shared),
                resolved: false,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_acknowledged_once_every_holder_has_resolved() {
        let (mut acker, mut acks) = Acker::new();
        let (batch, first) = acker.issue();
        let second = first.fork();
        first.resolve(Delivery::Delivered);
        assert!(acks.try_recv().is_err(), "one holder is still writing");
        second.resolve(Delivery::Delivered);
        assert_eq!(
            acks.try_recv().unwrap(),
            Ack {
                batch,
                status: BatchStatus::Delivered
            }
        );
    }

    #[test]
    fn a_dropped_token_fails_the_batch_and_failure_outranks_rejection() {
        let (mut acker, mut acks) = Acker::new();
        let (_, token) = acker.issue();
        let rejected = token.fork();
        rejected.resolve(Delivery::Rejected);
        drop(token);
        assert_eq!(acks.try_recv().unwrap().status, BatchStatus::Failed);

        let (_, token) = acker.issue();
        token.resolve(Delivery::Rejected);
        assert_eq!(acks.try_recv().unwrap().status, BatchStatus::Rejected);
    }

    #[test]
    fn batches_are_numbered_in_order_and_untracked_tokens_say_nothing() {
        let (mut acker, mut acks) = Acker::new();
        assert_eq!(acker.issue().0, 0);
        assert_eq!(acker.issue().0, 1);
        while acks.try_recv().is_ok() {}
        AckToken::untracked().fork().resolve(Delivery::Delivered);
        drop(AckToken::untracked());
        assert!(acks.try_recv().is_err());
    }
}
