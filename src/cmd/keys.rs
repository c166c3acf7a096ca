//! `vigia keys rotate`: keeps the admin API's signing keys (previous, current, next) in a
//! directory and the public set agents verify with in a JWKS file. Run daily (see
//! `examples/kubernetes/admin-auth-rotation.yaml`); a run before the period is up changes
//! nothing.

use super::{EXIT_FAILURE, enum_value};
use crate::admin::auth::keystore::{KeyAlgorithm, KeyStore, RotationPolicy};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the keys on the first run; later, rotate when the period is up: the current key
    /// retires, the next one (published a period ago) signs, a new next one is published, and
    /// retired keys are dropped once no token they signed can still be valid
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The public key set agents read (admin.auth.jwks_file), replaced whole
    #[arg(long, value_name = "FILE")]
    pub jwks: PathBuf,
    /// The directory holding the private keys (keys.json, mode 0600)
    #[arg(long, value_name = "DIR")]
    pub keys: PathBuf,
    /// The rotation period; a run earlier than 90 % of it does not rotate
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub every: Duration,
    /// The agents' admin.auth.max_token_lifetime: a retired key is kept this long plus 60 s
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub max_token_lifetime: Duration,
    /// A next key signs only after it has been published this long (the agents'
    /// reload_interval plus the time a Secret takes to reach the pods)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub min_publish: Duration,
    /// Algorithm of new keys: EdDSA (Ed25519) or ES256 (P-256)
    #[arg(long, default_value = "EdDSA", value_parser = enum_value::<KeyAlgorithm>)]
    pub algorithm: KeyAlgorithm,
    /// Rotate now even if the period is not up (min-publish still holds)
    #[arg(long)]
    pub force: bool,
    /// The time to act at (RFC 3339 or Unix seconds) instead of the clock: for tests and
    /// dry runs of a schedule
    #[arg(long, value_parser = parse_now)]
    pub now: Option<u64>,
}

pub fn execute(command: &KeysCommand) -> u8 {
    match command {
        KeysCommand::Rotate(args) => match rotate(args) {
            Ok(summary) => {
                println!("{summary}");
                0
            }
            Err(error) => {
                eprintln!("vigia keys rotate: {error:#}");
                EXIT_FAILURE
            }
        },
    }
}

fn rotate(args: &RotateArgs) -> anyhow::Result<String> {
    let now = args
        .now
        .unwrap_or_else(|| (crate::admin::auth::verify::system_clock())());
    let mut store = KeyStore::load(&args.keys)?;
    let policy = RotationPolicy {
        every: args.every.as_secs(),
        max_token_lifetime: args.max_token_lifetime.as_secs(),
        min_publish: args.min_publish.as_secs(),
        algorithm: args.algorithm,
    };
    let rotation = store.rotate(now, policy, args.force)?;
    store.save(&args.keys, &args.jwks)?;
    Ok(serde_json::to_string(&rotation)?)
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text).map_err(|e| e.to_string())
}

/// `--now`: RFC 3339 or Unix seconds.
pub fn parse_now(text: &str) -> Result<u64, String> {
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(seconds);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|e| format!("not RFC 3339 or Unix seconds: {e}"))
        .and_then(|t| u64::try_from(t.timestamp()).map_err(|e| e.to_string()))
}
