//! `suppressions list|add|remove`, `stats` and `audit`.

use serde_json::json;

use super::segment;
use super::templates::items;
use crate::args::SuppressionsCommand;
use crate::client::Api;
use crate::{table, CliError};

pub async fn run(
    api: &Api,
    command: &SuppressionsCommand,
    out: &mut dyn std::io::Write,
    json: bool,
) -> Result<(), CliError> {
    match command {
        SuppressionsCommand::List { limit } => {
            let page = api.get(&format!("/suppressions?limit={limit}")).await?;
            if json {
                return table::json(out, &page);
            }
            let rows: Vec<Vec<String>> = items(&page)
                .map(|s| {
                    let scope = match (s["domain"].as_str(), s["sender"].as_str()) {
                        (Some(domain), _) => format!("domain {domain}"),
                        (_, Some(sender)) => format!("sender {sender}"),
                        _ => table::cell(&s["scope"]),
                    };
                    vec![table::cell(&s["address"]), scope, table::cell(&s["reason"]), table::cell(&s["createdAt"])]
                })
                .collect();
            table::print(out, &["ADDRESS", "SCOPE", "REASON", "SINCE"], &rows);
        }
        SuppressionsCommand::Add { address, sender } => {
            let mut body = json!({"address": address});
            if let Some(sender) = sender {
                body["sender"] = json!(sender);
            }
            let added = api.post("/suppressions", &body).await?;
            if json {
                return table::json(out, &added);
            }
            let _ = writeln!(out, "suppressed {} ({})", table::cell(&added["address"]), table::cell(&added["scope"]));
        }
        SuppressionsCommand::Remove { address, force } => {
            let query = if *force { "?force=true" } else { "" };
            let path = format!("/suppressions/{}{query}", segment(address));
            let answer = api.call(http::Method::DELETE, &path, None).await?;
            if json {
                return table::json(out, &answer);
            }
            let _ = writeln!(out, "{address} is no longer suppressed");
        }
    }
    Ok(())
}

pub async fn stats(api: &Api, hours: u32, out: &mut dyn std::io::Write, json: bool) -> Result<(), CliError> {
    let stats = api.get(&format!("/stats/sent?hours={hours}")).await?;
    if json {
        table::json(out, &stats)?;
    } else {
        let _ = writeln!(
            out,
            "{} mails sent in the last {} hours",
            table::cell(&stats["sent"]),
            table::cell(&stats["hours"])
        );
    }
    Ok(())
}

pub async fn audit(
    api: &Api,
    subject: Option<&str>,
    limit: u32,
    out: &mut dyn std::io::Write,
    json: bool,
) -> Result<(), CliError> {
    let mut path = format!("/audit?limit={limit}");
    if let Some(subject) = subject {
        path.push_str(&format!("&subject={}", segment(subject)));
    }
    let page = api.get(&path).await?;
    if json {
        return table::json(out, &page);
    }
    let rows: Vec<Vec<String>> = items(&page)
        .map(|e| {
            let detail = e["detail"]
                .as_object()
                .map(|d| d.iter().map(|(k, v)| format!("{k}={}", table::cell(v))).collect::<Vec<_>>().join(" "))
                .unwrap_or_default();
            vec![
                table::cell(&e["at"]),
                table::cell(&e["actor"]),
                table::cell(&e["action"]),
                table::cell(&e["subject"]),
                detail,
            ]
        })
        .collect();
    table::print(out, &["AT", "WHO", "WHAT", "SUBJECT", "DETAIL"], &rows);
    Ok(())
}
