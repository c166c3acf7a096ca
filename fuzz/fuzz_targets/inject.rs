//! Any manifest stream to `vigia inject` and `--uninject`: a clear error or a result, never a
//! panic; and injecting what it wrote gives the same bytes.
//! The body lives in `vigia::fuzzing`, so the test suite replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vigia::fuzzing::inject(data));
