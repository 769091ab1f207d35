//! What a simulation run found: every recipient sent once, failed, skipped, lost or sent
//! twice, with the time, throughput and memory it took.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context as _, Result};
use fanmail_common::domain::{CampaignCounters, EmailAddress, RecipientStatus};
use fanmail_common::recipient_list::recipient_id;
use fanmail_common::store::CampaignReader;
use serde::Serialize;

use crate::{peak_rss_mib, GeneratedList};

use super::*;

/// What a run counted.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub settings: Settings,
    pub completed: bool,
    pub campaign_status: String,
    pub status_reason: Option<String>,
    /// Ended paused with a reason (SES's daily quota used up): the rest is parked, not lost.
    pub paused_with_reason: bool,
    /// Ended neither completed nor paused with a reason, with nothing left to do.
    pub stuck: bool,
    /// Times the user resumed the campaign after SES lifted a pause.
    pub resumed: u32,
    /// From the split job being queued to the campaign completing.
    pub wall_seconds: f64,
    /// From the split job being queued to the whole list being on the queue.
    pub split_seconds: f64,
    pub last_mail_accepted_seconds: f64,
    pub mails_accepted: u64,
    pub mails_per_second: f64,
    pub quota_used: f64,
    pub throttled_calls: u64,
    pub transient_errors: u64,
    /// Claims and outcome writes DynamoDB refused (throttled).
    pub store_throttled: u64,
    /// Sends SES refused because the account was paused or its daily quota used up.
    pub refused_sends: u64,
    /// Mails SES accepted whose answer came after the SDK's timeout.
    pub slow_replies: u64,
    pub rows: u64,
    pub valid_unique: u64,
    pub recipients_sent: u64,
    pub recipients_failed: u64,
    pub recipients_skipped: u64,
    /// Parked unsent by a pause, for a resume.
    pub recipients_parked: u64,
    pub lost: u64,
    pub duplicated_outside_crash_window: u64,
    pub duplicated_in_crash_window: u64,
    pub suppressed_but_mailed: u64,
    pub counters: CampaignCounters,
    pub counters_add_up: bool,
    pub crashes: BTreeMap<String, u64>,
    pub invocations: u64,
    pub redelivered_messages: u64,
    pub duplicate_deliveries: u64,
    pub dead_letters: u64,
    pub peak_queue_depth: u64,
    pub p50_seconds_to_send: f64,
    pub p99_seconds_to_send: f64,
    pub peak_rss_mib: f64,
    pub cpu_seconds: f64,
    pub cpu_seconds_per_1000_mails: f64,
    /// The small campaign started during the run, if any.
    pub second_campaign: Option<super::second::SecondCampaign>,
}

impl Report {
    /// Whether nothing was lost or sent twice outside the crash window, and the counts agree.
    pub fn correct(&self) -> bool {
        !self.stuck
            && self.second_campaign.as_ref().is_none_or(|s| s.completed && s.lost == 0 && s.duplicated == 0)
            && self.lost == 0
            && self.duplicated_outside_crash_window == 0
            && self.suppressed_but_mailed == 0
            && self.counters_add_up
    }

    pub fn print(&self) {
        let line = |name: &str, value: String| println!("scale.{name:<34} {value}");
        line("rows", self.rows.to_string());
        line("quota_per_second", format!("{}", self.settings.quota));
        line("latency_ms", format!("{}-{}", self.settings.latency_ms.0, self.settings.latency_ms.1));
        line("sender_concurrency", self.settings.concurrency.to_string());
        line("completed", self.completed.to_string());
        line("campaign_status", self.campaign_status.clone());
        if let Some(reason) = &self.status_reason {
            line("status_reason", reason.clone());
        }
        line("resumed", self.resumed.to_string());
        line("stuck", self.stuck.to_string());
        line("wall_seconds", format!("{:.1}", self.wall_seconds));
        line("split_seconds", format!("{:.1}", self.split_seconds));
        line("last_mail_accepted_seconds", format!("{:.1}", self.last_mail_accepted_seconds));
        line("mails_accepted", self.mails_accepted.to_string());
        line("mails_per_second", format!("{:.0}", self.mails_per_second));
        line("quota_used", format!("{:.1} %", self.quota_used * 100.0));
        line("throttled_calls", self.throttled_calls.to_string());
        line("transient_errors", self.transient_errors.to_string());
        line("store_throttled", self.store_throttled.to_string());
        line("refused_sends", self.refused_sends.to_string());
        line("slow_replies", self.slow_replies.to_string());
        line("valid_unique_recipients", self.valid_unique.to_string());
        line("recipients_sent", self.recipients_sent.to_string());
        line("recipients_failed", self.recipients_failed.to_string());
        line("recipients_skipped", self.recipients_skipped.to_string());
        line("recipients_parked", self.recipients_parked.to_string());
        line("lost", self.lost.to_string());
        line("duplicated_outside_crash_window", self.duplicated_outside_crash_window.to_string());
        line("duplicated_in_crash_window", self.duplicated_in_crash_window.to_string());
        line("suppressed_but_mailed", self.suppressed_but_mailed.to_string());
        line("counters_add_up", self.counters_add_up.to_string());
        for (point, n) in &self.crashes {
            line(&format!("crashes.{point}"), n.to_string());
        }
        line("invocations", self.invocations.to_string());
        line("redelivered_messages", self.redelivered_messages.to_string());
        line("duplicate_deliveries", self.duplicate_deliveries.to_string());
        line("dead_letters", self.dead_letters.to_string());
        line("peak_queue_depth", self.peak_queue_depth.to_string());
        line("p50_seconds_to_send", format!("{:.1}", self.p50_seconds_to_send));
        line("p99_seconds_to_send", format!("{:.1}", self.p99_seconds_to_send));
        line("peak_rss_mib", format!("{:.0}", self.peak_rss_mib));
        line("cpu_seconds", format!("{:.1}", self.cpu_seconds));
        line("cpu_seconds_per_1000_mails", format!("{:.3}", self.cpu_seconds_per_1000_mails));
        if let Some(second) = &self.second_campaign {
            line("second.started_after_seconds", format!("{:.1}", second.started_after_seconds));
            line("second.recipients", second.recipients.to_string());
            line("second.sent", second.sent.to_string());
            line("second.lost", second.lost.to_string());
            line("second.duplicated", second.duplicated.to_string());
            line("second.completed", second.completed.to_string());
            line("second.seconds_to_complete", format!("{:.1}", second.seconds_to_complete));
            line("second.first_campaign_sent_by_then", second.first_campaign_sent_by_then.to_string());
        }
    }
}

pub(super) async fn count(
    world: &World,
    completed_at: Option<Duration>,
    cpu: f64,
    second: &super::second::Progress,
) -> Result<Report> {
    let settings = &world.settings;
    let campaign = world.campaigns.get(&World::campaign_id()).await?.context("the campaign")?;
    let statuses = world.recipients.count_by_status(&World::campaign_id());
    let status = |s: RecipientStatus| statuses.get(&s).copied().unwrap_or(0);
    let mut acceptances = world.ses.take_acceptances();
    let in_window = world.crashes.in_window.lock().unwrap().clone();
    let (mut valid_unique, mut lost, mut suppressed_but_mailed) = (0, 0, 0);
    let (mut duplicated_outside, mut duplicated_in_window) = (0, 0);
    let mut times = Vec::with_capacity(acceptances.len());
    // Failed and parked recipients are accounted for without a mail.
    let settled = |s: RecipientStatus| matches!(s, RecipientStatus::Failed | RecipientStatus::Paused);
    let unmailed_ids: std::collections::HashSet<u128> = if statuses.iter().any(|(s, n)| settled(*s) && *n > 0) {
        world
            .recipients
            .all()
            .into_iter()
            .filter(|r| settled(r.status))
            .filter_map(|r| u128::from_str_radix(r.recipient_id.as_str(), 16).ok())
            .collect()
    } else {
        Default::default()
    };
    for row in 0..settings.rows {
        let Some(address) = GeneratedList::unique_address(row) else { continue };
        valid_unique += 1;
        let id = recipient_id(&EmailAddress::parse(&address)?);
        let id = u128::from_str_radix(id.as_str(), 16)?;
        let Some(sent) = acceptances.remove(&id) else {
            if !suppressed_row(settings, row) && !unmailed_ids.contains(&id) {
                lost += 1;
            }
            continue;
        };
        if suppressed_row(settings, row) {
            suppressed_but_mailed += 1;
        }
        times.push(sent.first_at.as_secs_f64());
        if sent.count > 1 {
            if in_window.contains(&sent.first_by) {
                duplicated_in_window += 1;
            } else {
                duplicated_outside += 1;
            }
        }
    }
    let second_campaign = super::second::count(world, second, &mut acceptances).await?;
    // Mails to anyone not on the lists would be a fault too.
    suppressed_but_mailed += acceptances.len() as u64;
    times.sort_by(f64::total_cmp);
    let percentile =
        |p: f64| times.get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1))).copied();
    let c = campaign.counters;
    let mails_accepted = world.ses.total_accepted();
    let wall = completed_at.unwrap_or(world.started.elapsed()).as_secs_f64();
    let parked = status(RecipientStatus::Paused);
    let paused_with_reason = campaign.status == CampaignStatus::Paused && campaign.status_reason.is_some();
    let counters_add_up = c.total == valid_unique
        && c.sent == status(RecipientStatus::Sent)
        && c.sent == times.len() as u64
        && c.sent + c.failed + c.skipped + c.stopped + parked == c.total
        && c.skipped == status(RecipientStatus::Suppressed);
    let queue = world.recipient_jobs.stats();
    let crashes = world.crashes.counts.lock().unwrap().iter().map(|(p, n)| (p.name().to_string(), *n)).collect();
    Ok(Report {
        settings: settings.clone(),
        completed: completed_at.is_some(),
        campaign_status: campaign.status.to_string(),
        status_reason: campaign.status_reason.clone(),
        paused_with_reason,
        stuck: completed_at.is_none() && !paused_with_reason,
        resumed: 0,
        wall_seconds: wall,
        split_seconds: 0.0,
        last_mail_accepted_seconds: world.ses.last_accepted_at().as_secs_f64(),
        mails_accepted,
        mails_per_second: mails_accepted as f64 / wall,
        quota_used: mails_accepted as f64 / wall / settings.quota,
        throttled_calls: world.ses.throttled(),
        transient_errors: world.ses.transient_errors(),
        store_throttled: world.store_throttle.throttled(),
        refused_sends: world.ses.refused(),
        slow_replies: world.ses.slow_replies(),
        rows: settings.rows,
        valid_unique,
        recipients_sent: c.sent,
        recipients_failed: c.failed,
        recipients_skipped: c.skipped,
        recipients_parked: parked,
        lost,
        duplicated_outside_crash_window: duplicated_outside,
        duplicated_in_crash_window: duplicated_in_window,
        suppressed_but_mailed,
        counters_add_up,
        counters: c,
        crashes,
        invocations: world.invocations.load(Ordering::Relaxed),
        redelivered_messages: queue.received_again,
        duplicate_deliveries: queue.duplicates_delivered,
        dead_letters: world.recipient_jobs.dead_letters().len() as u64,
        peak_queue_depth: queue.peak_depth,
        p50_seconds_to_send: percentile(0.50).unwrap_or(0.0),
        p99_seconds_to_send: percentile(0.99).unwrap_or(0.0),
        peak_rss_mib: peak_rss_mib(),
        cpu_seconds: cpu,
        cpu_seconds_per_1000_mails: cpu / (mails_accepted.max(1) as f64) * 1000.0,
        second_campaign,
    })
}
