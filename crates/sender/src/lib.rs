//! The sender: consumes recipient messages, renders each mail with the campaign's pinned
//! template and sends it through SES v2, paced to the account's rate.
//!
//! # Exactly one mail per recipient
//!
//! Each recipient is claimed with a conditional write before it is sent (all of a batch in one
//! transaction). A redelivered message whose recipient is already sent finds the claim refused
//! and is acknowledged without sending. A claim carries a lease (two minutes, shorter than the
//! queue's three-minute visibility timeout): if a sender dies mid-send, the message comes back
//! after the visibility timeout, the lease has run out, and another sender takes over.
//!
//! A sender that dies after SES accepted a mail and before the outcome was written leaves
//! the recipient `sending`; so does a SendEmail whose answer was lost (a timeout). SES
//! publishes a `Send` event for every mail it accepts, which the recorder keeps in the ledger
//! ([`accepted_key`]). Before mailing a recipient that was claimed before (an earlier attempt
//! left no outcome), the sender reads that record: if SES accepted the mail, the recipient is
//! recorded as sent with SES's message id and not mailed again. A lost answer is never retried
//! at once: the message is re-queued for [`RECHECK_DELAY`], by when the event has arrived.
//! What is left: a `Send` event that reaches the recorder later than the message returns.
//!
//! # Failures
//!
//! - Throttled: the claim is given back and the message re-queued with a short delay (its
//!   receive count starts afresh); the pacer backs off. Throttling slows a campaign, never
//!   fails a recipient.
//! - Transient (network, 5xx): retried twice in the invocation, then the claim is given back and
//!   the message returned as a batch item failure; on its third receive the recipient is marked
//!   failed (retryable) and the message goes on to the DLQ.
//! - A duplicate of a message whose recipient another instance is sending right now: re-queued
//!   with a short delay, so it is settled in seconds rather than after the visibility timeout.
//! - Rejected (bad address, content): the recipient is marked failed with the reason.
//! - The account or the campaign cannot send (SES paused or suspended the account, its daily
//!   quota is used up, the sender's identity is unverified, the configuration set is gone, the
//!   permission is denied): the campaign is paused with the reason and its recipients parked,
//!   unsent and unfailed, for the resume — never failed one by one. The daily quota is read with the rate and checked before sending.
//! - Outcomes that cannot be recorded (DynamoDB throttling past the retries): the messages
//!   are not acknowledged; they return once the claims have run out, and SES's record of
//!   what it accepted settles each recipient without a second mail.
//! - Out of time: no send starts within [`END_RESERVE`] of Lambda's deadline; the mails the
//!   pacer cannot fit before it are given back and re-queued (the SES sandbox's 1 mail/s
//!   shared by five senders fits five mails in an invocation).
//! - Suppressed or unsubscribed: not sent, counted as skipped.
//! - Campaign cancelled: claimed recipients are marked stopped. Paused: they are parked as
//!   `paused` and acknowledged; the resume re-queues them (and the sender itself, when a fresh
//!   read after parking finds the campaign resumed meanwhile).
//!
//! The batch that records a campaign's last outcomes completes it (near the end, the campaign
//! is read afresh after each batch's outcomes are recorded).
//!
//! # Layout
//!
//! - `lib.rs`: configuration, wiring (`Deps::aws`, `Deps::memory`), the handler: claim, send,
//!   record, re-queue, per campaign of a batch.
//! - `warm`: what a warm instance keeps (campaigns for two seconds, compiled templates, the
//!   pacer) and how it reads them.
//! - `mail`: one batch's mails: render, skip the suppressed, send within the pacer, outcomes.
//! - `outcomes`: after the sends: outcomes recorded, mails re-queued, the campaign paused.
//! - `dead_letters`: the dead-letter queue's messages, each recipient settled and counted.
//! - `tests`: the handler against the in-memory world.

use std::collections::HashMap;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::domain::{
    accepted_key, Campaign, CampaignId, CampaignStatus, Recipient, RecipientJob, RecipientRetention, RecipientStatus,
    SendOutcome, UnsubscribeKey,
};
use fanmail_common::ports::{Clock, RecipientQueues};
use fanmail_common::sqs_batch::decode;
use fanmail_common::store::iam::{Port, Uses};
use fanmail_common::store::{Ledger, RecipientStore, StoreError};
use fanmail_common::system::SystemClock;
use fanmail_common::wiring::{AwsAdapters, AwsPorts, MemoryAdapters, MemoryPorts, Ports};
use lambda_runtime::{Error, LambdaEvent};

/// How long a claim holds a recipient (shorter than the queue's visibility timeout).
pub const LEASE: time::Duration = time::Duration::minutes(2);
/// The receive on which a transient failure becomes a recorded failure (the queue's
/// maxReceiveCount then moves the message to the DLQ).
pub const LAST_RECEIVE: u32 = 3;
/// A campaign's state is re-read at most this often per instance (cancel and pause take
/// effect within it).
pub const CAMPAIGN_CACHE_TTL: Duration = Duration::from_secs(2);
/// SES calls in flight per invocation.
pub const IN_FLIGHT: usize = 10;
/// Time kept back at the end of an invocation, before Lambda's deadline: one SES call's time
/// limit, then recording the outcomes and re-queueing. A mail whose pacer slot falls later is
/// not sent in this invocation: its claim is given back and its message re-queued.
pub const END_RESERVE: Duration = Duration::from_secs(10);
/// How long a mail whose send has an unknown outcome waits before it is looked at again: SES
/// publishes its `Send` event within seconds of accepting a mail.
pub const RECHECK_DELAY: Duration = Duration::from_secs(60);
/// Sends of one mail SES may throttle within an invocation before it goes back to the queue...
pub const THROTTLE_TRIES: u32 = 5;
/// ...when the instance's share of the rate is below this (mails/s); above it, at once.
pub const RETRY_IN_PLACE_BELOW: f64 = 10.0;
/// The account's quota is re-read this often.
const QUOTA_REFRESH: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub templates_table: String,
    pub campaigns_table: String,
    pub recipients_table: String,
    pub suppressions_table: String,
    pub ledger_table: String,
    pub recipients_queue_url: String,
    pub priority_queue_url: String,
    /// The recipients' dead-letter queue, whose messages this function settles.
    pub dead_letter_queue_arn: Option<String>,
    pub configuration_set: String,
    /// The SES account's send rate (mails/s), shared by every sender instance; the account's
    /// own figure (GetAccount) wins when it is lower.
    pub max_send_rate: f64,
    /// Most sender instances at once (the event source's MaximumConcurrency).
    pub sender_concurrency: u32,
    /// Base of the unsubscribe links in each mail.
    pub public_base_url: String,
    pub unsubscribe_secret_arn: String,
    /// How long recipients' items are kept after their latest claim (DynamoDB TTL).
    pub recipient_retention: RecipientRetention,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_send_rate: f64 = env.parsed(vars::MAX_SEND_RATE, 14.0)?;
        // NaN and infinities are not rates either.
        if !max_send_rate.is_finite() || max_send_rate <= 0.0 {
            return Err(ConfigError::Invalid {
                key: vars::MAX_SEND_RATE.into(),
                value: max_send_rate.to_string(),
                reason: "must be above 0".into(),
            });
        }
        Ok(Self {
            templates_table: env.required(vars::TEMPLATES_TABLE)?,
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            recipients_table: env.required(vars::RECIPIENTS_TABLE)?,
            suppressions_table: env.required(vars::SUPPRESSIONS_TABLE)?,
            ledger_table: env.required(vars::LEDGER_TABLE)?,
            recipients_queue_url: env.required(vars::RECIPIENTS_QUEUE_URL)?,
            priority_queue_url: env.required(vars::PRIORITY_QUEUE_URL)?,
            dead_letter_queue_arn: env.optional(vars::RECIPIENTS_DLQ_ARN),
            configuration_set: env.required(vars::SES_CONFIGURATION_SET)?,
            max_send_rate,
            sender_concurrency: env.parsed::<u32>(vars::SENDER_CONCURRENCY, 5)?.max(1),
            public_base_url: env.required(vars::PUBLIC_BASE_URL)?.trim_end_matches('/').to_string(),
            unsubscribe_secret_arn: env.required(vars::UNSUBSCRIBE_SECRET_ARN)?,
            recipient_retention: env.parsed(vars::RECIPIENT_RETENTION_DAYS, RecipientRetention::default())?,
        })
    }

    /// This instance's share of the account's rate.
    pub fn instance_rate(&self, account_rate: Option<f64>) -> f64 {
        let rate = account_rate.filter(|r| *r > 0.0).map_or(self.max_send_rate, |r| r.min(self.max_send_rate));
        rate / f64::from(self.sender_concurrency)
    }
}

pub struct Deps<P: Ports> {
    pub templates: P::Templates,
    pub campaigns: P::Campaigns,
    pub recipients: P::Recipients,
    pub suppressions: P::Suppressions,
    pub send_log: P::SendLog,
    /// Where SES's acceptance of each mail is recorded (by the recorder, from `Send` events).
    pub ledger: P::Ledger,
    pub mailer: P::Mailer,
    /// The recipients queues, for re-queueing throttled mails to the queue they came from.
    pub requeue: RecipientQueues<P::Queue>,
    pub clock: P::Clock,
    pub config: Config,
    /// Signs each mail's one-click unsubscribe link.
    pub unsubscribe_key: UnsubscribeKey,
    pub warm: Warm,
}

/// The store methods this function's code can call (the static half of the permission check).
pub const STORES: &[Uses] = &[
    Uses { port: Port::Templates, methods: &["get"] },
    Uses { port: Port::Campaigns, methods: &["get", "transition"] },
    Uses { port: Port::Recipients, methods: &["get", "claim", "claim_batch"] },
    Uses { port: Port::Suppressions, methods: &["suppressed_among"] },
    Uses { port: Port::Ledger, methods: &["read"] },
    Uses { port: Port::SendLog, methods: &["record"] },
];

impl Deps<AwsPorts> {
    /// The production wiring, shared by `main.rs` and the local runner.
    pub fn aws(aws: &AwsAdapters, config: Config, unsubscribe_key: UnsubscribeKey) -> Self {
        Self {
            templates: aws.templates(&config.templates_table),
            campaigns: aws.campaigns(&config.campaigns_table),
            recipients: aws.recipients(&config.recipients_table).kept_for(config.recipient_retention),
            suppressions: aws.suppressions(&config.suppressions_table),
            send_log: aws.send_log(&config.recipients_table, &config.campaigns_table, &config.ledger_table),
            ledger: aws.ledger(&config.ledger_table),
            mailer: aws.mailer(Some(config.configuration_set.clone())),
            requeue: aws.recipient_queues(&config.recipients_queue_url, &config.priority_queue_url),
            clock: SystemClock,
            warm: Warm::new(&config),
            config,
            unsubscribe_key,
        }
    }
}

impl Deps<MemoryPorts> {
    /// Wired to one in-memory world; re-queued mails go to its recipient queue.
    pub fn memory(world: &MemoryAdapters, config: Config, unsubscribe_key: UnsubscribeKey) -> Self {
        Self {
            templates: world.templates.clone(),
            campaigns: world.campaigns.clone(),
            recipients: world.recipients.clone(),
            suppressions: world.suppressions.clone(),
            send_log: world.send_log(),
            ledger: world.ledger.clone(),
            mailer: world.mailer.clone(),
            requeue: world.recipient_queues(),
            clock: world.clock.clone(),
            warm: Warm::new(&config),
            config,
            unsubscribe_key,
        }
    }
}

/// What became of one message.
enum Disposition {
    Ack,
    /// Report as a batch item failure (retry, or the DLQ after maxReceiveCount).
    Fail,
    /// Re-queue with a delay, then acknowledge.
    Requeue,
    /// SES may have accepted it: re-queue for after its acceptance record would have arrived.
    Recheck,
}

struct Delivery {
    message_id: String,
    receive_count: u32,
    job: RecipientJob,
    body: String,
}

pub async fn handler<P: Ports>(deps: &Deps<P>, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let from_dead_letters = |r: &aws_lambda_events::sqs::SqsMessage| {
        deps.config.dead_letter_queue_arn.is_some() && r.event_source_arn == deps.config.dead_letter_queue_arn
    };
    if event.payload.records.first().is_some_and(from_dead_letters) {
        return Ok(batch_response(dead_letters::settle(deps, event.payload.records).await));
    }
    let send_by = send_by(deps, event.context.deadline);
    deps.refresh_rate().await;
    let mut failed: Vec<String> = Vec::new();
    let mut by_campaign: HashMap<CampaignId, Vec<Delivery>> = HashMap::new();
    for record in event.payload.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let receive_count = record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
        match decode::<RecipientJob>(&record) {
            Ok(job) => {
                let body = record.body.unwrap_or_default();
                by_campaign.entry(job.campaign_id.clone()).or_default().push(Delivery {
                    message_id,
                    receive_count,
                    job,
                    body,
                });
            }
            Err(reason) => {
                tracing::error!(message_id = %message_id, reason = %reason, "poison message; it will go to the dead-letter queue");
                failed.push(message_id);
            }
        }
    }
    for (campaign_id, deliveries) in by_campaign {
        failed.extend(send_campaign_batch(deps, &campaign_id, deliveries, send_by).await);
    }
    Ok(batch_response(failed))
}

/// The partial batch response reporting these message ids as failed.
fn batch_response(failed: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// The last moment a send may start: [`END_RESERVE`] before Lambda's deadline (epoch ms; 0
/// when the caller set none), measured with the deps' clock and kept as a timer instant.
fn send_by<P: Ports>(deps: &Deps<P>, deadline_ms: u64) -> Option<tokio::time::Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let deadline = time::OffsetDateTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    let left = Duration::try_from(deadline - deps.clock.now()).unwrap_or(Duration::ZERO);
    Some(tokio::time::Instant::now() + left.saturating_sub(END_RESERVE))
}

fn ids(deliveries: &[Delivery]) -> Vec<String> {
    deliveries.iter().map(|d| d.message_id.clone()).collect()
}

/// Handles one campaign's share of a batch; returns the message ids to report failed.
async fn send_campaign_batch<P: Ports>(
    deps: &Deps<P>,
    campaign_id: &CampaignId,
    deliveries: Vec<Delivery>,
    send_by: Option<tokio::time::Instant>,
) -> Vec<String> {
    let campaign = match deps.campaign(campaign_id).await {
        Ok(Some(campaign)) => campaign,
        Ok(None) => {
            tracing::error!(campaign = %campaign_id, "messages for a campaign that does not exist; they will go to the dead-letter queue");
            return ids(&deliveries);
        }
        Err(e) => {
            tracing::warn!(campaign = %campaign_id, error = %e, "campaign unavailable; retrying later");
            return ids(&deliveries);
        }
    };
    let campaign = if campaign.status == CampaignStatus::Paused {
        // Park only on a fresh read: a resume may have happened since the cached one.
        deps.warm.campaigns.lock().unwrap().remove(campaign_id);
        match deps.campaign(campaign_id).await {
            Ok(Some(fresh)) => fresh,
            _ => return ids(&deliveries),
        }
    } else {
        campaign
    };
    match campaign.status {
        CampaignStatus::Failed | CampaignStatus::Missed => return Vec::new(),
        CampaignStatus::Scheduled => return ids(&deliveries),
        _ => {}
    }
    if send_by.is_some_and(|at| at <= tokio::time::Instant::now()) {
        // No time left to send any of them: back to the queue, unclaimed.
        return requeue(deps, campaign.priority, &deliveries.iter().collect::<Vec<_>>(), requeue_delay).await;
    }
    let now = deps.clock.now();
    let recipients: Vec<Recipient> = deliveries.iter().map(|d| Recipient::from_job(&d.job, now)).collect();
    let claims = match deps.recipients.claim_batch(&recipients, now, now + LEASE).await {
        Ok(claims) => claims,
        // Throttled (or briefly unavailable): nothing was sent, so the batch goes back to the
        // queue to be tried again in a few seconds, not after the whole visibility timeout.
        Err(e) if e.retryable() => {
            tracing::warn!(campaign = %campaign_id, error = %e, "claims refused; re-queued to try again shortly");
            return requeue(deps, campaign.priority, &deliveries.iter().collect::<Vec<_>>(), requeue_delay).await;
        }
        Err(e) => {
            tracing::warn!(campaign = %campaign_id, error = %e, "claims failed; retrying later");
            return ids(&deliveries);
        }
    };
    let mut failed = Vec::new();
    let mut claimed = Vec::new();
    let mut busy = Vec::new();
    let mut accepted = Vec::new();
    for (delivery, claim) in deliveries.into_iter().zip(claims) {
        match claim {
            // An earlier attempt left no outcome (its sender died, or SES's answer was lost):
            // SES may have accepted that mail. Its own record says whether.
            Ok(recipient) if recipient.attempts > 1 => {
                match deps.ledger.read(&accepted_key(campaign_id, &recipient.recipient_id), now).await {
                    Ok(None) => claimed.push(delivery),
                    Ok(Some(ses_message_id)) => accepted.push((delivery, ses_message_id)),
                    // The claim is kept until its lease runs out; the message returns after
                    // that (the visibility timeout) and is checked again.
                    Err(e) => {
                        tracing::warn!(campaign = %campaign_id, error = %e, "could not check an earlier attempt; retrying later");
                        failed.push(delivery.message_id);
                    }
                }
            }
            Ok(_) => claimed.push(delivery),
            // A duplicate of a message another instance is sending right now: look again in a
            // few seconds (not after the whole visibility timeout). Once that send is recorded
            // the copy is acknowledged; if its sender died, the copy takes over when the lease
            // runs out.
            Err(StoreError::Conflict { current }) if current == RecipientStatus::Sending => busy.push(delivery),
            // Already sent (or otherwise done): a redelivery, acknowledged without sending.
            Err(StoreError::Conflict { current }) => {
                tracing::info!(campaign = %campaign_id, recipient = %delivery.job.recipient_id, status = %current, "redelivered message for a finished recipient; not sent again");
            }
            Err(e) => {
                tracing::warn!(campaign = %campaign_id, error = %e, "claim failed; retrying later");
                failed.push(delivery.message_id);
            }
        }
    }
    failed.extend(requeue(deps, campaign.priority, &busy.iter().collect::<Vec<_>>(), requeue_delay).await);
    let accepted_ids: Vec<String> = accepted.iter().map(|(d, _)| d.message_id.clone()).collect();
    let already_sent: Vec<SendOutcome> = accepted
        .into_iter()
        .map(|(delivery, ses_message_id)| {
            tracing::info!(campaign = %campaign_id, recipient = %delivery.job.recipient_id, "SES accepted this mail before; recorded as sent, not sent again");
            let mut outcome = SendOutcome::new(delivery.job.recipient_id, RecipientStatus::Sent);
            outcome.message_id = Some(ses_message_id);
            outcome
        })
        .collect();
    if claimed.is_empty() {
        if !already_sent.is_empty() {
            match record_with_retries(deps, campaign_id, &already_sent).await {
                // These may be the campaign's last recipients (rechecked a minute after the rest).
                Ok(()) => complete_near_the_end(deps, &campaign).await,
                Err(e) => {
                    tracing::error!(campaign = %campaign_id, error = %e, "outcomes could not be recorded; the messages will return");
                    failed.extend(accepted_ids);
                }
            }
        }
        return failed;
    }
    let parked = match campaign.status {
        CampaignStatus::Cancelled => Some(RecipientStatus::Stopped),
        // Parked until the resume re-queues it: acknowledged now, so it never drifts to the DLQ.
        CampaignStatus::Paused => Some(RecipientStatus::Paused),
        _ => None,
    };
    let BatchResult { results, blocked } = if let Some(status) = parked {
        let results =
            claimed.iter().map(|d| (SendOutcome::new(d.job.recipient_id.clone(), status), Disposition::Ack)).collect();
        BatchResult { results, blocked: None }
    } else {
        send_claimed(deps, &campaign, &claimed, send_by).await
    };

    let mut outcomes = already_sent;
    let mut throttled = Vec::new();
    let mut recheck = Vec::new();
    for ((outcome, disposition), delivery) in results.into_iter().zip(&claimed) {
        match disposition {
            Disposition::Ack => {}
            Disposition::Fail => failed.push(delivery.message_id.clone()),
            Disposition::Requeue => throttled.push(delivery),
            Disposition::Recheck => recheck.push(delivery),
        }
        outcomes.push(outcome);
    }
    // Outcomes first: a re-queued recipient must be claimable again when its message returns.
    if let Err(e) = record_with_retries(deps, campaign_id, &outcomes).await {
        // Not acknowledged: the messages return after the visibility timeout, when the
        // claims have run out, and SES's record of what it accepted settles each recipient
        // as sent without mailing it again. Acknowledging would leave them `sending` forever.
        tracing::error!(campaign = %campaign_id, error = %e, outcomes = outcomes.len(), "outcomes could not be recorded; the messages will return");
        failed.extend(claimed.iter().map(|d| d.message_id.clone()).chain(accepted_ids));
        return failed;
    }
    if parked == Some(RecipientStatus::Paused) {
        // The resume's own pass may have read the parked recipients before these joined them.
        let parked: Vec<&Delivery> = claimed.iter().collect();
        match resumed_since_parking(deps, campaign_id).await {
            Some(true) => failed.extend(requeue(deps, campaign.priority, &parked, |_| Duration::ZERO).await),
            // Unreadable: looked at again after a while, parked again if still paused.
            None => failed.extend(requeue(deps, campaign.priority, &parked, |_| RECHECK_DELAY).await),
            Some(false) => {}
        }
    }
    failed.extend(requeue(deps, campaign.priority, &throttled, requeue_delay).await);
    failed.extend(requeue(deps, campaign.priority, &recheck, |_| RECHECK_DELAY).await);
    if let Some(reason) = blocked {
        pause_for_account(deps, campaign_id, &reason).await;
        return failed;
    }
    complete_near_the_end(deps, &campaign).await;
    failed
}

/// Whether the campaign runs again, read fresh after its recipients were parked: either this
/// read sees the resume, or the resume's pass comes after the parking and sees them. `None`:
/// the campaign could not be read.
async fn resumed_since_parking<P: Ports>(deps: &Deps<P>, campaign_id: &CampaignId) -> Option<bool> {
    deps.warm.campaigns.lock().unwrap().remove(campaign_id);
    match deps.campaign(campaign_id).await {
        Ok(Some(fresh)) => Some(matches!(fresh.status, CampaignStatus::Splitting | CampaignStatus::Sending)),
        Ok(None) => Some(false),
        Err(_) => None,
    }
}

/// Near the end (by counts that may be seconds old, and whatever status they were read with),
/// the batch that records the last outcomes completes the campaign.
async fn complete_near_the_end<P: Ports>(deps: &Deps<P>, campaign: &Campaign) {
    let all_senders_rate = deps.warm.pacer.rate() * f64::from(deps.config.sender_concurrency);
    if near_the_end(campaign, all_senders_rate) {
        if let Err(e) = deps.complete_if_done(&campaign.id).await {
            tracing::warn!(campaign = %campaign.id, error = %e, "could not check whether the campaign is done");
        }
    }
}

/// Whether the campaign's last recipients may be being sent, by its cached counts: the last
/// tenth, the last hundred, or what every sender together can finish in twice the cache's
/// lifetime (the counts may be that old; a fast campaign's end must not slip past them).
fn near_the_end(campaign: &Campaign, all_senders_rate: f64) -> bool {
    let c = &campaign.counters;
    let remaining = c.total.saturating_sub(c.sent + c.failed + c.skipped + c.stopped);
    let in_cache_lifetime = (all_senders_rate * CAMPAIGN_CACHE_TTL.as_secs_f64() * 2.0) as u64;
    remaining <= (c.total / 10).max(100).max(in_cache_lifetime)
}

mod dead_letters;
mod mail;
mod outcomes;
mod warm;

use mail::{send_claimed, BatchResult};
use outcomes::{pause_for_account, record_with_retries, requeue, requeue_delay};
pub use warm::Warm;

#[cfg(test)]
mod tests;
