//! Every dead-letter queue's content reaches a state the campaign shows, through the runner's
//! pollers of the template's `DeadLetters` event sources: a split job that failed three times
//! pauses its campaign with the reason (resume goes on from its row), and a schedule delivery
//! that failed its retries is replayed into a started campaign.

use std::time::Duration;

use fanmail_common::domain::*;
use fanmail_common::ports::Clock;
use fanmail_common::store::{fixtures, CampaignReader, CampaignStore, DynamoCampaignStore};
use fanmail_common::system::SystemClock;
use fanmail_local::Runner;

use crate::support::{endpoints, unique_name};

/// The campaign once its status is no longer `from`.
async fn moved_from(campaigns: &DynamoCampaignStore, id: &CampaignId, from: CampaignStatus) -> Campaign {
    for _ in 0..240 {
        let campaign = campaigns.get(id).await.unwrap().unwrap();
        if campaign.status != from {
            return campaign;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("campaign {id} stayed {from}");
}

#[tokio::test]
async fn dead_lettered_split_jobs_and_schedules_reach_their_campaigns() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let runner = Runner::start(&endpoints(), &unique_name(), listener).await.unwrap();
    let sdk = endpoints().sdk_config().await;
    let stack = &runner.stack;
    let campaigns = DynamoCampaignStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.reference("CampaignsTable").unwrap().to_string(),
    );
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let drop_on = |queue: &str, body: String| {
        let url = stack.reference(queue).unwrap().to_string();
        let sqs = sqs.clone();
        async move { sqs.send_message().queue_url(url).message_body(body).send().await.unwrap() }
    };

    let mut splitting = fixtures::campaign(&unique_name());
    (splitting.status, splitting.split_rows) = (CampaignStatus::Splitting, 630);
    campaigns.create(&splitting).await.unwrap();
    let job = SplitJob { resume_after_row: 630, ..SplitJob::start(splitting.id.clone()) };
    drop_on("SplitJobsDeadLetterQueue", serde_json::to_string(&job).unwrap()).await;

    let mut scheduled = fixtures::campaign(&unique_name());
    (scheduled.status, scheduled.send_at, scheduled.schedule_generation) =
        (CampaignStatus::Scheduled, Some(SystemClock.now() - time::Duration::minutes(5)), 1);
    campaigns.create(&scheduled).await.unwrap();
    let payload = ScheduledSend { campaign_id: scheduled.id.clone(), generation: 1 };
    drop_on("ScheduleDeadLetterQueue", serde_json::to_string(&payload).unwrap()).await;

    let paused = moved_from(&campaigns, &splitting.id, CampaignStatus::Splitting).await;
    assert_eq!(paused.status, CampaignStatus::Paused);
    assert_eq!(paused.status_reason.as_deref(), Some(fanmail_splitter::SPLIT_DEAD_LETTERED));
    assert_eq!((paused.split_rows, paused.split_finished), (630, false), "resume goes on from row 630");
    // Replayed: queued, and its split job handed to the splitter, which moves it on.
    let started = moved_from(&campaigns, &scheduled.id, CampaignStatus::Scheduled).await;
    assert_ne!(started.status, CampaignStatus::Missed, "minutes late is still on time");
}
