//! Any body, as text 0.0.4 and as OpenMetrics: the line parser and the family collector
//! (what a scrape runs) return an error or families, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vigia::metrics::exposition::Format;
use vigia::metrics::exposition::family::families_of;
use vigia::metrics::exposition::parser::parse_body;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    for format in [Format::Text, Format::OpenMetrics] {
        let _ = parse_body(body, format, |_, _, _| {});
        let _ = families_of(body, format);
    }
});
