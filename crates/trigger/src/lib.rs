//! The scheduled-send trigger: EventBridge Scheduler invokes it at a campaign's send time with
//! a [`ScheduledSend`] payload; it moves the campaign from `scheduled` to `queued` and enqueues
//! its split job.
//!
//! Scheduler delivers at least once, so the trigger is idempotent: a second delivery finds the
//! campaign already `queued` (re-enqueues the split job, which the splitter de-duplicates by
//! the campaign's status) or further along (does nothing). A payload whose generation is not
//! the campaign's current one comes from a superseded schedule and is ignored; one that fires
//! more than [`MISSED_AFTER`] late is recorded as `missed` rather than sent hours after the time.

use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::domain::{CampaignStatus, ScheduledSend, SplitJob};
use fanmail_common::ports::{Clock, OutgoingMessage, Queue};
use fanmail_common::store::iam::{Port, Uses};
use fanmail_common::store::{CampaignReader, CampaignStore, StoreError};
use fanmail_common::system::SystemClock;
use fanmail_common::wiring::{AwsAdapters, AwsPorts, MemoryAdapters, MemoryPorts, Ports};
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;

/// A schedule delivered later than this after its send time is recorded as missed.
pub const MISSED_AFTER: time::Duration = time::Duration::hours(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub campaigns_table: String,
    pub split_jobs_queue_url: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            split_jobs_queue_url: env.required(vars::SPLIT_JOBS_QUEUE_URL)?,
        })
    }
}

pub struct Deps<P: Ports> {
    pub campaigns: P::Campaigns,
    pub split_jobs: P::Queue,
    pub clock: P::Clock,
}

/// The store methods this function's code can call (the static half of the permission check).
pub const STORES: &[Uses] = &[Uses { port: Port::Campaigns, methods: &["get", "transition"] }];

impl Deps<AwsPorts> {
    /// The production wiring, shared by `main.rs` and the local runner.
    pub fn aws(aws: &AwsAdapters, config: &Config) -> Self {
        Self {
            campaigns: aws.campaigns(&config.campaigns_table),
            split_jobs: aws.queue(&config.split_jobs_queue_url),
            clock: SystemClock,
        }
    }
}

impl Deps<MemoryPorts> {
    /// Wired to one in-memory world.
    pub fn memory(world: &MemoryAdapters) -> Self {
        Self { campaigns: world.campaigns.clone(), split_jobs: world.split_jobs.clone(), clock: world.clock.clone() }
    }
}

/// What an invocation did; returned as the function's result (visible in logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerOutcome {
    Queued,
    AlreadyStarted,
    Stale,
    Missed,
    UnknownCampaign,
    InvalidPayload,
}

#[derive(Debug, Serialize)]
pub struct TriggerResult {
    pub outcome: TriggerOutcome,
}

pub async fn handler<P: Ports>(deps: &Deps<P>, event: LambdaEvent<serde_json::Value>) -> Result<TriggerResult, Error> {
    let payload: ScheduledSend = match serde_json::from_value(event.payload) {
        Ok(payload) => payload,
        Err(e) => {
            // Retrying cannot fix a malformed payload; Scheduler's DLQ is for delivery failures.
            tracing::error!(error = %e, "scheduled payload is not valid; ignored");
            return Ok(TriggerResult { outcome: TriggerOutcome::InvalidPayload });
        }
    };
    let outcome = trigger(deps, &payload).await?;
    tracing::info!(campaign = %payload.campaign_id, generation = payload.generation, outcome = ?outcome, "trigger handled");
    Ok(TriggerResult { outcome })
}

/// Entry point for both kinds of invocation: a schedule's payload, or the messages of the
/// schedule dead-letter queue (an SQS event).
pub async fn invoked<P: Ports>(
    deps: &Deps<P>,
    event: LambdaEvent<serde_json::Value>,
) -> Result<serde_json::Value, Error> {
    let from_sqs = event.payload.pointer("/Records/0/eventSource").and_then(|s| s.as_str()) == Some("aws:sqs");
    let (payload, context) = event.into_parts();
    if from_sqs {
        let messages: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(payload)?;
        // Boxed: the two futures nested in one are past the compiler's layout depth.
        let replayed = Box::pin(dead_letters(deps, LambdaEvent::new(messages, context))).await;
        return Ok(serde_json::to_value(replayed)?);
    }
    Ok(serde_json::to_value(Box::pin(handler(deps, LambdaEvent::new(payload, context))).await?)?)
}

/// Replays the schedule dead-letter queue: a delivery Scheduler could not make, or an
/// invocation that failed its retries (both carry the schedule's payload). Triggering is
/// idempotent, so a replay starts a campaign still scheduled, or, past an hour after its
/// send time, marks it `missed` with the reason: either way the campaign shows what happened.
/// One that still fails (a store refusing) comes back after the visibility timeout.
pub async fn dead_letters<P: Ports>(
    deps: &Deps<P>,
    event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>,
) -> aws_lambda_events::sqs::SqsBatchResponse {
    use fanmail_common::sqs_batch::{decode, process, RecordOutcome};
    process(event.payload, |message| async move {
        let payload: ScheduledSend = match decode(&message) {
            Ok(payload) => payload,
            Err(reason) => return RecordOutcome::Poison(reason),
        };
        match trigger(deps, &payload).await {
            Ok(outcome) => {
                tracing::warn!(campaign = %payload.campaign_id, outcome = ?outcome, "dead-lettered schedule replayed");
                RecordOutcome::Done
            }
            Err(e) => RecordOutcome::Retry(e.to_string()),
        }
    })
    .await
}

async fn trigger<P: Ports>(deps: &Deps<P>, payload: &ScheduledSend) -> Result<TriggerOutcome, Error> {
    let Some(mut campaign) = deps.campaigns.get(&payload.campaign_id).await? else {
        return Ok(TriggerOutcome::UnknownCampaign);
    };
    if campaign.schedule_generation != payload.generation {
        return Ok(TriggerOutcome::Stale);
    }
    let now = deps.clock.now();
    if campaign.status == CampaignStatus::Scheduled {
        let late = campaign.send_at.is_some_and(|at| now - at > MISSED_AFTER);
        let (to, reason) = if late {
            (CampaignStatus::Missed, Some("the schedule fired more than an hour after the send time"))
        } else {
            (CampaignStatus::Queued, None)
        };
        match deps.campaigns.transition(&campaign.id, &[CampaignStatus::Scheduled], to, reason, None, now).await {
            Ok(updated) => campaign = updated,
            // Another delivery (or a cancel) got there first: act on what it left.
            Err(StoreError::Conflict { .. }) => match deps.campaigns.get(&campaign.id).await? {
                Some(current) => campaign = current,
                None => return Ok(TriggerOutcome::UnknownCampaign),
            },
            Err(e) => return Err(e.into()),
        }
        if late {
            return Ok(TriggerOutcome::Missed);
        }
    }
    if campaign.status != CampaignStatus::Queued {
        return Ok(TriggerOutcome::AlreadyStarted);
    }
    // Queued but perhaps not enqueued (an earlier delivery failed after the transition):
    // enqueue; a duplicate split job is dropped by the splitter's status check.
    let job = SplitJob::start(campaign.id.clone());
    let body = serde_json::to_string(&job)?;
    deps.split_jobs.send_all(&[OutgoingMessage::new("split", body)]).await?;
    Ok(TriggerOutcome::Queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fanmail_common::domain::*;

    use std::str::FromStr;
    use time::macros::datetime;

    fn campaign(status: CampaignStatus, generation: u32) -> Campaign {
        let at = datetime!(2026-11-23 09:00 UTC);
        Campaign {
            id: CampaignId::parse("c1").unwrap(),
            template_id: TemplateId::parse("t1").unwrap(),
            template_version: 1,
            list_key: "lists/x.csv".into(),
            sender: Sender { address: EmailAddress::from_str("news@example.com").unwrap(), name: None, reply_to: None },
            shared_vars: Default::default(),
            status,
            status_reason: None,
            counters: Default::default(),
            created_at: at,
            updated_at: at,
            send_at: Some(at),
            schedule_generation: generation,
            idempotency_key: None,
            report_parts: 0,
            split_rows: 0,
            split_finished: false,
            max_rate: None,
            priority: Default::default(),
            created_by: None,
            updated_by: None,
            list_format: None,
            email_column: None,
            requeue: None,
        }
    }

    async fn deps_with(c: Campaign, now: time::OffsetDateTime) -> Deps<MemoryPorts> {
        let deps = Deps::memory(&MemoryAdapters::at(now));
        deps.campaigns.create(&c).await.unwrap();
        deps
    }

    async fn fire(deps: &Deps<MemoryPorts>, payload: serde_json::Value) -> TriggerOutcome {
        handler(deps, LambdaEvent::new(payload, Default::default())).await.unwrap().outcome
    }

    #[tokio::test]
    async fn a_due_schedule_queues_the_campaign_and_its_split_job() {
        let deps = deps_with(campaign(CampaignStatus::Scheduled, 2), datetime!(2026-11-23 09:00:01 UTC)).await;
        let outcome = fire(&deps, serde_json::json!({"campaignId": "c1", "generation": 2})).await;
        assert_eq!(outcome, TriggerOutcome::Queued);
        let c = deps.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
        assert_eq!(c.status, CampaignStatus::Queued);
        let sent = deps.split_jobs.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(serde_json::from_str::<SplitJob>(&sent[0].body).unwrap().campaign_id.as_str(), "c1");
    }

    /// The schedule dead-letter queue's messages, as its SQS event source delivers them.
    fn dead_lettered(bodies: &[&str]) -> serde_json::Value {
        let records: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| serde_json::json!({"messageId": format!("d{i}"), "body": body, "eventSource": "aws:sqs"}))
            .collect();
        serde_json::json!({ "Records": records })
    }

    #[tokio::test]
    async fn a_dead_lettered_schedule_is_replayed_into_a_start_or_a_missed_campaign() {
        let body = r#"{"campaignId": "c1", "generation": 2}"#;
        // Dead-lettered minutes after its time: replayed, it starts the campaign.
        let deps = deps_with(campaign(CampaignStatus::Scheduled, 2), datetime!(2026-11-23 09:20 UTC)).await;
        let answer = invoked(&deps, LambdaEvent::new(dead_lettered(&[body, "not a payload"]), Default::default()));
        let answer = answer.await.unwrap();
        assert_eq!(answer["batchItemFailures"], serde_json::json!([{"itemIdentifier": "d1"}]), "{answer}");
        let c = deps.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
        assert_eq!((c.status, deps.split_jobs.sent().len()), (CampaignStatus::Queued, 1));

        // Hours later: it shows as missed, with the reason, instead of staying scheduled.
        let deps = deps_with(campaign(CampaignStatus::Scheduled, 2), datetime!(2026-11-23 14:00 UTC)).await;
        invoked(&deps, LambdaEvent::new(dead_lettered(&[body]), Default::default())).await.unwrap();
        let c = deps.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
        assert_eq!(c.status, CampaignStatus::Missed);
        assert!(c.status_reason.is_some() && deps.split_jobs.sent().is_empty());

        // A schedule's own payload still reads as one.
        let direct = invoked(
            &deps,
            LambdaEvent::new(serde_json::json!({"campaignId": "c1", "generation": 2}), Default::default()),
        );
        assert_eq!(direct.await.unwrap()["outcome"], "already_started");
    }

    #[tokio::test]
    async fn a_superseded_generation_does_nothing() {
        let deps = deps_with(campaign(CampaignStatus::Scheduled, 3), datetime!(2026-11-23 09:00:01 UTC)).await;
        assert_eq!(fire(&deps, serde_json::json!({"campaignId": "c1", "generation": 2})).await, TriggerOutcome::Stale);
        assert!(deps.split_jobs.sent().is_empty());
    }

    #[tokio::test]
    async fn a_schedule_firing_hours_late_is_recorded_as_missed() {
        let deps = deps_with(campaign(CampaignStatus::Scheduled, 0), datetime!(2026-11-23 12:00 UTC)).await;
        assert_eq!(fire(&deps, serde_json::json!({"campaignId": "c1", "generation": 0})).await, TriggerOutcome::Missed);
        let c = deps.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
        assert_eq!(c.status, CampaignStatus::Missed);
        assert!(deps.split_jobs.sent().is_empty());
    }

    #[tokio::test]
    async fn cancelled_unknown_and_malformed_invocations_send_nothing() {
        let deps = deps_with(campaign(CampaignStatus::Cancelled, 0), datetime!(2026-11-23 09:00:01 UTC)).await;
        assert_eq!(
            fire(&deps, serde_json::json!({"campaignId": "c1", "generation": 0})).await,
            TriggerOutcome::AlreadyStarted
        );
        assert_eq!(
            fire(&deps, serde_json::json!({"campaignId": "zz", "generation": 0})).await,
            TriggerOutcome::UnknownCampaign
        );
        assert_eq!(fire(&deps, serde_json::json!({"campaign": 1})).await, TriggerOutcome::InvalidPayload);
        assert!(deps.split_jobs.sent().is_empty());
    }
}
