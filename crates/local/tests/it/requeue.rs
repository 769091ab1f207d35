//! A resume's requeue as DynamoDB pages it: the production splitter (`Deps::aws`) goes
//! through more parked recipients than one page of the status index holds, with the real
//! query cursor, and queues each once.

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use fanmail_common::domain::*;
use fanmail_common::ports::Clock;
use fanmail_common::store::fixtures;
use fanmail_common::store::{CampaignReader, CampaignStore, DynamoCampaignStore, DynamoRecipientStore, RecipientStore};
use fanmail_common::system::SystemClock;
use fanmail_local::functions::{Functions, SPLITTER};
use std::sync::atomic::Ordering;

use crate::support::{counting_sends, endpoints, stack, unique_name};

#[tokio::test]
async fn a_resume_of_more_parked_recipients_than_a_page_queues_each_once() {
    let (plain, stack) = stack().await;
    let (sdk, counters) = counting_sends(&plain, &["RecipientsQueue", "SplitJobsQueue"]);
    let overrides = fanmail_local::local_overrides(&stack, &endpoints(), "http://127.0.0.1:3000").unwrap();
    let functions = Functions::build(&sdk, &stack, &overrides).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&plain);
    let table = |name: &str| stack.reference(name).unwrap().to_string();
    let campaigns = DynamoCampaignStore::new(dynamodb.clone(), table("CampaignsTable"));
    let recipients = DynamoRecipientStore::new(dynamodb, table("RecipientsTable"));

    let mut campaign = fixtures::campaign(&unique_name());
    campaign.status = CampaignStatus::Sending;
    let parked = fanmail_splitter::REQUEUE_PAGE as u64 + 150;
    campaign.counters = CampaignCounters { total: parked, queued: parked, ..Default::default() };
    (campaign.split_rows, campaign.split_finished) = (parked, true);
    campaigns.create(&campaign).await.unwrap();
    let now = SystemClock.now();
    let jobs: Vec<RecipientJob> = (0..parked)
        .map(|n| RecipientJob {
            campaign_id: campaign.id.clone(),
            recipient_id: RecipientId::parse(format!("r{n:05}")).unwrap(),
            address: EmailAddress::parse(&format!("user{n}@requeue.example")).unwrap(),
            vars: Default::default(),
            row: n + 2,
        })
        .collect();
    for chunk in jobs.chunks(10) {
        let batch: Vec<Recipient> = chunk.iter().map(|j| Recipient::from_job(j, now)).collect();
        recipients.claim_batch(&batch, now, now + time::Duration::minutes(2)).await.unwrap();
    }
    for job in &jobs {
        let outcome = SendOutcome::new(job.recipient_id.clone(), RecipientStatus::Paused);
        recipients.finish(&campaign.id, &outcome, now).await.unwrap();
    }

    let mut event = SqsEvent::default();
    let mut message = SqsMessage::default();
    message.message_id = Some("m0".into());
    message.body = Some(serde_json::to_string(&RequeueJob::resume(campaign.id.clone())).unwrap());
    event.records.push(message);
    let response = functions.sqs(SPLITTER, event).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);

    assert_eq!(counters[0].load(Ordering::Relaxed) as u64, parked, "each parked recipient queued once");
    assert_eq!(counters[1].load(Ordering::Relaxed), 1, "and the second look handed on");
    let after = campaigns.get(&campaign.id).await.unwrap().unwrap();
    let progress = after.requeue.expect("progress on the campaign");
    assert_eq!((progress.kind, progress.requeued, progress.finished), (RequeueKind::Resume, parked, true));
}
