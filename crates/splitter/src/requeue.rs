//! Requeue jobs: a resume's parked recipients, or a retry's failed ones, put back on the
//! campaign's recipients queue a page at a time. A run pages on until it nears the Lambda
//! deadline, then queues its continuation with the store's cursor and its counts, so a campaign
//! of any size is gone through however often a run dies: a re-run re-queues a page again,
//! which the senders' claims make harmless, and a release is counted once per recipient.
//! Each page writes the progress the campaign view shows.

use std::time::Duration;

use fanmail_common::domain::{Campaign, CampaignStatus, Priority, Recipient, RecipientJob, RequeueJob, RequeueStep};
use fanmail_common::ports::{Clock, OutgoingMessage, Queue};
use fanmail_common::sqs_batch::RecordOutcome;
use fanmail_common::store::{CampaignReader, CampaignStore, RecipientStore, SendLog, StoreError};
use fanmail_common::wiring::Ports;

use crate::{Deps, SplitError, DEADLINE_MARGIN};

/// Recipients read per page.
pub const PAGE: u32 = 1000;
/// Failed recipients released per page: each release is a transaction of its own (the
/// recipient and its count), so a page stays well inside a run's deadline margin.
pub const RELEASE_PAGE: u32 = 100;
/// How long after a resume's first pass its second look starts. A sender that parks a
/// recipient after the resume sees the resume itself and queues it again; this look is for one
/// parked just before, which the status index (eventually consistent) may show late.
pub const SECOND_LOOK_DELAY: Duration = Duration::from_secs(60);

pub(crate) async fn requeue<P: Ports>(
    deps: &Deps<P>,
    job: &RequeueJob,
    deadline: Option<time::OffsetDateTime>,
) -> Result<RecordOutcome, SplitError> {
    let mut job = job.clone();
    loop {
        let Some(mut campaign) = deps.campaigns.get(&job.campaign_id).await? else {
            return Ok(RecordOutcome::Poison(format!("campaign {} does not exist", job.campaign_id)));
        };
        if !may_requeue(job.requeue, campaign.status) {
            // Paused, cancelled or done again since: a later resume or retry starts afresh.
            tracing::info!(campaign = %campaign.id, status = %campaign.status, step = ?job.requeue, "requeue stopped");
            return finish(deps, &job).await;
        }
        let size = if job.requeue == RequeueStep::ReleaseFailed { RELEASE_PAGE } else { PAGE };
        let page =
            deps.recipients.list_by_status(&campaign.id, job.requeue.reads(), size, job.cursor.as_deref()).await?;
        match job.requeue {
            // Queued at once, not left to the queued step: the status index may show them
            // `queued` only later. That step may queue them again, which their claims make
            // harmless.
            RequeueStep::ReleaseFailed => {
                let retryable: Vec<Recipient> = page.items.into_iter().filter(|r| r.retryable).collect();
                let ids: Vec<_> = retryable.iter().map(|r| r.recipient_id.clone()).collect();
                job.released += deps.send_log.release_failed(&campaign.id, &ids, deps.clock.now()).await?;
                if !retryable.is_empty() {
                    if campaign.status == CampaignStatus::Completed {
                        campaign = reopen(deps, &campaign).await?;
                    }
                    job.requeued += send(deps, campaign.priority, &retryable).await?;
                }
            }
            RequeueStep::Queued if !page.items.is_empty() && campaign.status == CampaignStatus::Completed => {
                campaign = reopen(deps, &campaign).await?;
                job.requeued += send(deps, campaign.priority, &page.items).await?;
            }
            RequeueStep::Parked | RequeueStep::Queued => {
                job.requeued += send(deps, campaign.priority, &page.items).await?;
            }
        }
        job.cursor = page.next;
        if job.cursor.is_none() {
            match job.requeue.next() {
                Some(step) => job.requeue = step,
                None if job.requeue == RequeueStep::Parked && !job.second_look => {
                    let second = RequeueJob { second_look: true, ..job.clone() };
                    continue_later(deps, &second, Some(SECOND_LOOK_DELAY)).await?;
                    return finish(deps, &job).await;
                }
                None => return finish(deps, &job).await,
            }
        }
        deps.campaigns.set_requeue_progress(&campaign.id, &job.progress(false, deps.clock.now())).await?;
        if deadline.is_some_and(|d| d - deps.clock.now() < DEADLINE_MARGIN) {
            continue_later(deps, &job, None).await?;
            tracing::info!(campaign = %campaign.id, requeued = job.requeued, released = job.released, "requeue continues in a new run");
            return Ok(RecordOutcome::Done);
        }
    }
}

/// A resume goes on while the campaign runs; a retry while it sends or has completed.
fn may_requeue(step: RequeueStep, status: CampaignStatus) -> bool {
    match step {
        RequeueStep::Parked => matches!(status, CampaignStatus::Splitting | CampaignStatus::Sending),
        RequeueStep::ReleaseFailed | RequeueStep::Queued => {
            matches!(status, CampaignStatus::Sending | CampaignStatus::Completed)
        }
    }
}

/// A completed campaign whose released recipients are queued again is sending again.
async fn reopen<P: Ports>(deps: &Deps<P>, campaign: &Campaign) -> Result<Campaign, SplitError> {
    let now = deps.clock.now();
    let reopened =
        deps.campaigns.transition(&campaign.id, &[CampaignStatus::Completed], CampaignStatus::Sending, None, None, now);
    match reopened.await {
        Ok(campaign) => Ok(campaign),
        // Reopened by an earlier run of this job, or by another retry.
        Err(StoreError::Conflict { .. }) => Ok(campaign.clone()),
        Err(e) => Err(e.into()),
    }
}

async fn finish<P: Ports>(deps: &Deps<P>, job: &RequeueJob) -> Result<RecordOutcome, SplitError> {
    match deps.campaigns.set_requeue_progress(&job.campaign_id, &job.progress(true, deps.clock.now())).await {
        Ok(()) | Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(campaign = %job.campaign_id, requeued = job.requeued, released = job.released, second_look = job.second_look, "requeue finished");
    Ok(RecordOutcome::Done)
}

async fn continue_later<P: Ports>(deps: &Deps<P>, job: &RequeueJob, delay: Option<Duration>) -> Result<(), SplitError> {
    let body = serde_json::to_string(job).expect("jobs serialise");
    let mut message = OutgoingMessage::new("requeue", body);
    message.delay = delay;
    deps.split_jobs.send_all(&[message]).await?;
    Ok(())
}

/// Puts stored recipients back on their campaign's recipients queue; returns how many.
async fn send<P: Ports>(deps: &Deps<P>, priority: Priority, recipients: &[Recipient]) -> Result<u64, SplitError> {
    let messages: Vec<OutgoingMessage> = recipients
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let body = serde_json::to_string(&RecipientJob::from(r)).expect("jobs serialise");
            OutgoingMessage::new(i.to_string(), body).in_group(r.campaign_id.as_str())
        })
        .collect();
    deps.recipient_jobs.for_priority(priority).send_all(&messages).await?;
    Ok(messages.len() as u64)
}
