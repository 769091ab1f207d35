//! `campaigns watch`: a live bar (settled of total, rate, ETA, failed/skipped/bounced) until the
//! campaign completes, fails, is cancelled or paused. The bar is drawn on a terminal only; the
//! final line always goes to the output.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use crate::args::WatchArgs;
use crate::client::Api;
use crate::{table, CliError};

/// Watches until the campaign stops sending; Ok only when it completed.
pub async fn watch(
    api: &Api,
    id: &str,
    args: &WatchArgs,
    out: &mut dyn std::io::Write,
    json: bool,
) -> Result<(), CliError> {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} mails  {per_sec}  ETA {eta}  {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let interval = Duration::from_secs_f64(args.interval.clamp(0.1, 60.0));
    let campaign = loop {
        let campaign = api.get(&format!("/campaigns/{id}")).await?;
        let c = &campaign["counters"];
        let count = |k: &str| c[k].as_u64().unwrap_or(0);
        bar.set_length(count("total"));
        bar.set_position(count("sent") + count("failed") + count("skipped") + count("stopped"));
        bar.set_message(format!(
            "{}  failed {}  skipped {}  bounced {}",
            table::cell(&campaign["status"]),
            count("failed"),
            count("skipped"),
            count("bounced")
        ));
        if matches!(campaign["status"].as_str(), Some("completed" | "failed" | "cancelled" | "paused")) {
            break campaign;
        }
        tokio::time::sleep(interval).await;
    };
    bar.finish_and_clear();
    if json {
        table::json(out, &campaign)?;
    } else {
        let _ = writeln!(out, "{}", summary(&campaign));
    }
    match campaign["status"].as_str() {
        Some("completed") => Ok(()),
        other => Err(CliError::CampaignEnded {
            status: other.unwrap_or("unknown").to_string(),
            reason: campaign["statusReason"].as_str().map(str::to_string),
        }),
    }
}

/// One line: status and every counter that is not zero.
pub fn summary(campaign: &Value) -> String {
    let c = &campaign["counters"];
    let mut parts = vec![format!("campaign {} {}", table::cell(&campaign["id"]), table::cell(&campaign["status"]))];
    for key in ["total", "sent", "delivered", "failed", "skipped", "stopped", "bounced", "complained", "duplicates"] {
        if let Some(n) = c[key].as_u64().filter(|n| *n > 0 || key == "sent") {
            parts.push(format!("{key} {n}"));
        }
    }
    if let Some(rejected) = campaign["rejectedRows"].as_u64().filter(|n| *n > 0) {
        parts.push(format!("rejected rows {rejected}"));
    }
    parts.join(", ")
}
