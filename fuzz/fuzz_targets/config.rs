//! Any configuration text, interpolated from an environment where every variable is set to
//! a slice of the input: loading gives a configuration or located diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let value: String = text.chars().rev().take(16).collect();
    let _ = vigia::config::load_str("fuzz.yaml", text, |_| Some(value.clone()));
});
