//! Durations written the way people write them in YAML: `10s`, `500ms`, `1m30s`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub const fn from_secs(seconds: u64) -> Self {
        Self(Duration::from_secs(seconds))
    }

    pub const fn from_millis(millis: u64) -> Self {
        Self(Duration::from_millis(millis))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The longest duration any setting takes. Every duration is added to an `Instant` somewhere
/// (`Instant + 10000000h` panics); a year is past any sensible timeout or interval.
pub const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parsed = humantime::parse_duration(text.trim()).map_err(|error| {
            serde::de::Error::custom(format!(
                "invalid duration `{text}`: {error} (examples: `500ms`, `10s`, `1m30s`)"
            ))
        })?;
        if parsed > MAX_DURATION {
            return Err(serde::de::Error::custom(format!(
                "duration `{text}` is longer than the most any setting takes ({})",
                humantime::format_duration(MAX_DURATION)
            )));
        }
        Ok(HumanDuration(parsed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_human_durations() {
        let parsed: HumanDuration = serde_json::from_str("\"1m30s\"").unwrap();
        assert_eq!(parsed.0, Duration::from_secs(90));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), "\"1m 30s\"");
        let error = serde_json::from_str::<HumanDuration>("\"ten seconds\"").unwrap_err();
        assert!(error.to_string().contains("invalid duration `ten seconds`"));
    }

    #[test]
    fn a_duration_longer_than_a_year_is_refused_not_a_later_panic() {
        let error = serde_json::from_str::<HumanDuration>("\"10000000h\"").unwrap_err();
        assert!(
            error.to_string().contains("longer than the most"),
            "{error}"
        );
        let year: HumanDuration = serde_json::from_str("\"365d\"").unwrap();
        assert!(std::time::Instant::now().checked_add(year.0).is_some());
    }
}
