//! The pipeline's plumbing: the events that flow between stages and the acknowledgement path
//! that flows back. Stages are joined by bounded `tokio::sync::mpsc` channels, so a slow sink
//! slows its sources down instead of growing memory.

pub mod ack;
pub mod event;

pub use ack::{Ack, AckReceiver, AckToken, Acker, BatchStatus, Delivery};
pub use event::{EncodedRecords, LineBatch, Origin, RawLine, ReadPosition, RecordBatch};
