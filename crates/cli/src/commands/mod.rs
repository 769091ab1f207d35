//! One file per command group; `dispatch` picks the command.

mod campaigns;
mod send;
mod suppressions;
mod templates;

use serde_json::{Map, Value};

use crate::args::{Cli, Command};
use crate::{endpoint, CliError};

pub async fn dispatch(cli: &Cli, out: &mut dyn std::io::Write) -> Result<(), CliError> {
    // Local input is checked before the API is looked for.
    if let Command::Send(args) = &cli.command {
        send::check(args)?;
    }
    let api = endpoint::api(&cli.target).await?;
    match &cli.command {
        Command::Templates(command) => templates::run(&api, command, out, cli.json).await,
        Command::Send(args) => send::run(&api, args, out, cli.json).await,
        Command::Campaigns(command) => campaigns::run(&api, command, out, cli.json).await,
        Command::Suppressions(command) => suppressions::run(&api, command, out, cli.json).await,
        Command::Stats { hours } => suppressions::stats(&api, *hours, out, cli.json).await,
        Command::Audit { subject, limit } => suppressions::audit(&api, subject.as_deref(), *limit, out, cli.json).await,
    }
}

/// `NAME=VALUE` pairs as a JSON object.
fn pairs(raw: &[String], option: &str) -> Result<Map<String, Value>, CliError> {
    raw.iter()
        .map(|pair| {
            let (name, value) = pair
                .split_once('=')
                .filter(|(name, _)| !name.trim().is_empty())
                .ok_or_else(|| CliError::Input(format!("{option} '{pair}' is not NAME=VALUE")))?;
            Ok((name.trim().to_string(), Value::String(value.to_string())))
        })
        .collect()
}

/// A path segment, percent-encoded (addresses hold '@' and '+').
fn segment(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
