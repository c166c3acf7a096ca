//! Any body, as text 0.0.4 and as OpenMetrics: the line parser and the family collector
//! (what a scrape runs) return an error or families, never panic.
//! The body lives in `vigia::fuzzing`, so the test suite replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vigia::fuzzing::exposition(data));
