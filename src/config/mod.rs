//! Configuration: YAML text → `${VAR}` interpolation → [`ConfigFile`] (serde, documented
//! defaults) → [`validate`] → [`Config`]. Errors at every stage carry the file, the field
//! path and, where known, the line and column.

pub mod interpolate;
pub mod located;
pub mod raw;
pub mod slo;
pub mod validate;

// The leaf types every component's configuration uses live in `settings`; here they are
// what the file is made of.
pub use crate::settings::{bytesize, diagnostics, duration};
pub use diagnostics::{ConfigError, Diagnostic};
pub use raw::ConfigFile;
pub use validate::{Config, SinkConfig, SourceConfig};

use located::Locations;
use std::path::Path;

/// A configuration as written (with defaults filled in) and as validated.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub file: ConfigFile,
    pub config: Config,
}

impl LoadedConfig {
    /// The resolved configuration as YAML: what `check-config` prints.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(&self.file).unwrap_or_else(|error| format!("# {error}\n"))
    }
}

/// The YAML of the embedded default: stdin → console, RED metrics from access logs on
/// /metrics, admin on loopback only (it runs on a developer's machine, where 0.0.0.0 would
/// expose the agent to the network).
pub const EMBEDDED_DEFAULT_YAML: &str = "\
data_dir: ./data
admin:
  listen: 127.0.0.1:9100
metrics:
  from_logs: {}
sources:
  stdin:
    type: stdin
sinks:
  console:
    type: console
";

/// The configuration `vigia run` uses when no `--config` is given.
pub fn embedded_default() -> LoadedConfig {
    load_str("<embedded default>", EMBEDDED_DEFAULT_YAML, |_| None)
        .expect("the embedded default configuration is valid")
}

/// Reads, interpolates from the process environment, parses and validates a file.
pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError {
        file: name.clone(),
        diagnostics: vec![Diagnostic::new(
            "",
            format!("cannot read the file: {error}"),
        )],
    })?;
    load_str(&name, &text, |var| std::env::var(var).ok())
}

/// Interpolates `text` with `env`, then parses and validates it. `name` names the file in errors.
pub fn load_str(
    name: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let fail = |diagnostics| ConfigError {
        file: name.to_owned(),
        diagnostics,
    };
    let text = interpolate::interpolate(text, env).map_err(fail)?;
    let file = parse(&text).map_err(|d| fail(vec![d]))?;
    match validate::validate(&file) {
        Ok(config) => Ok(LoadedConfig { file, config }),
        Err(mut problems) => {
            let locations = Locations::of_yaml(&text);
            for problem in &mut problems {
                if let Some((line, column)) = locations.find(&problem.path) {
                    problem.line = Some(line);
                    problem.column = Some(column);
                }
            }
            problems.sort_by_key(|p| (p.line.is_none(), p.line, p.column));
            Err(fail(problems))
        }
    }
}

/// How deep a configuration may nest. The deepest real one (a sink's labels, a relabel rule)
/// is under ten; every level costs the YAML deserializer a score of stack frames, so a
/// document of `[[[[…` must be refused long before it can take the stack (the fuzzer found
/// one that did, at 64 levels, on a 2 MiB thread in a debug build).
pub const MAX_YAML_DEPTH: usize = 24; // named in settings::diagnostics

/// The YAML options every configuration read uses: the library's budget, shallower.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_YAML_DEPTH;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options
}

fn parse(text: &str) -> Result<ConfigFile, Diagnostic> {
    let mut failed_path = String::new();
    let parsed = serde_saphyr::with_deserializer_from_str_with_options(
        text,
        yaml_options(),
        |deserializer| {
            serde_path_to_error::deserialize(deserializer).map_err(|error| {
                failed_path = error.path().to_string();
                error.into_inner()
            })
        },
    );
    parsed.map_err(|error| {
        if is_blank_yaml(text) {
            return Diagnostic::new(
                "",
                "the file has no settings: `sources` and `sinks` are required (see examples/)",
            );
        }
        // serde_path_to_error writes `?` for a segment it could not name (syntax errors).
        let mut path = failed_path
            .split('.')
            .filter(|segment| !segment.is_empty() && *segment != "?")
            .collect::<Vec<_>>()
            .join(".");
        let error = error.without_snippet();
        let raw_message = bare_message(error);
        // serde reports an unknown key at its parent; point at the key itself.
        if let Some(field) = diagnostics::unknown_field_name(&raw_message)
            && !path.ends_with(field)
        {
            path = if path.is_empty() {
                field.to_owned()
            } else {
                format!("{path}.{field}")
            };
        }
        let message = diagnostics::explain_serde_message(&raw_message);
        let reported = error
            .location()
            .filter(|l| l.line() > 0)
            .map(|l| (l.line(), l.column()));
        // An unknown key is best shown at the key; anything else where the parser stopped.
        let location = if diagnostics::unknown_field_name(&raw_message).is_some() {
            Locations::of_yaml(text).find_exact(&path).or(reported)
        } else {
            reported.or_else(|| Locations::of_yaml(text).find(&path))
        };
        match location {
            Some((line, column)) => Diagnostic::at(path, line, column, message),
            None => Diagnostic::new(path, message),
        }
    })
}

fn is_blank_yaml(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---"
    })
}

/// serde-saphyr's message without its own "at line X column Y" suffix (we print the location
/// in our own format, once).
fn bare_message(error: &serde_saphyr::Error) -> String {
    let text = error.to_string();
    let text = text.lines().next().unwrap_or_default().trim();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text.to_owned(),
    }
}
