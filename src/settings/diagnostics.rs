//! Configuration errors a person can act on: which file, where (line and column), which
//! field (dotted path), what was wrong, and a "did you mean" when a name is close to a known one.

use std::fmt;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Dotted path of the field (`sinks.out.inputs[0]`), or the offending text for
    /// problems found before the YAML is parsed.
    pub path: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    pub fn at(path: String, line: u64, column: u64, message: impl Into<String>) -> Self {
        Self {
            path,
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }
}

/// Every problem found in one configuration file. `Display` prints one line per problem,
/// `error: FILE:LINE:COLUMN: PATH: MESSAGE`, which editors and CI logs turn into links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, d) in self.diagnostics.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {}", self.file)?;
            if let (Some(line), Some(column)) = (d.line, d.column) {
                write!(f, ":{line}:{column}")?;
            }
            if d.path.is_empty() {
                write!(f, ": {}", d.message)?;
            } else {
                write!(f, ": {}: {}", d.path, d.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The known name closest to `input`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(input, candidate), candidate))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// Rewrites serde's "unknown field/variant" messages into ones with a suggestion:
/// ``unknown field `incldue`, expected one of `type`, `include` `` becomes
/// ``unknown field `incldue`; did you mean `include`? (expected one of: type, include)``.
pub fn explain_serde_message(message: &str) -> String {
    // serde-saphyr names YAML events; say what the user must write instead.
    for (event, wanted) in [
        (
            "expected mapping start",
            "expected a mapping (`key: value` lines) here",
        ),
        (
            "expected sequence start",
            "expected a list (`- item` lines or `[a, b]`) here",
        ),
    ] {
        if message == event {
            return wanted.to_owned();
        }
    }
    if message.starts_with("budget breached: Depth") || message == "recursion limit exceeded" {
        return "nested too deep (more than 24 levels, where no setting goes past ten): is an indentation or a bracket wrong?".to_owned();
    }
    for kind in ["unknown field", "unknown variant"] {
        let Some(rest) = message.strip_prefix(&format!("{kind} `")) else {
            continue;
        };
        let Some((name, expected)) = rest.split_once('`') else {
            continue;
        };
        let candidates = expected_names(expected);
        let known = if candidates.is_empty() {
            "nothing is expected here".to_owned()
        } else {
            format!("expected one of: {}", candidates.join(", "))
        };
        return match did_you_mean(name, candidates.iter().copied()) {
            Some(suggestion) => format!("{kind} `{name}`; did you mean `{suggestion}`? ({known})"),
            None => format!("{kind} `{name}` ({known})"),
        };
    }
    message.to_owned()
}

/// The names listed after "expected" in serde's wording (`` `a`, `b` ``) or serde-saphyr's
/// (`one of a, b`).
fn expected_names(expected: &str) -> Vec<&str> {
    if expected.contains('`') {
        return expected.split('`').skip(1).step_by(2).collect();
    }
    match expected.split_once("expected") {
        Some((_, list)) => {
            let list = list.trim_start().strip_prefix("one of").unwrap_or(list);
            list.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect()
        }
        None => Vec::new(),
    }
}

/// The name in an "unknown field `x`" message, so its location can be looked up.
pub fn unknown_field_name(message: &str) -> Option<&str> {
    message
        .strip_prefix("unknown field `")?
        .split_once('`')
        .map(|(name, _)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_closest_known_name() {
        assert_eq!(
            did_you_mean("incldue", ["type", "include", "exclude"]),
            Some("include")
        );
        assert_eq!(did_you_mean("consol", ["console", "loki"]), Some("console"));
        assert_eq!(did_you_mean("zzz", ["console", "loki"]), None);
    }

    #[test]
    fn rewrites_unknown_field_messages() {
        assert_eq!(
            explain_serde_message("unknown field `grace_periode`, expected `grace_period`"),
            "unknown field `grace_periode`; did you mean `grace_period`? (expected one of: grace_period)"
        );
        assert_eq!(
            explain_serde_message("unknown variant `kafka`, expected one of `stdin`, `file`"),
            "unknown variant `kafka` (expected one of: stdin, file)"
        );
        assert_eq!(
            explain_serde_message("unknown field `x`, there are no fields"),
            "unknown field `x` (nothing is expected here)"
        );
        assert_eq!(
            explain_serde_message("unknown field `lisen`, expected one of listen, port"),
            "unknown field `lisen`; did you mean `listen`? (expected one of: listen, port)"
        );
        assert_eq!(explain_serde_message("invalid type"), "invalid type");
    }

    #[test]
    fn renders_one_line_per_problem() {
        let error = ConfigError {
            file: "vigia.yaml".to_owned(),
            diagnostics: vec![
                Diagnostic::at("admin.listen".to_owned(), 3, 11, "bad address"),
                Diagnostic::new("", "no sources"),
            ],
        };
        assert_eq!(
            error.to_string(),
            "error: vigia.yaml:3:11: admin.listen: bad address\nerror: vigia.yaml: no sources"
        );
    }
}
