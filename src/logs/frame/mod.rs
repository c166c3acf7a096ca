//! Framing: from a byte stream to lines (and, in step 2, container-log reassembly).

pub mod lines;

pub use lines::{FramedLine, LineSplitter};
