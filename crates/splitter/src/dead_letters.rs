//! Jobs that reached the split-jobs dead-letter queue (three failed receives: a list the
//! splitter kept crashing on, a store that kept refusing). Each is turned into a state the
//! campaign shows, from which the user's own command takes it up again:
//!
//! - a split job pauses its campaign with the reason; `resume` goes on from the row the split
//!   had reached (the campaign keeps it), so nothing queued is queued twice and nothing is lost;
//! - a requeue job marks the campaign's requeue progress finished and dead-lettered; the same
//!   `resume` or `retry-failed` starts it again, and the recipients' claims make anything it had
//!   already queued harmless.
//!
//! A message that is not a job stays in the queue (reported failed), for someone to look at.

use aws_lambda_events::sqs::SqsMessage;
use fanmail_common::domain::{CampaignJob, CampaignStatus, RequeueJob, SplitJob};
use fanmail_common::ports::Clock;
use fanmail_common::sqs_batch::{decode, RecordOutcome};
use fanmail_common::store::{CampaignReader, CampaignStore, StoreError};
use fanmail_common::wiring::Ports;

use crate::Deps;

/// Why a campaign whose split job was dead-lettered is paused.
pub const SPLIT_DEAD_LETTERED: &str =
    "its split failed three times (the splitter's log says why); resume goes on from the last row it reached";

pub(crate) async fn settle<P: Ports>(deps: &Deps<P>, record: &SqsMessage) -> RecordOutcome {
    let settled = match decode::<CampaignJob>(record) {
        Ok(CampaignJob::Split(job)) => pause_split(deps, &job).await,
        Ok(CampaignJob::Requeue(job)) => mark_requeue(deps, &job).await,
        Err(reason) => {
            tracing::error!(message_id = ?record.message_id, reason = %reason, "undecodable dead letter; left in the queue");
            return RecordOutcome::Retry(reason);
        }
    };
    match settled {
        Ok(()) => RecordOutcome::Done,
        Err(e) => RecordOutcome::Retry(e.to_string()),
    }
}

async fn pause_split<P: Ports>(deps: &Deps<P>, job: &SplitJob) -> Result<(), StoreError> {
    let from = [CampaignStatus::Queued, CampaignStatus::Splitting];
    let now = deps.clock.now();
    match deps
        .campaigns
        .transition(&job.campaign_id, &from, CampaignStatus::Paused, Some(SPLIT_DEAD_LETTERED), None, now)
        .await
    {
        Ok(campaign) => {
            tracing::error!(campaign = %campaign.id, split_rows = campaign.split_rows, "split job dead-lettered; campaign paused");
            Ok(())
        }
        // Paused, cancelled or failed since, or split by a later run: nothing is left to settle.
        Err(StoreError::Conflict { current }) => {
            tracing::warn!(campaign = %job.campaign_id, status = %current, "split job dead-lettered; campaign left as it is");
            Ok(())
        }
        Err(StoreError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

async fn mark_requeue<P: Ports>(deps: &Deps<P>, job: &RequeueJob) -> Result<(), StoreError> {
    let Some(campaign) = deps.campaigns.get(&job.campaign_id).await? else { return Ok(()) };
    // Finished, or another kind of requeue started since: that progress stays.
    let kind = job.progress(false, deps.clock.now()).kind;
    if campaign.requeue.is_some_and(|p| p.kind != kind || p.finished) {
        return Ok(());
    }
    let progress =
        fanmail_common::domain::RequeueProgress { dead_lettered: true, ..job.progress(true, deps.clock.now()) };
    tracing::error!(campaign = %job.campaign_id, requeued = job.requeued, "requeue job dead-lettered");
    match deps.campaigns.set_requeue_progress(&job.campaign_id, &progress).await {
        Ok(()) | Err(StoreError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}
