//! `campaigns list|show|watch|pause|resume|cancel|retry-failed|rejected-rows|test`.

use serde_json::{json, Value};

use super::segment;
use super::templates::items;
use crate::args::CampaignsCommand;
use crate::client::Api;
use crate::{table, watch, CliError};

pub async fn run(
    api: &Api,
    command: &CampaignsCommand,
    out: &mut dyn std::io::Write,
    json: bool,
) -> Result<(), CliError> {
    match command {
        CampaignsCommand::List { status, limit } => {
            let filter = status.as_deref().map(|s| format!("&status={}", segment(s))).unwrap_or_default();
            let page = api.get(&format!("/campaigns?limit={limit}{filter}")).await?;
            if json {
                return table::json(out, &page);
            }
            let rows: Vec<Vec<String>> = items(&page)
                .map(|c| {
                    let n = |k: &str| table::cell(&c["counters"][k]);
                    vec![
                        table::cell(&c["id"]),
                        table::cell(&c["status"]),
                        table::cell(&c["templateId"]),
                        n("total"),
                        n("sent"),
                        n("failed"),
                        table::cell(&c["createdAt"]),
                    ]
                })
                .collect();
            table::print(out, &["ID", "STATUS", "TEMPLATE", "TOTAL", "SENT", "FAILED", "CREATED"], &rows);
        }
        CampaignsCommand::Show { id } => show(out, &api.get(&format!("/campaigns/{}", segment(id))).await?, json),
        CampaignsCommand::Watch { id, watch: args } => return watch::watch(api, id, args, out, json).await,
        CampaignsCommand::Reschedule { id, at, tz } => {
            let mut body = json!({"sendAt": at});
            if let Some(tz) = tz {
                body["timezone"] = json!(tz);
            }
            let campaign =
                api.call(http::Method::PUT, &format!("/campaigns/{}/schedule", segment(id)), Some(&body)).await?;
            show(out, &campaign, json);
        }
        CampaignsCommand::Pause { id } => act(api, id, "pause", out, json).await?,
        CampaignsCommand::Resume { id } => act(api, id, "resume", out, json).await?,
        CampaignsCommand::Cancel { id } => act(api, id, "cancel", out, json).await?,
        CampaignsCommand::RetryFailed { id } => {
            let answer = api.post(&format!("/campaigns/{}/retry-failed", segment(id)), &json!({})).await?;
            if json {
                return table::json(out, &answer);
            }
            show(out, answer.get("campaign").unwrap_or(&answer), false);
        }
        CampaignsCommand::RejectedRows { id, limit } => {
            let page = api.get(&format!("/campaigns/{}/rejected-rows?limit={limit}", segment(id))).await?;
            if json {
                return table::json(out, &page);
            }
            let rows: Vec<Vec<String>> = items(&page)
                .map(|r| vec![table::cell(&r["row"]), table::cell(&r["reason"]), table::cell(&r["value"])])
                .collect();
            table::print(out, &["ROW", "REASON", "VALUE"], &rows);
        }
        CampaignsCommand::Test { id, to, row } => {
            let mut body = json!({"to": to});
            if let Some(row) = row {
                body["rowNumber"] = json!(row);
            }
            let answer = api.post(&format!("/campaigns/{}/test", segment(id)), &body).await?;
            test_result(out, &answer, json);
        }
    }
    Ok(())
}

async fn act(api: &Api, id: &str, action: &str, out: &mut dyn std::io::Write, json: bool) -> Result<(), CliError> {
    let answer = api.post(&format!("/campaigns/{}/{action}", segment(id)), &json!({})).await?;
    if json {
        return table::json(out, &answer);
    }
    // A resume answers the campaign, with its parked mails being queued again.
    show(out, answer.get("campaign").unwrap_or(&answer), false);
    Ok(())
}

pub fn show(out: &mut dyn std::io::Write, campaign: &Value, json: bool) {
    if json {
        let _ = table::json(out, campaign);
        return;
    }
    let _ = writeln!(out, "{}", watch::summary(campaign));
    if let Some(reason) = campaign["statusReason"].as_str() {
        let _ = writeln!(out, "reason: {}", table::printable(reason));
    }
    if let Some(at) = campaign["sendAt"].as_str() {
        let _ = writeln!(out, "send at: {at}");
    }
    if let Some(line) = requeue_line(&campaign["requeue"]) {
        let _ = writeln!(out, "{line}");
    }
}

/// How far a resume or retry has got queueing its recipients again (done in the background).
fn requeue_line(requeue: &Value) -> Option<String> {
    let kind = match requeue["kind"].as_str()? {
        "resume" => "parked mails",
        _ => "failed recipients",
    };
    let count = requeue["requeued"].as_u64().unwrap_or(0);
    Some(match requeue["finished"].as_bool() {
        Some(true) => format!("{kind} queued again: {count}"),
        _ => format!("{kind} being queued again: {count} so far"),
    })
}

/// What a test send answered: one line per address.
pub fn test_result(out: &mut dyn std::io::Write, answer: &Value, json: bool) {
    if json {
        let _ = table::json(out, answer);
        return;
    }
    let _ = writeln!(out, "test mail: {}", table::cell(&answer["subject"]));
    for sent in items_of(answer, "sent") {
        let _ =
            writeln!(out, "  sent to {} (SES message {})", table::cell(&sent["to"]), table::cell(&sent["messageId"]));
    }
    for failed in items_of(answer, "failed") {
        let _ = writeln!(out, "  NOT sent to {}: {}", table::cell(&failed["to"]), table::cell(&failed["error"]));
    }
}

fn items_of<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value[key].as_array().into_iter().flatten()
}
