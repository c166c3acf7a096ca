//! One module per subcommand: its arguments (clap) and what it does. `cli` only dispatches.

/// Exit codes: 0 success, 1 runtime failure, 2 invalid configuration or usage.
pub const EXIT_FAILURE: u8 = 1;
pub const EXIT_INVALID: u8 = 2;

/// A domain enum from the name configuration files use for it (`json`, `cri`, `java`…), for
/// clap: the domain types know serde, not the command line.
pub fn enum_value<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    use serde::de::IntoDeserializer;
    T::deserialize(text.into_deserializer())
        .map_err(|error: serde::de::value::Error| error.to_string())
}

pub mod check_config;
pub mod check_metrics;
pub mod detect;
pub mod inject;
pub mod keys;
pub mod parse;
pub mod run;
pub mod token;
