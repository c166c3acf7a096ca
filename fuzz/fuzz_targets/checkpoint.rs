//! Any bytes as a file source's checkpoint and its previous generation: loading falls
//! back or resets with a reason, never panics.
//! The body lives in `vigia::fuzzing`, so the test suite replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vigia::fuzzing::checkpoint(data));
