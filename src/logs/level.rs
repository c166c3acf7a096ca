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
        // Lower-cased on the stack: this runs for nearly every event.
        let mut buffer = [0u8; 16];
        let lower = &mut buffer[..name.len()];
        lower.copy_from_slice(name.as_bytes());
        lower.make_ascii_lowercase();
        Some(match &*lower {
            b"trace" | b"trc" | b"finest" | b"finer" | b"t" => Level::Trace,
            b"debug" | b"dbg" | b"fine" | b"config" | b"d" => Level::Debug,
            b"info" | b"inf" | b"information" | b"informational" | b"notice" | b"i" => Level::Info,
            b"warn" | b"warning" | b"wrn" | b"w" => Level::Warn,
            b"error" | b"err" | b"eror" | b"severe" | b"e" => Level::Error,
            b"fatal" | b"critical" | b"crit" | b"panic" | b"dpanic" | b"emerg" | b"emergency"
            | b"alert" | b"f" | b"c" => Level::Fatal,
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
