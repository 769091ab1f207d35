//! The result recorder: consumes SES events (configuration-set event publishing, and the older
//! identity notifications) from SNS, and turns them into recipient statuses, campaign counters,
//! suppressions and, when a campaign harms the sender's reputation, an automatic pause.
//!
//! # Rules
//!
//! - Each event joins to its campaign and recipient by the message tags the sender sets, or
//!   by SES's message id (identity notifications carry no tags).
//! - A result counts once per recipient (replays, SNS retries and repeated opens do not add
//!   up) and a status only moves forward: a late Delivery never overwrites a Bounce.
//! - An event for a recipient whose send is not yet recorded is early: the invocation fails
//!   and Lambda delivers it again later (then to the on-failure queue).
//! - Hard bounces and complaints suppress the address for every sender; soft bounces
//!   suppress it at the [`SOFT_BOUNCE_LIMIT`]th within [`SOFT_BOUNCE_WINDOW`]; an
//!   unsubscribe through SES list management suppresses it for that sender.
//! - A campaign whose bounce or complaint rate reaches the limits in
//!   [`fanmail_common::domain::auto_pause_reason`] is paused with the reason.
//! - Unknown or malformed events are logged and counted; they never fail the batch.

pub mod ses_event;

use aws_lambda_events::sns::SnsEvent;
use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::domain::{
    accepted_key, auto_pause_reason, AuditAction, AuditEntry, AuditSubject, CampaignId, DeliveryResult, EmailAddress,
    RecipientId, Suppression, SuppressionReason, SuppressionScope, ACCEPTED_LIFETIME, SES_EVENTS, SOFT_BOUNCE_LIMIT,
    SOFT_BOUNCE_WINDOW,
};
use fanmail_common::ports::Clock;
use fanmail_common::store::campaigns::pause_running;
use fanmail_common::store::iam::{Port, Uses};
use fanmail_common::store::{
    AuditLog, CampaignReader, FoundStatus, Ledger, RecipientStore, ResultLog, StoreError, SuppressionStore,
};
use fanmail_common::system::SystemClock;
use fanmail_common::wiring::{AwsAdapters, AwsPorts, MemoryAdapters, MemoryPorts, Ports};
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;
use time::OffsetDateTime;

use crate::ses_event::{BounceType, EventKind, ParseError, SesEvent};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub campaigns_table: String,
    pub recipients_table: String,
    pub suppressions_table: String,
    pub ledger_table: String,
    pub audit_table: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            recipients_table: env.required(vars::RECIPIENTS_TABLE)?,
            suppressions_table: env.required(vars::SUPPRESSIONS_TABLE)?,
            ledger_table: env.required(vars::LEDGER_TABLE)?,
            audit_table: env.required(vars::AUDIT_TABLE)?,
        })
    }
}

pub struct Deps<P: Ports> {
    pub campaigns: P::Campaigns,
    pub recipients: P::Recipients,
    pub results: P::ResultLog,
    pub suppressions: P::Suppressions,
    /// Soft-bounce tallies per address.
    pub ledger: P::Ledger,
    /// Suppressions added on SES's word, beside the API's changes.
    pub audit: P::Audit,
    pub clock: P::Clock,
}

/// The store methods this function's code can call (the static half of the permission check).
pub const STORES: &[Uses] = &[
    Uses { port: Port::Campaigns, methods: &["get", "transition"] },
    Uses { port: Port::Recipients, methods: &["find_by_message_id"] },
    Uses { port: Port::Suppressions, methods: &["add"] },
    // SES's Send records; soft bounces within their window.
    Uses { port: Port::Ledger, methods: &["record_once"] },
    Uses { port: Port::Audit, methods: &["record"] },
    Uses { port: Port::ResultLog, methods: &["record"] },
];

impl Deps<AwsPorts> {
    /// The production wiring, shared by `main.rs` and the local runner.
    pub fn aws(aws: &AwsAdapters, config: &Config) -> Self {
        Self {
            campaigns: aws.campaigns(&config.campaigns_table),
            recipients: aws.recipients(&config.recipients_table),
            results: aws.result_log(&config.recipients_table, &config.campaigns_table),
            suppressions: aws.suppressions(&config.suppressions_table),
            ledger: aws.ledger(&config.ledger_table),
            audit: aws.audit(&config.audit_table),
            clock: SystemClock,
        }
    }
}

impl Deps<MemoryPorts> {
    /// Wired to one in-memory world.
    pub fn memory(world: &MemoryAdapters) -> Self {
        Self {
            campaigns: world.campaigns.clone(),
            recipients: world.recipients.clone(),
            results: world.result_log(),
            suppressions: world.suppressions.clone(),
            ledger: world.ledger.clone(),
            audit: world.audit.clone(),
            clock: world.clock.clone(),
        }
    }
}

/// What one invocation did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RecorderSummary {
    /// Events of a known type.
    pub recognised: u32,
    pub unknown: u32,
    pub malformed: u32,
    /// Results that moved a campaign counter.
    pub counted: u32,
    /// Results already counted (replays, repeated opens and clicks).
    pub repeated: u32,
    /// Results for mails fanmail cannot place (not one of its campaigns, or long gone).
    pub unjoined: u32,
    /// Addresses newly suppressed.
    pub suppressed: u32,
    pub paused: u32,
    /// Events that must come again later (their send is not recorded yet, or a store failed).
    pub retry: u32,
}

/// The result an event reports for its recipient, if any.
fn delivery_result(kind: &EventKind) -> Option<DeliveryResult> {
    Some(match kind {
        EventKind::Delivery => DeliveryResult::Delivered,
        EventKind::Bounce { bounce_type: BounceType::Permanent, .. } => DeliveryResult::HardBounce,
        EventKind::Bounce { .. } => DeliveryResult::SoftBounce,
        EventKind::Complaint { .. } => DeliveryResult::Complaint,
        EventKind::Open => DeliveryResult::Open,
        EventKind::Click { .. } => DeliveryResult::Click,
        EventKind::Subscription { unsubscribe_all: true } => DeliveryResult::Unsubscribed,
        _ => return None,
    })
}

pub async fn handler<P: Ports>(deps: &Deps<P>, event: LambdaEvent<SnsEvent>) -> Result<RecorderSummary, Error> {
    record_all(deps, &event.payload).await
}

/// What the function is invoked with: SNS's events, or the messages of its own dead-letter
/// queue (the events of invocations that failed three times), told apart by their records.
#[derive(Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    Events(SnsEvent),
    DeadLetters(aws_lambda_events::sqs::SqsEvent),
}

/// Entry point for both kinds of invocation.
pub async fn invoked<P: Ports>(deps: &Deps<P>, event: LambdaEvent<Invocation>) -> Result<serde_json::Value, Error> {
    let (payload, context) = event.into_parts();
    match payload {
        Invocation::Events(events) => Ok(serde_json::to_value(record_all(deps, &events).await?)?),
        Invocation::DeadLetters(messages) => {
            Ok(serde_json::to_value(dead_letters(deps, LambdaEvent::new(messages, context)).await)?)
        }
    }
}

/// Replays the events of invocations that failed three times (Lambda's asynchronous
/// dead-letter queue, whose message body is the invocation's SNS event). Recording is
/// idempotent, so an event recorded meanwhile counts once; one that still cannot be recorded
/// (its send still not recorded, a store still refusing) stays in the queue and comes back
/// after its visibility timeout, kept 14 days.
pub async fn dead_letters<P: Ports>(
    deps: &Deps<P>,
    event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    fanmail_common::sqs_batch::process(event.payload, |message| async move {
        use fanmail_common::sqs_batch::{decode, RecordOutcome};
        let events: SnsEvent = match decode(&message) {
            Ok(events) => events,
            Err(reason) => return RecordOutcome::Poison(reason),
        };
        match record_all(deps, &events).await {
            Ok(summary) => {
                tracing::info!(
                    recognised = summary.recognised,
                    counted = summary.counted,
                    "dead-lettered events replayed"
                );
                RecordOutcome::Done
            }
            Err(e) => RecordOutcome::Retry(e.to_string()),
        }
    })
    .await
}

async fn record_all<P: Ports>(deps: &Deps<P>, events: &SnsEvent) -> Result<RecorderSummary, Error> {
    let mut summary = RecorderSummary::default();
    let mut last_failure = None;
    for record in &events.records {
        let sns_message_id = &record.sns.message_id;
        match SesEvent::parse(&record.sns.message) {
            Ok(ses) => {
                summary.recognised += 1;
                if let Err(e) = record_event(deps, &ses, &mut summary).await {
                    tracing::warn!(sns_message_id = %sns_message_id, event_type = ses.kind.name(), error = %e, "event must be retried");
                    summary.retry += 1;
                    last_failure = Some(e);
                }
            }
            Err(ParseError::Unknown(kind)) => {
                summary.unknown += 1;
                tracing::warn!(sns_message_id = %sns_message_id, event_type = %kind, "unknown SES event type; ignored");
            }
            Err(ParseError::Malformed(reason)) => {
                summary.malformed += 1;
                tracing::error!(sns_message_id = %sns_message_id, reason = %reason, "malformed SES event; ignored");
            }
        }
    }
    tracing::debug!(summary = ?summary, "SES events recorded");
    match last_failure {
        // Every record is idempotent, so the whole invocation can be delivered again.
        Some(e) => Err(format!("{} of {} events must be retried: {e}", summary.retry, events.records.len()).into()),
        None => Ok(summary),
    }
}

#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("the recipient is still {current}: its send is not recorded yet")]
    Early { current: FoundStatus },
    #[error(transparent)]
    Store(#[from] StoreError),
}

async fn record_event<P: Ports>(
    deps: &Deps<P>,
    ses: &SesEvent,
    summary: &mut RecorderSummary,
) -> Result<(), RecordError> {
    let now = deps.clock.now();
    let campaign = ses.campaign.as_ref();
    // Address-level effects need no campaign: they hold for identity notifications too.
    match &ses.kind {
        EventKind::Bounce { bounce_type: BounceType::Permanent, recipients, sub_type } => {
            tracing::info!(sub_type = %sub_type, "hard bounce");
            for address in recipients {
                suppress(deps, address, SuppressionScope::All, SuppressionReason::HardBounce, campaign, now, summary)
                    .await?;
            }
        }
        EventKind::Bounce { recipients, .. } => {
            for address in recipients {
                if soft_bounce_reaches_limit(deps, address, &ses.message_id, now).await? {
                    let reason = SuppressionReason::RepeatedSoftBounce;
                    suppress(deps, address, SuppressionScope::All, reason, campaign, now, summary).await?;
                }
            }
        }
        EventKind::Complaint { recipients, .. } => {
            for address in recipients {
                suppress(deps, address, SuppressionScope::All, SuppressionReason::Complaint, campaign, now, summary)
                    .await?;
            }
        }
        EventKind::Subscription { unsubscribe_all: true } => {
            if let Some(sender) = &ses.source {
                let scope = SuppressionScope::of_sender(sender);
                for address in &ses.destination {
                    suppress(deps, address, scope.clone(), SuppressionReason::Unsubscribed, campaign, now, summary)
                        .await?;
                }
            }
        }
        // SES accepted a mail: a sender about to mail this recipient again (its earlier
        // attempt left no outcome) reads this first and does not.
        EventKind::Send => {
            if let (Some(campaign), Some(recipient)) = (&ses.campaign, &ses.recipient) {
                let key = accepted_key(campaign, recipient);
                deps.ledger.record_once(&key, &ses.message_id, now, ACCEPTED_LIFETIME).await?;
            }
        }
        EventKind::Reject { reason } => tracing::warn!(reason = %reason, "SES rejected a mail after accepting it"),
        EventKind::RenderingFailure { error } => tracing::warn!(error = %error, "SES could not render a mail"),
        EventKind::DeliveryDelay { delay_type } => tracing::info!(delay_type = %delay_type, "delivery delayed"),
        _ => {}
    }
    let Some(result) = delivery_result(&ses.kind) else { return Ok(()) };
    let Some((campaign, recipient)) = join(deps, ses).await? else {
        summary.unjoined += 1;
        tracing::info!(ses_message_id = %ses.message_id, event_type = ses.kind.name(), "event for a mail of no known campaign");
        return Ok(());
    };
    match deps.results.record(&campaign, &recipient, result, now).await {
        Ok(recorded) if recorded.counted => {
            summary.counted += 1;
            if matches!(result, DeliveryResult::HardBounce | DeliveryResult::Complaint) {
                pause_if_harmful(deps, &campaign, summary).await?;
            }
        }
        Ok(_) => summary.repeated += 1,
        Err(StoreError::Conflict { current }) => return Err(RecordError::Early { current }),
        Err(StoreError::NotFound(what)) => {
            summary.unjoined += 1;
            tracing::info!(what = %what, "event for a recipient that is not stored");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

async fn join<P: Ports>(deps: &Deps<P>, ses: &SesEvent) -> Result<Option<(CampaignId, RecipientId)>, StoreError> {
    if let (Some(campaign), Some(recipient)) = (&ses.campaign, &ses.recipient) {
        return Ok(Some((campaign.clone(), recipient.clone())));
    }
    deps.recipients.find_by_message_id(&ses.message_id).await
}

/// Puts the address on the suppression list unless it already is for that scope.
#[allow(clippy::too_many_arguments)]
async fn suppress<P: Ports>(
    deps: &Deps<P>,
    address: &EmailAddress,
    scope: SuppressionScope,
    reason: SuppressionReason,
    campaign: Option<&CampaignId>,
    now: OffsetDateTime,
    summary: &mut RecorderSummary,
) -> Result<(), StoreError> {
    let suppression =
        Suppression { address: address.clone(), scope, reason, campaign_id: campaign.cloned(), created_at: now };
    if deps.suppressions.add(&suppression).await? {
        let mut entry =
            AuditEntry::new(now, SES_EVENTS, AuditAction::SuppressionAdded, AuditSubject::suppression(address))
                .with("reason", reason)
                .with("scope", suppression.scope.key());
        if let Some(campaign) = campaign {
            entry = entry.with("campaign", campaign);
        }
        deps.audit.record(&entry).await?;
        summary.suppressed += 1;
        tracing::info!(address = %address.redacted(), reason = %reason, "address suppressed");
    }
    Ok(())
}

/// Tallies a soft bounce of one mail (a replay of the same mail counts once) and tells whether
/// it is the address's [`SOFT_BOUNCE_LIMIT`]th. The tally is a row of ledger slots, each taken
/// once and expiring after the window.
async fn soft_bounce_reaches_limit<P: Ports>(
    deps: &Deps<P>,
    address: &EmailAddress,
    ses_message_id: &str,
    now: OffsetDateTime,
) -> Result<bool, StoreError> {
    for slot in 1..=SOFT_BOUNCE_LIMIT {
        let key = format!("soft-bounce#{address}#{slot}");
        match deps.ledger.record_once(&key, ses_message_id, now, SOFT_BOUNCE_WINDOW).await? {
            None => return Ok(slot == SOFT_BOUNCE_LIMIT),
            Some(first) if first == ses_message_id => return Ok(false),
            Some(_) => continue,
        }
    }
    Ok(false)
}

async fn pause_if_harmful<P: Ports>(
    deps: &Deps<P>,
    id: &CampaignId,
    summary: &mut RecorderSummary,
) -> Result<(), StoreError> {
    let Some(campaign) = deps.campaigns.get(id).await? else { return Ok(()) };
    let Some(reason) = auto_pause_reason(&campaign.counters) else { return Ok(()) };
    if pause_running(&deps.campaigns, id, &reason, deps.clock.now()).await?.is_some() {
        summary.paused += 1;
        tracing::warn!(campaign = %id, reason = %reason, "campaign paused automatically");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
