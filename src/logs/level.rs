//! The canonical severity levels and the many ways services spell them.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
    Unknown,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
            Level::Unknown => "unknown",
        }
    }

    /// A level name in any common spelling and case (`WARNING`, `Err`, `crit`, `I`…).
    pub fn from_name(name: &str) -> Option<Level> {
        let name = name.trim();
        if name.len() > 16 {
            return None;
        }
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "trace" | "trc" | "finest" | "finer" | "t" => Level::Trace,
            "debug" | "dbg" | "fine" | "config" | "d" => Level::Debug,
            "info" | "inf" | "information" | "informational" | "notice" | "i" => Level::Info,
            "warn" | "warning" | "wrn" | "w" => Level::Warn,
            "error" | "err" | "eror" | "severe" | "e" => Level::Error,
            "fatal" | "critical" | "crit" | "panic" | "dpanic" | "emerg" | "emergency"
            | "alert" | "f" | "c" => Level::Fatal,
            _ => return None,
        })
    }

    /// pino/bunyan numeric levels (10 trace … 60 fatal).
    pub fn from_pino(number: i64) -> Option<Level> {
        Some(match number {
            10 => Level::Trace,
            20 => Level::Debug,
            30 => Level::Info,
            40 => Level::Warn,
            50 => Level::Error,
            60 => Level::Fatal,
            _ => return None,
        })
    }

    /// Syslog severities (0 emergency … 7 debug).
    pub fn from_syslog_severity(severity: i64) -> Option<Level> {
        Some(match severity {
            0..=2 => Level::Fatal,
            3 => Level::Error,
            4 => Level::Warn,
            5 | 6 => Level::Info,
            7 => Level::Debug,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_map_to_one_level() {
        for (name, level) in [
            ("WARNING", Level::Warn),
            ("Err", Level::Error),
            ("crit", Level::Fatal),
            ("notice", Level::Info),
            (" debug ", Level::Debug),
        ] {
            assert_eq!(Level::from_name(name), Some(level), "{name}");
        }
        assert_eq!(Level::from_name("verbose-ish"), None);
        assert_eq!(Level::from_pino(50), Some(Level::Error));
        assert_eq!(Level::from_syslog_severity(4), Some(Level::Warn));
        assert_eq!(Level::from_syslog_severity(9), None);
    }
}
