//! Parsing: one raw line in, one canonical [`Record`] out. Total over arbitrary bytes:
//! nothing here panics or fails; a line nothing recognizes is plain text.

pub mod json;
pub mod plain;

use super::record::{Record, SourceInfo, TsOrigin};
use crate::pipeline::{Origin, RawLine};
use std::borrow::Cow;

/// Builds the canonical record for one line.
pub fn parse_line(line: &RawLine, origin: &Origin) -> Record {
    let text = String::from_utf8_lossy(&line.bytes);
    let invalid_utf8 = matches!(text, Cow::Owned(_));
    let source = SourceInfo {
        format: plain::FORMAT,
        ts_origin: TsOrigin::Read,
        stream: line.stream,
        file: origin.file.clone(),
        kubernetes: origin.kubernetes.clone(),
        truncated: line.truncated,
        invalid_utf8,
    };
    // Without a time of its own, an event takes the container runtime's, else the read time.
    let (fallback_ts, fallback_origin) = match line.container_time_ns {
        Some(ts) => (ts, TsOrigin::Container),
        None => (line.read_time_ns, TsOrigin::Read),
    };
    let mut record = json::parse(&text, fallback_ts, source.clone())
        .unwrap_or_else(|| plain::parse(&text, fallback_ts, source));
    if record.source.ts_origin == TsOrigin::Read {
        record.source.ts_origin = fallback_origin;
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::level::Level;
    use proptest::prelude::*;
    use std::sync::Arc;

    fn origin() -> Origin {
        Origin {
            source_id: Arc::from("app"),
            file: None,
            kubernetes: None,
        }
    }

    fn raw(bytes: &[u8]) -> RawLine {
        RawLine {
            bytes: bytes.to_vec(),
            read_time_ns: 1_700_000_000_000_000_000,
            container_time_ns: None,
            stream: None,
            truncated: false,
        }
    }

    #[test]
    fn json_lines_and_plain_lines_both_become_records() {
        let json = parse_line(&raw(br#"{"level":"error","msg":"db down"}"#), &origin());
        assert_eq!((json.level, json.source.format), (Level::Error, "json"));
        let plain = parse_line(&raw(b"WARN disk 91% full"), &origin());
        assert_eq!((plain.level, plain.source.format), (Level::Warn, "plain"));
    }

    #[test]
    fn the_container_time_is_used_when_the_event_has_none() {
        let mut line = raw(b"GET /healthz 200");
        line.container_time_ns = Some(1_714_557_600_000_000_000);
        let record = parse_line(&line, &origin());
        assert_eq!(record.ts, 1_714_557_600_000_000_000);
        assert_eq!(record.source.ts_origin, TsOrigin::Container);
        let mut line = raw(br#"{"time":"2024-05-01T10:00:05Z","msg":"own time wins"}"#);
        line.container_time_ns = Some(1);
        let record = parse_line(&line, &origin());
        assert_eq!(record.ts, 1_714_557_605_000_000_000);
        assert_eq!(record.source.ts_origin, TsOrigin::Event);
    }

    #[test]
    fn invalid_utf8_is_kept_lossily_and_flagged() {
        let record = parse_line(&raw(b"caf\xe9 ok"), &origin());
        assert_eq!(record.msg, "caf\u{fffd} ok");
        assert!(record.source.invalid_utf8);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let record = parse_line(&raw(&bytes), &origin());
            let mut out = Vec::new();
            record.write_json_line(&mut out);
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
        }

        #[test]
        fn never_panics_on_arbitrary_json_objects(key in "[a-z@._]{1,12}", value in any::<f64>(), text in ".{0,40}") {
            let line = serde_json::json!({ key.clone(): value, "time": value, "level": text.clone(), "msg": text }).to_string();
            let _ = parse_line(&raw(line.as_bytes()), &origin());
        }
    }
}
