//! The normalize stage: raw lines in, canonical records out, fanned out to every sink that
//! takes this source. Each sink gets its own ack token, so the batch counts as delivered
//! only when all of them have written it.
//!
//! It runs on the source's own thread (the file source's, or the stdin task), not as a task
//! of its own: a batch is normalized where it was framed, while its lines are still in that
//! core's cache, and is handed to the sinks without a channel hop and a wakeup in between.
//! Room is reserved in every sink's channel first, so a full sink holds the source back
//! (backpressure) before any work is done, and a batch is never half sent.

use super::Normalizer;
use crate::logs::pipeline::{Delivery, EncodedRecords, LineBatch, RecordBatch};
use prometheus::IntCounter;
use std::sync::Arc;
use tokio::sync::mpsc::{self, OwnedPermit, error::TrySendError};

/// Where a source hands its line batches.
pub struct LineOut {
    normalizer: Normalizer,
    outputs: Vec<mpsc::Sender<RecordBatch>>,
    invalid_utf8: IntCounter,
}

/// Room for one batch in every output.
pub struct Room(Vec<OwnedPermit<RecordBatch>>);

/// Every sink that took this source is gone.
#[derive(Debug)]
pub struct Closed;

/// Why there is no room for a batch now.
#[derive(Debug, PartialEq, Eq)]
pub enum NoRoom {
    /// A sink's channel is full: wait ([`LineOut::room`]).
    Full,
    Closed,
}

impl LineOut {
    pub fn new(
        normalizer: Normalizer,
        outputs: Vec<mpsc::Sender<RecordBatch>>,
        invalid_utf8: IntCounter,
    ) -> Self {
        Self {
            normalizer,
            outputs,
            invalid_utf8,
        }
    }

    /// Room in every output now, if there is.
    pub fn try_room(&self) -> Result<Room, NoRoom> {
        let mut permits = Vec::with_capacity(self.outputs.len());
        for output in &self.outputs {
            match output.clone().try_reserve_owned() {
                Ok(permit) => permits.push(permit),
                Err(TrySendError::Full(_)) => return Err(NoRoom::Full),
                Err(TrySendError::Closed(_)) => return Err(NoRoom::Closed),
            }
        }
        Ok(Room(permits))
    }

    /// Waits for room in every output. Cancel-safe: nothing is sent until the room is used.
    pub async fn room(&self) -> Result<Room, Closed> {
        let mut permits = Vec::with_capacity(self.outputs.len());
        for output in &self.outputs {
            permits.push(output.clone().reserve_owned().await.map_err(|_| Closed)?);
        }
        Ok(Room(permits))
    }

    /// Normalizes `batch` and hands it to every output, in the room reserved for it.
    pub fn send_in(&mut self, room: Room, batch: LineBatch) {
        let records = Arc::new(self.normalize(&batch));
        for permit in room.0 {
            permit.send(RecordBatch {
                origin: batch.origin.clone(),
                records: records.clone(),
                ack: batch.ack.fork(),
                position: batch.position.clone(),
            });
        }
        // Our own share: the forks above carry the delivery outcome.
        batch.ack.resolve(Delivery::Delivered);
    }

    /// Waits for room, then sends. When the sinks are gone the batch is dropped with its
    /// token unresolved: it counts as failed (read again after a restart), not as delivered.
    pub async fn send(&mut self, batch: LineBatch) -> Result<(), Closed> {
        let room = self.room().await?;
        self.send_in(room, batch);
        Ok(())
    }

    fn normalize(&mut self, batch: &LineBatch) -> EncodedRecords {
        let bytes: usize = batch.lines.iter().map(|l| l.bytes.len() + 160).sum();
        let mut records = EncodedRecords::with_capacity(batch.lines.len(), bytes);
        let mut invalid = 0;
        for line in &batch.lines {
            records.push_with(|out| {
                let meta = self.normalizer.normalize_into(line, &batch.origin, out);
                invalid += usize::from(meta.invalid_utf8);
                meta
            });
        }
        if invalid > 0 {
            self.invalid_utf8.inc_by(invalid as u64);
        }
        records
    }
}
