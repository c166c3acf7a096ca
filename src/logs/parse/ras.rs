//! Supercomputer RAS logs (IBM Blue Gene/L and /P, as their MMCS writes them and as the public
//! LogHub data keeps them):
//! `- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected`
//!
//! The fields: an alert tag (`-` when none), the Unix time, the date, the node, the local time
//! with microseconds, the node again, `RAS`, the component and the severity. The epoch second
//! is exact (the local time has no zone), so it makes the time, with the local time's
//! microseconds.

use super::Parsed;
use crate::logs::level::Level;
use crate::logs::timestamp::from_epoch_decimal;
use crate::logs::value::FieldValue;

fn severity(name: &str) -> Option<Level> {
    Some(match name {
        "INFO" => Level::Info,
        "WARNING" => Level::Warn,
        "SEVERE" | "ERROR" => Level::Error,
        "FATAL" | "FAILURE" => Level::Fatal,
        _ => return None,
    })
}

pub fn parse(text: &str) -> Option<Parsed<'_>> {
    // The second token is a ten-digit epoch: refused at once otherwise.
    let epoch_start = text.find(' ')? + 1;
    let epoch_digits = text.as_bytes().get(epoch_start..epoch_start + 11)?;
    if !epoch_digits[..10].iter().all(u8::is_ascii_digit) || epoch_digits[10] != b' ' {
        return None;
    }
    let mut parts = text.splitn(10, ' ');
    let mut next = || parts.next();
    let (alert, epoch, _date, node, local, _location, ras, component, level) = (
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
        next()?,
    );
    let message = next().unwrap_or("");
    if ras != "RAS" || epoch.len() != 10 {
        return None;
    }
    let seconds = from_epoch_decimal(epoch)?;
    let level = severity(level)?;
    // `2005-06-03-15.42.50.675872`: the microseconds after the last dot.
    let micros = local
        .rsplit_once('.')
        .filter(|(_, digits)| digits.len() == 6)
        .and_then(|(_, digits)| digits.parse::<i64>().ok())
        .unwrap_or(0);
    let mut fields = vec![("node".into(), FieldValue::from(node))];
    if alert != "-" {
        fields.push(("alert".into(), FieldValue::from(alert)));
    }
    Some(Parsed {
        ts: Some(seconds + micros * 1_000),
        level: Some(level),
        logger: Some(component.into()),
        msg: Some(message.into()),
        fields,
        ..Parsed::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blue_gene_lines() {
        let parsed = parse("- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected").unwrap();
        assert_eq!(parsed.ts, Some(1_117_838_570_675_872_000));
        assert_eq!(parsed.level, Some(Level::Info));
        assert_eq!(parsed.logger.as_deref(), Some("KERNEL"));
        assert_eq!(
            parsed.msg.as_deref(),
            Some("instruction cache parity error corrected")
        );
        let parsed = parse("KERNDTLB 1118536327 2005.06.11 R30-M0-N9-C:J16-U01 2005-06-11-17.32.07.581048 R30-M0-N9-C:J16-U01 RAS KERNEL FATAL data TLB error interrupt").unwrap();
        assert_eq!(parsed.level, Some(Level::Fatal));
        assert_eq!(parsed.fields_json()[1].1, serde_json::json!("KERNDTLB"));
    }

    #[test]
    fn other_text_is_not_ras() {
        for text in [
            "",
            "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 APP KERNEL INFO x",
            "- 1117838570 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL NOTICE x",
            "- abc 2005.06.03 R02 2005-06-03-15.42.50.675872 R02 RAS KERNEL INFO x",
        ] {
            assert!(parse(text).is_none(), "{text:?}");
        }
    }
}
