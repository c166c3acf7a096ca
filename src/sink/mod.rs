//! Sinks: where records go. A sink acknowledges each batch once it is written.

pub mod console;
pub mod loki;
