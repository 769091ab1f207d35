//! The local runner end to end: HTTP through the gateway, queues through the pollers, schedules
//! through the clock, all against the local endpoints.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use fanmail_common::aws::{s3_client, EventBridgeScheduler, ScheduleTarget};
use fanmail_common::domain::*;
use fanmail_common::ports::{Clock, ScheduleSpec, Scheduler};
use fanmail_common::store::{CampaignReader, CampaignStore, DynamoCampaignStore};
use fanmail_common::system::SystemClock;
use fanmail_local::pollers::{poll_once, Poller};
use fanmail_local::schedules::ScheduleClock;
use fanmail_local::Runner;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::support::{endpoints, functions_only, http, unique_name};

async fn runner() -> Runner {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    Runner::start(&endpoints(), &unique_name(), listener).await.unwrap()
}

fn campaign(id: &str, status: CampaignStatus, send_at: Option<OffsetDateTime>, generation: u32) -> Campaign {
    let now = SystemClock.now();
    Campaign {
        id: CampaignId::parse(id).unwrap(),
        template_id: TemplateId::parse("t1").unwrap(),
        template_version: 1,
        list_key: "lists/x.csv".into(),
        sender: Sender { address: EmailAddress::parse("news@example.com").unwrap(), name: None, reply_to: None },
        shared_vars: BTreeMap::new(),
        status,
        status_reason: None,
        counters: Default::default(),
        created_at: now,
        updated_at: now,
        send_at,
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

#[tokio::test]
async fn the_gateway_serves_health_uploads_and_api_gateway_errors() {
    let runner = runner().await;
    let health = http("GET", &format!("{}/health", runner.api_url), &[], Vec::new()).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["status"], "ok");

    let missing = http("GET", &format!("{}/no/such/route", runner.api_url), &[], Vec::new()).await;
    assert_eq!((missing.status, missing.json()["message"].as_str()), (404, Some("Not Found")));

    let bad = http(
        "POST",
        &format!("{}/uploads", runner.api_url),
        &[("content-type", "application/json")],
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!((bad.status, bad.json()["error"]["code"].as_str()), (400, Some("invalid_json")));

    let csv = b"email,name\nkim@example.com,Kim\n".to_vec();
    let body = serde_json::json!({"kind": "list", "contentType": "text/csv", "size": csv.len()}).to_string();
    let upload = http("POST", &format!("{}/uploads", runner.api_url), &[], body.into_bytes()).await;
    assert_eq!(upload.status, 201);
    let upload = upload.json();
    let key = upload["key"].as_str().unwrap();
    let headers: Vec<(String, String)> = upload["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let put = http("PUT", upload["uploadUrl"].as_str().unwrap(), &headers, csv.clone()).await;
    assert_eq!(put.status, 200);

    let sdk = endpoints().sdk_config().await;
    let object = s3_client(&sdk)
        .head_object()
        .bucket(runner.stack.reference("UploadBucket").unwrap())
        .key(key)
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_length(), Some(csv.len() as i64));
}

#[tokio::test]
async fn a_poison_record_redrives_to_the_dlq_and_a_handled_one_is_deleted() {
    let (runner, sqs) = runner_with_a_completed_campaign().await;

    let (queue, dlq) = queue_with_dlq(&sqs).await;
    sqs.send_message().queue_url(&queue).message_body("not json").send().await.unwrap();
    // A job for a campaign already past splitting: handled (nothing to do) and deleted.
    sqs.send_message().queue_url(&queue).message_body(r#"{"campaignId":"done"}"#).send().await.unwrap();

    let poller = test_poller(&queue);
    let mut dead = Vec::new();
    for _ in 0..20 {
        poll_once(&sqs, &runner.functions, &poller).await.unwrap();
        let out = sqs.receive_message().queue_url(&dlq).max_number_of_messages(10).send().await.unwrap();
        dead.extend(out.messages().iter().map(|m| m.body().unwrap().to_string()));
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert_eq!(dead, ["not json"], "the poison record is dead-lettered after three receives");
    assert_eq!(queue_depth(&sqs, &queue).await, 0, "the handled record was deleted");
}

#[tokio::test]
async fn an_invocation_past_its_timeout_is_stopped_and_its_messages_return_until_dead_lettered() {
    let (runner, sqs) = runner_with_a_completed_campaign().await;
    let (queue, dlq) = queue_with_dlq(&sqs).await;
    // The same job the poison test sees handled and deleted, for a splitter with no time to
    // handle it: a stopped invocation neither deletes nor fails its messages, so the queue
    // hands the job back after its visibility timeout, and dead-letters it after three tries.
    sqs.send_message().queue_url(&queue).message_body(r#"{"campaignId":"done"}"#).send().await.unwrap();
    runner.functions.set_timeout(fanmail_local::functions::SPLITTER, Duration::from_millis(1));

    let poller = test_poller(&queue);
    let mut dead = Vec::new();
    let mut handed_over = 0;
    for _ in 0..20 {
        handed_over += poll_once(&sqs, &runner.functions, &poller).await.unwrap();
        let out = sqs.receive_message().queue_url(&dlq).max_number_of_messages(10).send().await.unwrap();
        dead.extend(out.messages().iter().map(|m| m.body().unwrap().to_string()));
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert_eq!(handed_over, 3, "the job came back after each stopped invocation");
    assert_eq!(dead, [r#"{"campaignId":"done"}"#]);
}

/// A running stack whose campaign "done" is completed (a split job for it has nothing to do),
/// and an SQS client.
async fn runner_with_a_completed_campaign() -> (Runner, aws_sdk_sqs::Client) {
    let runner = runner().await;
    let sdk = endpoints().sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let campaigns = DynamoCampaignStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        runner.stack.reference("CampaignsTable").unwrap(),
    );
    campaigns.create(&campaign("done", CampaignStatus::Completed, None, 0)).await.unwrap();
    (runner, sqs)
}

/// A queue like the template's, with a 1 s visibility timeout so a test does not wait, and
/// its dead-letter queue (after three receives). Returns both URLs.
async fn queue_with_dlq(sqs: &aws_sdk_sqs::Client) -> (String, String) {
    let name = unique_name();
    let dlq = sqs.create_queue().queue_name(format!("{name}-dlq")).send().await.unwrap().queue_url.unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"3"}}"#),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (queue, dlq)
}

/// The splitter's event source on `queue`, one batch at a time.
fn test_poller(queue: &str) -> Poller {
    Poller {
        function: fanmail_local::functions::SPLITTER.into(),
        queue_url: queue.to_string(),
        queue_arn: "arn:aws:sqs:us-east-1:123456789012:test".into(),
        batch_size: 10,
        wait_seconds: 1,
        concurrency: 1,
        report_batch_item_failures: true,
    }
}

/// Messages on a queue, visible or in flight.
async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u32 {
    let out = sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::All).send().await.unwrap();
    let attributes = out.attributes().unwrap();
    let count = |name: QueueAttributeName| attributes.get(&name).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    count(QueueAttributeName::ApproximateNumberOfMessages)
        + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

fn seoul_wall_clock(at: OffsetDateTime) -> PrimitiveDateTime {
    let local = at.to_offset(UtcOffset::from_hms(9, 0, 0).unwrap()).replace_nanosecond(0).unwrap();
    PrimitiveDateTime::new(local.date(), local.time())
}

#[tokio::test]
async fn the_clock_fires_a_due_schedule_once_and_leaves_a_future_one() {
    let (sdk, stack, functions) = functions_only().await;
    let stack = &stack;
    let campaigns =
        DynamoCampaignStore::new(aws_sdk_dynamodb::Client::new(&sdk), stack.reference("CampaignsTable").unwrap());
    let now = SystemClock.now();
    campaigns
        .create(&campaign("due", CampaignStatus::Scheduled, Some(now - time::Duration::seconds(2)), 1))
        .await
        .unwrap();
    campaigns
        .create(&campaign("later", CampaignStatus::Scheduled, Some(now + time::Duration::hours(1)), 0))
        .await
        .unwrap();

    let group = stack.reference("ScheduleGroup").unwrap().to_string();
    let scheduler = EventBridgeScheduler::new(
        aws_sdk_scheduler::Client::new(&sdk),
        ScheduleTarget {
            group: group.clone(),
            target_arn: stack.attribute("TriggerFunction", "Arn").unwrap().into(),
            role_arn: stack.attribute("SchedulerRole", "Arn").unwrap().into(),
            dead_letter_arn: None,
        },
    );
    for (name, at, payload) in [
        ("due", now - time::Duration::seconds(2), r#"{"campaignId":"due","generation":1}"#),
        ("later", now + time::Duration::hours(1), r#"{"campaignId":"later","generation":0}"#),
    ] {
        let spec = ScheduleSpec {
            name: name.into(),
            at: seoul_wall_clock(at),
            timezone: "Asia/Seoul".into(),
            payload: payload.into(),
        };
        scheduler.create(&spec).await.unwrap();
    }

    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let mut clock = ScheduleClock::new(aws_sdk_scheduler::Client::new(&sdk), sqs.clone(), group, Default::default());
    assert_eq!(clock.tick(&functions, now).await.unwrap(), ["due"]);
    assert_eq!(clock.tick(&functions, now).await.unwrap(), Vec::<String>::new(), "fired once, then deleted");

    let due = campaigns.get(&CampaignId::parse("due").unwrap()).await.unwrap().unwrap();
    assert_eq!(due.status, CampaignStatus::Queued);
    assert_eq!(
        campaigns.get(&CampaignId::parse("later").unwrap()).await.unwrap().unwrap().status,
        CampaignStatus::Scheduled
    );
    assert!(scheduler.get("due").await.unwrap().is_none());
    assert!(scheduler.get("later").await.unwrap().is_some());

    assert_eq!(queue_depth(&sqs, stack.reference("SplitJobsQueue").unwrap()).await, 1, "one split job queued");
}

/// Lambda runs each concurrent invocation in an execution environment of its own, each with
/// its own warm state; with one shared instance the sender's five bulk pollers shared one
/// pacer at a fifth of the rate (2–3 mails/s under `make dev`, not 14).
#[tokio::test]
async fn each_concurrent_invocation_gets_an_execution_environment_of_its_own() {
    let runner = runner().await;
    // The template's defaults: SenderConcurrency 5 on the bulk queue, 2 on the priority queue,
    // 2 on the dead-letter queue.
    assert_eq!(runner.instances.get(fanmail_local::functions::SENDER), Some(&9), "{:?}", runner.instances);
    assert!(runner.instances.values().all(|n| *n >= 1), "{:?}", runner.instances);
}
