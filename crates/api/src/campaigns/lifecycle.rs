//! Changing a running or scheduled campaign: reschedule, cancel, pause, resume, and retry of
//! its failed recipients (the last two re-queue in the background, see the splitter's `requeue`). Each change is a conditional write from the statuses it may leave.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::domain::{AuditAction, AuditSubject, Campaign, CampaignStatus, RequeueJob, SendAt, SplitJob};
use fanmail_common::ports::{Clock, OutgoingMessage, Queue, Scheduler, SchedulerError};
use fanmail_common::store::campaigns::complete_if_done;
use fanmail_common::store::{CampaignStore, StoreError};
use serde::Deserialize;

use crate::audit;
use crate::views::CampaignView;
use crate::{Deps, Ports};

use super::*;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScheduleInput {
    send_at: String,
    #[serde(default)]
    timezone: Option<String>,
}

/// `PUT /campaigns/{id}/schedule`: a new send time for a scheduled campaign. The campaign's
/// schedule generation goes up first, so an invocation of the old schedule is refused as stale
/// even if it fires before the schedule is updated.
pub async fn reschedule<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let input: ScheduleInput = request.json_body()?;
    let campaign = existing(&deps.campaigns, &id).await?;
    if campaign.status != CampaignStatus::Scheduled {
        return Err(ApiError::conflict(format!(
            "only a scheduled campaign can be rescheduled; this one is {}",
            campaign.status
        )));
    }
    let now = deps.clock.now();
    let at = SendAt::parse(&input.send_at, input.timezone.as_deref(), now)
        .map_err(|e| ApiError::bad_request("invalid_send_at", e.to_string()))?;
    let campaign =
        deps.campaigns.reschedule(&id, campaign.schedule_generation, at.instant, &request.caller(), now).await?;
    let spec = schedule_spec(&campaign, &at);
    let updated = match deps.scheduler.update(&spec).await {
        Err(SchedulerError::NotFound(_)) => deps.scheduler.create(&spec).await,
        other => other,
    };
    // The campaign already carries the new generation: the old schedule can no longer start it.
    updated?;
    // After the schedule: a change whose entry could not be written still has its schedule.
    audit::record(
        deps,
        request,
        AuditAction::CampaignRescheduled,
        AuditSubject::campaign(&id),
        &[
            ("sendAt", at.instant.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()),
            ("timezone", at.zone.clone()),
        ],
    )
    .await;
    tracing::info!(campaign = %id, send_at = %at.instant, zone = %at.zone, generation = campaign.schedule_generation, "campaign rescheduled");
    Ok(json_response(200, &CampaignView::from(&campaign)))
}

/// `POST /campaigns/{id}/cancel`: a scheduled campaign loses its schedule and sends nothing; a
/// running one stops (the splitter stops fanning out, the senders stop the recipients left).
pub async fn cancel<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let now = deps.clock.now();
    let live = [
        CampaignStatus::Scheduled,
        CampaignStatus::Queued,
        CampaignStatus::Splitting,
        CampaignStatus::Sending,
        CampaignStatus::Paused,
    ];
    let before = existing(&deps.campaigns, &id).await?;
    let caller = request.caller();
    let cancelled =
        deps.campaigns.transition(&id, &live, CampaignStatus::Cancelled, Some("cancelled"), Some(&caller), now);
    let campaign = match cancelled.await {
        Ok(campaign) => campaign,
        Err(StoreError::Conflict { current }) => {
            return Err(ApiError::conflict(format!("a {current} campaign cannot be cancelled")));
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        deps,
        request,
        AuditAction::CampaignCancelled,
        AuditSubject::campaign(&id),
        &[("was", before.status.to_string())],
    )
    .await;
    if before.status == CampaignStatus::Scheduled {
        match deps.scheduler.delete(&campaign.schedule_name()).await {
            Ok(()) | Err(SchedulerError::NotFound(_)) => {}
            // Harmless if it stays: the trigger finds the campaign cancelled and does nothing.
            Err(e) => tracing::warn!(campaign = %id, error = %e, "schedule of a cancelled campaign not deleted"),
        }
    }
    tracing::info!(campaign = %id, was = %before.status, "campaign cancelled");
    Ok(json_response(200, &CampaignView::from(&campaign)))
}

/// `POST /campaigns/{id}/pause`: the splitter stops at its next flush and the senders park the
/// recipients they receive; nothing is sent and nothing is lost until the resume.
pub async fn pause<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let caller = request.caller();
    match deps
        .campaigns
        .transition(
            &id,
            &CampaignStatus::RUNNING,
            CampaignStatus::Paused,
            Some("paused"),
            Some(&caller),
            deps.clock.now(),
        )
        .await
    {
        Ok(campaign) => {
            audit::record(deps, request, AuditAction::CampaignPaused, AuditSubject::campaign(&id), &[]).await;
            tracing::info!(campaign = %id, "campaign paused");
            Ok(json_response(200, &CampaignView::from(&campaign)))
        }
        Err(StoreError::Conflict { current }) => {
            Err(ApiError::conflict(format!("a {current} campaign cannot be paused")))
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /campaigns/{id}/resume`: the split continues where it stopped and every parked
/// recipient is queued again, by background work that pages through them (the splitter's
/// requeue job), however many there are; the answer is 202 with its progress, which the
/// campaign shows as it goes. A resume of a campaign already running hands the work out
/// again (a retried call, or one whose job could not be queued): a recipient queued twice is
/// sent once, as its claim decides.
pub async fn resume<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let campaign = existing(&deps.campaigns, &id).await?;
    let campaign = if matches!(campaign.status, CampaignStatus::Splitting | CampaignStatus::Sending) {
        campaign
    } else {
        let to = if campaign.split_finished { CampaignStatus::Sending } else { CampaignStatus::Splitting };
        let caller = request.caller();
        let resumed =
            deps.campaigns.transition(&id, &[CampaignStatus::Paused], to, None, Some(&caller), deps.clock.now());
        let campaign = match resumed.await {
            Ok(campaign) => campaign,
            Err(StoreError::Conflict { current }) => {
                return Err(ApiError::conflict(format!("a {current} campaign cannot be resumed")))
            }
            Err(e) => return Err(e.into()),
        };
        // Paused just as its last outcomes were counted: nothing is left to send.
        let campaign = complete_if_done(&deps.campaigns, campaign, deps.clock.now()).await?;
        if !campaign.split_finished {
            let job =
                SplitJob { campaign_id: id.clone(), resume_after_row: campaign.split_rows, run: campaign.report_parts };
            let body = serde_json::to_string(&job).map_err(ApiError::internal)?;
            deps.split_jobs.send_all(&[OutgoingMessage::new("resume", body)]).await?;
        }
        campaign
    };
    let campaign = if campaign.status == CampaignStatus::Completed {
        campaign
    } else {
        start_requeue(deps, campaign, RequeueJob::resume(id.clone())).await?
    };
    tracing::info!(campaign = %id, "campaign resumed");
    // After the follow-up: a resume whose entry could not be written still re-queues them.
    audit::record(deps, request, AuditAction::CampaignResumed, AuditSubject::campaign(&id), &[]).await;
    Ok(requeue_started(&campaign))
}

/// `POST /campaigns/{id}/retry-failed`: the recipients that failed for a transient reason or
/// were given back unsent are queued again, by background work as for a resume (released
/// first, `failed` → `queued` with the count lowered once each, then every queued recipient
/// re-queued); recipients that SES rejected, that were sent, or that are suppressed stay as
/// they are. A repeated call finds the released ones queued and queues them again, which
/// their claims make harmless.
pub async fn retry_failed<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let campaign = existing(&deps.campaigns, &id).await?;
    if !matches!(campaign.status, CampaignStatus::Sending | CampaignStatus::Completed) {
        return Err(ApiError::conflict(format!(
            "only a sending or completed campaign can retry; this one is {}",
            campaign.status
        )));
    }
    let failed = campaign.counters.failed;
    let campaign = start_requeue(deps, campaign, RequeueJob::retry_failed(id.clone())).await?;
    audit::record(
        deps,
        request,
        AuditAction::CampaignRetried,
        AuditSubject::campaign(&id),
        &[("failed", failed.to_string())],
    )
    .await;
    tracing::info!(campaign = %id, failed, "retry of failed recipients started");
    Ok(requeue_started(&campaign))
}

/// Shows the work as started on the campaign, then hands it to the splitter. In this order: a
/// job that finishes before the answer is written is never shown as unfinished.
async fn start_requeue<P: Ports>(
    deps: &Deps<P>,
    mut campaign: Campaign,
    job: RequeueJob,
) -> Result<Campaign, ApiError> {
    let progress = job.progress(false, deps.clock.now());
    deps.campaigns.set_requeue_progress(&campaign.id, &progress).await?;
    campaign.requeue = Some(progress);
    let body = serde_json::to_string(&job).map_err(ApiError::internal)?;
    deps.split_jobs.send_all(&[OutgoingMessage::new("requeue", body)]).await?;
    Ok(campaign)
}

fn requeue_started(campaign: &Campaign) -> ApiGatewayV2httpResponse {
    let view = CampaignView::from(campaign);
    json_response(202, &serde_json::json!({ "requeue": view.requeue, "campaign": view }))
}
