//! Any bytes as CRI and Docker container log lines, and through the line splitter cut
//! anywhere: decoded or refused, never a panic.
//! The body lives in `vigia::fuzzing`, so the test suite replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vigia::fuzzing::framing(data));
