//! Any configuration text, interpolated from an environment where every variable is set to
//! a slice of the input: loading gives a configuration or located diagnostics, never a panic.
//! The body lives in `vigia::fuzzing`, so the test suite replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vigia::fuzzing::config(data));
