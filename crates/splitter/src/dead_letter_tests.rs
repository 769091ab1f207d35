//! Jobs from the split-jobs dead-letter queue become a state the campaign shows.

use fanmail_common::domain::*;
use fanmail_common::ports::Clock;
use fanmail_common::store::{CampaignReader, CampaignStore};
use fanmail_common::wiring::MemoryAdapters;
use lambda_runtime::LambdaEvent;
use time::macros::datetime;

use crate::tests::{campaign_id, event, stored_campaign};
use crate::{handler, Deps, SPLIT_DEAD_LETTERED};

const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:split-jobs-dlq";

fn deps() -> Deps<fanmail_common::wiring::MemoryPorts> {
    let deps = Deps::memory(&MemoryAdapters::at(datetime!(2026-11-23 09:00 UTC)));
    Deps { dead_letter_queue_arn: Some(DLQ_ARN.into()), ..deps }
}

/// Delivers `bodies` as the dead-letter queue's records; answers the ids reported failed.
async fn dead_letters(deps: &Deps<fanmail_common::wiring::MemoryPorts>, bodies: &[String]) -> Vec<String> {
    let mut event = event(bodies);
    for record in &mut event.records {
        record.event_source_arn = Some(DLQ_ARN.into());
    }
    let response = handler(deps, LambdaEvent::new(event, Default::default())).await.unwrap();
    response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}

#[tokio::test]
async fn a_dead_split_job_pauses_its_campaign_with_the_reason_and_keeps_where_it_got() {
    let deps = deps();
    let at = deps.clock.now();
    let campaign = Campaign { status: CampaignStatus::Splitting, split_rows: 600, ..stored_campaign(at) };
    deps.campaigns.create(&campaign).await.unwrap();
    let job = SplitJob { resume_after_row: 600, ..SplitJob::start(campaign_id()) };
    assert!(dead_letters(&deps, &[serde_json::to_string(&job).unwrap()]).await.is_empty());
    let after = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(after.status, CampaignStatus::Paused, "not left splitting for ever");
    assert_eq!(after.status_reason.as_deref(), Some(SPLIT_DEAD_LETTERED));
    assert_eq!((after.split_rows, after.split_finished), (600, false), "resume goes on from row 600");
    assert!(deps.split_jobs.sent().is_empty(), "the job is not run again by itself");

    // A campaign that moved on (cancelled since) is left as it is.
    deps.campaigns
        .transition(&campaign_id(), &[CampaignStatus::Paused], CampaignStatus::Cancelled, None, None, at)
        .await
        .unwrap();
    assert!(dead_letters(&deps, &[serde_json::to_string(&job).unwrap()]).await.is_empty());
    assert_eq!(deps.campaigns.get(&campaign_id()).await.unwrap().unwrap().status, CampaignStatus::Cancelled);
}

#[tokio::test]
async fn a_dead_requeue_job_shows_as_dead_lettered_progress_and_a_stray_message_stays() {
    let deps = deps();
    let at = deps.clock.now();
    deps.campaigns.create(&Campaign { status: CampaignStatus::Sending, ..stored_campaign(at) }).await.unwrap();
    let job = RequeueJob { requeued: 1_000, cursor: Some("k".into()), ..RequeueJob::retry_failed(campaign_id()) };
    deps.campaigns.set_requeue_progress(&campaign_id(), &job.progress(false, at)).await.unwrap();
    let failed = dead_letters(&deps, &[serde_json::to_string(&job).unwrap(), "not a job".into()]).await;
    assert_eq!(failed, ["m1"], "the job is settled; what is not a job stays for someone to read");
    let progress = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap().requeue.unwrap();
    assert_eq!(
        (progress.kind, progress.requeued, progress.finished, progress.dead_lettered),
        (RequeueKind::RetryFailed, 1_000, true, true)
    );
}
