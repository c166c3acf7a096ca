//! Whatever a crash, a full disk or a hostile neighbour leaves in a disk buffer's directory:
//! recovery keeps what is whole and skips the rest, never panics.
//! The body lives in `vigia::fuzzing`, so the test suite replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vigia::fuzzing::disk_buffer(data));
