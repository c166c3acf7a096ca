//! `vigia token issue`: a bearer token for the admin API, signed by the current key of a
//! key directory made by `vigia keys rotate`; for Prometheus's
//! `authorization.credentials_file`, re-issued before it expires.

use super::EXIT_FAILURE;
use super::keys::{parse_duration, parse_now};
use crate::admin::auth::keystore::{KeyStore, TokenRequest, write_replacing};
use crate::admin::config::{DEFAULT_AUDIENCE, DEFAULT_ISSUER};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print (or write with --out) a token signed by the current key
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The key directory of `vigia keys rotate`
    #[arg(long, value_name = "DIR")]
    pub keys: PathBuf,
    /// `iss`: admin.auth.issuer of the agents
    #[arg(long, default_value = DEFAULT_ISSUER)]
    pub issuer: String,
    /// `aud`: admin.auth.audience of the agents
    #[arg(long, default_value = DEFAULT_AUDIENCE)]
    pub audience: String,
    /// Space-separated scopes: metrics:read (/metrics), regressions:read (/api/v1/regressions)
    #[arg(long, default_value = "metrics:read")]
    pub scope: String,
    /// `sub`: who the token is for
    #[arg(long, default_value = "prometheus")]
    pub subject: String,
    /// How long the token is valid (at most the agents' max_token_lifetime)
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,
    /// Write the token to this file (replaced whole, mode 0600) instead of stdout
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// The time to issue at (RFC 3339 or Unix seconds) instead of the clock
    #[arg(long, value_parser = parse_now)]
    pub now: Option<u64>,
}

pub fn execute(command: &TokenCommand) -> u8 {
    match command {
        TokenCommand::Issue(args) => match issue(args) {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("vigia token issue: {error:#}");
                EXIT_FAILURE
            }
        },
    }
}

fn issue(args: &IssueArgs) -> anyhow::Result<()> {
    let now = args
        .now
        .unwrap_or_else(|| (crate::admin::auth::verify::system_clock())());
    let store = KeyStore::load(&args.keys)?;
    let token = store.issue(
        now,
        &TokenRequest {
            issuer: args.issuer.clone(),
            audience: args.audience.clone(),
            subject: args.subject.clone(),
            scope: args.scope.clone(),
            ttl: args.ttl.as_secs(),
        },
    )?;
    match &args.out {
        Some(path) => write_replacing(path, token.as_bytes(), 0o600),
        None => {
            println!("{token}");
            Ok(())
        }
    }
}
