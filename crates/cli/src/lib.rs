//! `fanmail`: the command line for a fanmail deployment. It talks to the API exactly as a
//! user's own code would: in AWS it finds the API's URL in the stack's outputs and signs each
//! request with SigV4 (the standard AWS credential chain); locally it uses the URL `make dev`
//! prints (`--api` or `FANMAIL_API`).
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done |
//! | 1 | the API refused the request (its error code and message are printed), or a step failed |
//! | 2 | bad arguments or unreadable input (a file, a `--var`) |
//! | 3 | the API (or the stack) could not be reached |
//! | 4 | the watched campaign ended failed or cancelled, or was paused |
//!
//! # Layout
//!
//! - `args`: the commands and their options (clap).
//! - `client`: JSON requests, presigned uploads; `sigv4`: request signing.
//! - `endpoint`: where the API is (`--api`, `FANMAIL_API`, or the stack's `ApiUrl` output).
//! - `commands/`: one file per command group; `watch`: the live progress bar; `table`: output.

mod args;
mod client;
mod commands;
mod endpoint;
mod sigv4;
mod table;
mod watch;

use std::ffi::OsString;

pub use args::Cli;
use clap::Parser;

/// What went wrong, each kind with its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{message} ({code}, HTTP {status})")]
    Api { status: u16, code: String, message: String },
    #[error("{0}")]
    Failed(String),
    #[error("{0}")]
    Input(String),
    #[error("cannot reach the API at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the campaign is {status}{}", reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default())]
    CampaignEnded { status: String, reason: Option<String> },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Api { .. } | Self::Failed(_) => 1,
            Self::Input(_) => 2,
            Self::Unreachable { .. } => 3,
            Self::CampaignEnded { .. } => 4,
        }
    }
}

/// Runs one command line; what it prints goes to `out`, its error line to `err`. Returns the
/// exit code.
pub async fn run<I, T>(args: I, out: &mut dyn std::io::Write, err: &mut dyn std::io::Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = if e.use_stderr() { write!(err, "{}", e.render()) } else { write!(out, "{}", e.render()) };
            return code;
        }
    };
    match commands::dispatch(&cli, out).await {
        Ok(()) => 0,
        Err(e) => {
            // An API error can quote a list's header or cell.
            let _ = writeln!(err, "error: {}", table::printable(&e.to_string()));
            e.exit_code()
        }
    }
}
