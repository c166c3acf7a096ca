//! Any Authorization header value, and any claims signed with a real key: the verifier
//! refuses with a reason or grants, never panics.
//! The body lives in `vigia::fuzzing`, so the test suite replays the corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| vigia::fuzzing::jwt(data));
