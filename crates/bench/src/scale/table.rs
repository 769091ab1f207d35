//! `fanmail-bench table REPORT...`: one Markdown row per scenario report, for
//! `docs/scaling.md`. The scenario's name is its report's file name.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::Value;

const HEADER: &str =
    "| scenario | recipients | SES quota | mails | quota used | lost | duplicated | stuck | ended | what happened |\n\
                      |---|---|---|---|---|---|---|---|---|---|";

pub fn print(reports: &[String]) -> Result<()> {
    println!("{HEADER}");
    for path in reports {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let report: Value = serde_json::from_str(&text).with_context(|| format!("{path} is not a report"))?;
        let name = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or(path);
        println!("{}", row(name, &report));
    }
    Ok(())
}

fn row(name: &str, r: &Value) -> String {
    let n = |key: &str| r[key].as_u64().unwrap_or(0);
    let s = &r["settings"];
    let mut quota = format!("{}/s", s["quota"]);
    if s["reported_quota"] != s["quota"] {
        quota += &format!(" (`GetAccount` says {}/s)", s["reported_quota"]);
    }
    if s["daily_quota"].as_u64().unwrap_or(0) > 0 {
        quota += &format!(", {}/day", s["daily_quota"]);
    }
    let ended = match r["campaign_status"].as_str().unwrap_or("?") {
        "paused" => format!("paused: {}", r["status_reason"].as_str().unwrap_or("no reason")),
        other => other.to_string(),
    };
    let duplicated = n("duplicated_outside_crash_window") + n("duplicated_in_crash_window");
    let mut events = Vec::new();
    let mut note = |count: u64, what: &str| {
        if count > 0 {
            events.push(format!("{count} {what}"));
        }
    };
    note(n("recipients_parked"), "parked");
    note(u64::from(r["resumed"].as_u64().unwrap_or(0) > 0), "resume");
    note(n("refused_sends"), "sends refused (account)");
    note(n("throttled_calls"), "SES throttles");
    note(n("slow_replies"), "answers lost to the timeout");
    note(n("transient_errors"), "SES faults");
    note(n("store_throttled"), "DynamoDB throttles");
    let crashes: u64 = r["crashes"].as_object().map_or(0, |c| c.values().filter_map(Value::as_u64).sum());
    note(crashes, "crashes and timeouts");
    note(n("duplicate_deliveries"), "double deliveries");
    let second = &r["second_campaign"];
    let recipients = match second["recipients"].as_u64() {
        Some(more) => format!("{} + {more} (second campaign)", n("valid_unique")),
        None => n("valid_unique").to_string(),
    };
    let duplicated = duplicated + second["duplicated"].as_u64().unwrap_or(0);
    let lost = n("lost") + second["lost"].as_u64().unwrap_or(0);
    format!(
        "| {name} | {recipients} | {quota} | {} | {:.0} % | {lost} | {duplicated} | {} | {ended} | {} |",
        n("mails_accepted"),
        r["quota_used"].as_f64().unwrap_or(0.0) * 100.0,
        if r["stuck"].as_bool().unwrap_or(true) { "yes" } else { "0" },
        if events.is_empty() { "—".to_string() } else { events.join(", ") },
    )
}
