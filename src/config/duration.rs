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

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|error| {
                serde::de::Error::custom(format!(
                    "invalid duration `{text}`: {error} (examples: `500ms`, `10s`, `1m30s`)"
                ))
            })
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
}
