//! The log pipeline's stages: sources, framing, parsing, the canonical record and the
//! normalize stage that turns raw lines into records.

pub mod civil;
pub mod frame;
pub mod json_out;
pub mod kubernetes;
pub mod level;
pub mod normalize;
pub mod parse;
pub mod pipeline;
pub mod record;
pub mod redact;
pub mod sanitize;
pub mod source;
pub mod timestamp;
pub mod value;
