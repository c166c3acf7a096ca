//! klog / glog (Kubernetes components): `I0501 10:00:01.100000    1 main.go:42] message`, and
//! klog's structured form `… main.go:42] "message" key="value" key2=2`.

use super::{Parsed, logfmt};
use crate::logs::level::Level;
use crate::logs::record::Text;
use crate::logs::timestamp;
use crate::logs::value::{Field, FieldValue};

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    let bytes = text.as_bytes();
    let level = match bytes.first()? {
        b'I' => Level::Info,
        b'W' => Level::Warn,
        b'E' => Level::Error,
        b'F' => Level::Fatal,
        _ => return None,
    };
    let month: u32 = text.get(1..3)?.parse().ok()?;
    let day: u32 = text.get(3..5)?.parse().ok()?;
    let rest = text.get(5..)?.strip_prefix(' ')?;
    let (clock, rest) = rest.split_once(' ')?;
    let ts = timestamp::klog_time(month, day, clock, timestamp::now())?;
    let rest = rest.trim_start();
    let (thread, rest) = rest.split_once(' ')?;
    if !thread.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (caller, message) = rest
        .split_once("] ")
        .or_else(|| rest.strip_suffix(']').map(|c| (c, "")))?;
    let mut parsed = Parsed {
        ts: Some(ts),
        level: Some(level),
        caller: Some(caller.into()),
        fields: vec![(
            "thread".into(),
            FieldValue::from(thread.parse::<u64>().unwrap_or(0)),
        )],
        ..Parsed::default()
    };
    match structured(message) {
        Some((msg, pairs)) => {
            parsed.msg = Some(msg);
            parsed.fields.extend(pairs);
        }
        None => parsed.msg = Some(message.into()),
    }
    Some(parsed)
}

/// `"message" key=value …` (klog structured logging).
fn structured(message: &str) -> Option<(Text<'_>, Vec<Field<'_>>)> {
    let rest = message.strip_prefix('"')?;
    let mut escaped = false;
    let end = rest.char_indices().find_map(|(index, c)| {
        let found = c == '"' && !escaped;
        escaped = c == '\\' && !escaped;
        found.then_some(index)
    })?;
    let quoted = &rest[..end];
    let msg = match quoted.contains('\\') {
        false => Text::Borrowed(quoted),
        true => Text::Owned(serde_json::from_str(&format!("\"{quoted}\"")).ok()?),
    };
    let tail = rest[end + 1..].trim();
    if tail.is_empty() {
        return Some((msg, Vec::new()));
    }
    let pairs = logfmt::pairs(tail).or_else(|| {
        let (k, v) = tail.split_once('=')?;
        Some(vec![(k.into(), FieldValue::from(v.trim_matches('"')))])
    })?;
    Some((msg, pairs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn classic_and_structured() {
        let parsed = parse("E0501 10:00:01.100000       1 reflector.go:138] failed to list *v1.Pod: connection refused").unwrap();
        assert_eq!(parsed.level, Some(Level::Error));
        assert_eq!(parsed.caller.as_deref(), Some("reflector.go:138"));
        assert_eq!(
            parsed.msg.as_deref(),
            Some("failed to list *v1.Pod: connection refused")
        );
        let parsed = parse(r#"I0501 10:00:02.000000    4242 kubelet.go:2410] "SyncLoop ADD" source="api" pods=["shop/checkout-7d9f"]"#).unwrap();
        assert_eq!(parsed.msg.as_deref(), Some("SyncLoop ADD"));
        assert_eq!(parsed.fields_json()[1], ("source".to_owned(), json!("api")));
    }

    #[test]
    fn other_lines_are_not_klog() {
        for text in [
            "INFO hello",
            "I0501",
            "E1340 10:00:01 1 x.go:1] bad date",
            "Iabcd 10:00:01 1 x.go:1] x",
            "",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
