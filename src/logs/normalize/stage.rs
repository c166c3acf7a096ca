//! The normalize stage: raw lines in, canonical records out, fanned out to every sink that
//! takes this source. Each sink gets its own ack token, so the batch counts as delivered
//! only when all of them have written it.

use super::Normalizer;
use crate::logs::pipeline::{Delivery, EncodedRecords, LineBatch, RecordBatch};
use prometheus::IntCounter;
use std::sync::Arc;
use tokio::sync::mpsc;

pub async fn run(
    mut input: mpsc::Receiver<LineBatch>,
    outputs: Vec<mpsc::Sender<RecordBatch>>,
    mut normalizer: Normalizer,
    invalid_utf8: IntCounter,
) {
    while let Some(batch) = input.recv().await {
        let bytes: usize = batch.lines.iter().map(|l| l.bytes.len() + 160).sum();
        let mut records = EncodedRecords::with_capacity(batch.lines.len(), bytes);
        let mut invalid = 0;
        for line in &batch.lines {
            records.push_with(|out| {
                let meta = normalizer.normalize_into(line, &batch.origin, out);
                invalid += usize::from(meta.invalid_utf8);
                meta
            });
        }
        if invalid > 0 {
            invalid_utf8.inc_by(invalid as u64);
        }
        let records = Arc::new(records);
        for output in &outputs {
            let forwarded = RecordBatch {
                origin: batch.origin.clone(),
                records: records.clone(),
                ack: batch.ack.fork(),
                position: batch.position.clone(),
            };
            // A sink that is gone drops its token unresolved: the batch is failed, not lost
            // silently.
            let _ = output.send(forwarded).await;
        }
        // Our own share: the forks above carry the delivery outcome.
        batch.ack.resolve(Delivery::Delivered);
    }
}
