//! Any lines through every log parser and the auto-detecting normalizer with the default
//! redaction rules: one valid JSON record per line, never a panic.
//! The body lives in `vigia::fuzzing`, so the test suite replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vigia::fuzzing::normalize(data));
