//! Common and Combined Log Format (Apache, nginx):
//! `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://ref/" "curl/8.5"`
//! followed, optionally, by request-time extensions: a float of seconds (nginx
//! `$request_time`), an integer of microseconds (Apache `%D`), or `key=value` pairs
//! (`rt=0.012 uct="0.001"`, upstream times).

use super::{Parsed, logfmt};
use crate::logs::level::Level;
use crate::logs::record::Http;
use crate::logs::timestamp;
use crate::logs::value::{Field, FieldValue};
use nom::IResult;
use nom::Parser;
use nom::character::complete::{char, space1};
use nom::sequence::delimited;

/// Up to the next space (found with `memchr`, not char by char).
fn token(input: &str) -> IResult<&str, &str> {
    let end = memchr::memchr(b' ', input.as_bytes()).unwrap_or(input.len());
    if end == 0 {
        return Err(nom::Err::Error(nom::error::Error::new(
            input,
            nom::error::ErrorKind::TakeTill1,
        )));
    }
    Ok((&input[end..], &input[..end]))
}

/// The inside of a quoted field, raw: `\"` does not end it.
fn quoted_inner(input: &str) -> IResult<&str, &str> {
    let bytes = input.as_bytes();
    let mut at = 0;
    while let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[at..]) {
        let index = at + found;
        if bytes[index] == b'"' {
            return Ok((&input[index..], &input[..index]));
        }
        // An escape: skip the backslash and the byte it escapes (ASCII in practice; a
        // multi-byte character's continuation bytes are never `"` or `\`).
        at = (index + 2).min(bytes.len());
    }
    Err(nom::Err::Error(nom::error::Error::new(
        input,
        nom::error::ErrorKind::Escaped,
    )))
}

fn quoted(input: &str) -> IResult<&str, &str> {
    delimited(char('"'), quoted_inner, char('"')).parse(input)
}

fn bracketed_time(input: &str) -> IResult<&str, i64> {
    delimited(char('['), timestamp::clf_prefix, char(']')).parse(input)
}

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    let text = text.trim_end();
    let (rest, (client, _, _ident, _, user, _, ts, _, request, _, status, _, bytes)) = (
        token,
        space1,
        token,
        space1,
        token,
        space1,
        bracketed_time,
        space1,
        quoted,
        space1,
        token,
        space1,
        token,
    )
        .parse(text)
        .ok()?;
    let status: u16 = status.parse().ok().filter(|s| (100..600).contains(s))?;
    let mut http = Http {
        client: Some(client.into()),
        status: Some(status),
        bytes: bytes.parse().ok(),
        ..Http::default()
    };
    let mut parts = request.splitn(3, ' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(method), Some(path), protocol) if !method.is_empty() => {
            http.method = Some(method.into());
            http.path = Some(path.into());
            http.protocol = protocol.map(Into::into);
        }
        // `"-"` for a request that never came (a 400 on a bad connection).
        _ => {}
    }
    let mut fields = Vec::new();
    if user != "-" {
        fields.push(("user".into(), FieldValue::from(user)));
    }
    let mut rest = rest.trim_start();
    if let Ok((after, (referer, _, agent))) = (quoted, space1, quoted).parse(rest) {
        http.referer = (referer != "-").then_some(referer.into());
        http.user_agent = (agent != "-").then_some(agent.into());
        rest = after.trim_start();
    }
    extensions(rest, &mut http, &mut fields);
    let level = match status {
        500.. => Level::Error,
        400..=499 => Level::Warn,
        _ => Level::Info,
    };
    let msg = match http.method.is_some() && http.path.is_some() {
        true => request_summary(&http).unwrap_or_default(),
        false => format!("{request} {status}"),
    };
    Some(Parsed {
        ts: Some(ts),
        level: Some(level),
        msg: Some(msg.into()),
        fields,
        http: Some(http),
        ..Parsed::default()
    })
}

/// What follows the standard fields: request times and `key=value` extras.
fn extensions<'a>(rest: &'a str, http: &mut Http<'a>, fields: &mut Vec<Field<'a>>) {
    if rest.is_empty() {
        return;
    }
    // Most extensions are a bare request time: no `key=value` to look for.
    let has_pairs = memchr::memchr(b'=', rest.as_bytes()).is_some();
    if let Some(pairs) = has_pairs
        .then(|| logfmt::pairs(rest).or_else(|| single_pair(rest)))
        .flatten()
    {
        for (key, value) in pairs {
            let is_time = matches!(key.as_ref(), "rt" | "request_time" | "duration" | "rt_s");
            match (is_time, super::fields::duration_seconds(&value, 1.0)) {
                (true, Some(seconds)) if http.duration.is_none() => http.duration = Some(seconds),
                _ => fields.push((key, value)),
            }
        }
        return;
    }
    let mut tokens = rest.split_whitespace();
    if let Some(first) = tokens.next() {
        let first = first.trim_matches('"');
        if first.contains('.') {
            http.duration = first
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0);
        } else if let Ok(micros) = first.parse::<u64>() {
            http.duration = Some(micros as f64 / 1e6);
        }
    }
    let others: Vec<&str> = tokens.collect();
    if !others.is_empty() {
        fields.push(("extra".into(), FieldValue::from(others.join(" "))));
    }
}

fn single_pair(text: &str) -> Option<Vec<Field<'_>>> {
    let (key, value) = text.trim().split_once('=')?;
    (!key.is_empty() && !key.contains(' ') && !value.contains(' '))
        .then(|| vec![(key.into(), FieldValue::from(value.trim_matches('"')))])
}

/// `GET /path 200` (what of it is known): the message of a request log that has none.
pub fn request_summary(http: &Http<'_>) -> Option<String> {
    let mut status = itoa::Buffer::new();
    let status = http.status.map(|s| status.format(s));
    let parts = [http.method.as_deref(), http.path.as_deref(), status];
    let mut msg = String::with_capacity(parts.iter().flatten().map(|p| p.len() + 1).sum());
    for part in parts.into_iter().flatten() {
        if !msg.is_empty() {
            msg.push(' ');
        }
        msg.push_str(part);
    }
    (!msg.is_empty()).then_some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_with_nginx_request_time() {
        let line = r#"203.0.113.7 - - [01/May/2024:10:00:00 +0000] "POST /api/v1/orders?coupon=SPRING HTTP/1.1" 201 512 "https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64)" 0.123"#;
        let parsed = parse(line).unwrap();
        let http = parsed.http.unwrap();
        assert_eq!(http.method.as_deref(), Some("POST"));
        assert_eq!(http.path.as_deref(), Some("/api/v1/orders?coupon=SPRING"));
        assert_eq!(http.protocol.as_deref(), Some("HTTP/1.1"));
        assert_eq!(
            (http.status, http.bytes, http.duration),
            (Some(201), Some(512), Some(0.123))
        );
        assert_eq!(http.referer.as_deref(), Some("https://shop.example/cart"));
        assert_eq!(parsed.ts, Some(1_714_557_600_000_000_000));
        assert_eq!(
            parsed.msg.as_deref(),
            Some("POST /api/v1/orders?coupon=SPRING 201")
        );
    }

    #[test]
    fn common_with_apache_microseconds_and_key_value_times() {
        let apache = r#"10.0.0.1 - alice [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 503 - 250000"#;
        let parsed = parse(apache).unwrap();
        let http = parsed.http.unwrap();
        assert_eq!(
            (http.status, http.bytes, http.duration),
            (Some(503), None, Some(0.25))
        );
        assert_eq!(parsed.level, Some(Level::Error));
        assert_eq!(
            parsed.fields,
            vec![("user".into(), FieldValue::from("alice"))]
        );

        let nginx = r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 10 "-" "-" rt=0.004 uct="0.001" urt="0.003""#;
        let parsed = parse(nginx).unwrap();
        let http = parsed.http.unwrap();
        assert_eq!(http.duration, Some(0.004));
        assert_eq!(http.referer, None);
        assert_eq!(parsed.fields.len(), 2);
    }

    #[test]
    fn other_lines_are_not_access_logs() {
        for text in [
            "GET / 200",
            r#"10.0.0.1 - - [not a date] "GET / HTTP/1.1" 200 10"#,
            r#"10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 999 10"#,
            "",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }
}
