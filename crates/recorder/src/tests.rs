use std::collections::BTreeMap;

use fanmail_common::domain::*;
use fanmail_common::memory::*;
use fanmail_common::store::*;
use fanmail_common::store::{CampaignStore, RecipientStore, SuppressionStore};
use serde_json::{json, Value};
use time::macros::datetime;

use super::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/recorder");

struct World {
    deps: Deps<MemoryPorts>,
    campaigns: MemoryCampaignStore,
    recipients: MemoryRecipientStore,
    suppressions: MemorySuppressionStore,
}

fn campaign_id() -> CampaignId {
    CampaignId::parse("c1").unwrap()
}

fn recipient_id(n: u32) -> RecipientId {
    RecipientId::parse(format!("r{n}")).unwrap()
}

fn address(n: u32) -> String {
    format!("user{n}@example.com")
}

/// A sending campaign with recipients `1..=sent` sent (SES message ids `ses-<n>`).
async fn world(sent: u32) -> World {
    let at = datetime!(2026-11-23 09:00 UTC);
    let campaigns = MemoryCampaignStore::default();
    let recipients = MemoryRecipientStore::default();
    campaigns
        .create(&Campaign {
            id: campaign_id(),
            template_id: TemplateId::parse("t").unwrap(),
            template_version: 1,
            list_key: "lists/l.csv".into(),
            sender: Sender { address: EmailAddress::parse("news@example.com").unwrap(), name: None, reply_to: None },
            shared_vars: BTreeMap::new(),
            status: CampaignStatus::Sending,
            status_reason: None,
            counters: CampaignCounters { total: u64::from(sent) + 1, sent: u64::from(sent), ..Default::default() },
            created_at: at,
            updated_at: at,
            send_at: None,
            schedule_generation: 0,
            idempotency_key: None,
            report_parts: 1,
            split_rows: u64::from(sent) + 1,
            split_finished: true,
            max_rate: None,
            priority: Default::default(),
            created_by: None,
            updated_by: None,
            list_format: None,
            email_column: None,
            requeue: None,
        })
        .await
        .unwrap();
    for n in 1..=sent + 1 {
        let job = RecipientJob {
            campaign_id: campaign_id(),
            recipient_id: recipient_id(n),
            address: EmailAddress::parse(&address(n)).unwrap(),
            vars: BTreeMap::new(),
            row: u64::from(n) + 1,
        };
        recipients.claim(&Recipient::from_job(&job, at), at, at + time::Duration::minutes(2)).await.unwrap();
        if n <= sent {
            let mut outcome = SendOutcome::new(recipient_id(n), RecipientStatus::Sent);
            outcome.message_id = Some(format!("ses-{n}"));
            recipients.finish(&campaign_id(), &outcome, at).await.unwrap();
        }
    }
    let suppressions = MemorySuppressionStore::default();
    let deps = Deps::<MemoryPorts> {
        campaigns: campaigns.clone(),
        recipients: recipients.clone(),
        results: StoreResultLog { recipients: recipients.clone(), campaigns: campaigns.clone() },
        suppressions: suppressions.clone(),
        ledger: MemoryLedger::default(),
        audit: Default::default(),
        clock: ManualClock::at(at),
    };
    World { deps, campaigns, recipients, suppressions }
}

/// An SNS → Lambda event carrying `messages`.
fn sns(messages: &[String]) -> SnsEvent {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, message)| {
            json!({
                "EventSource": "aws:sns", "EventVersion": "1.0",
                "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:t:s",
                "Sns": {
                    "Type": "Notification", "MessageId": format!("sns-{i}"),
                    "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                    "Subject": "Amazon SES Email Event Notification", "Message": message,
                    "Timestamp": "2026-11-23T09:00:05.000Z", "SignatureVersion": "1", "Signature": "x",
                    "SigningCertUrl": "https://example.com/c.pem", "UnsubscribeUrl": "https://example.com/u",
                    "MessageAttributes": {}
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// An event-publishing document about recipient `n`'s mail, tagged as the sender tags it.
fn published(kind: &str, n: u32, body: Value) -> String {
    let mut doc = json!({
        "eventType": kind,
        "mail": {
            "timestamp": "2026-11-23T09:00:01.000Z", "source": "news@example.com",
            "messageId": format!("ses-{n}"), "destination": [address(n)],
            "tags": { "ses:configuration-set": ["fanmail"], "campaign": ["c1"], "recipient": [format!("r{n}")] }
        }
    });
    let key = match kind {
        "Delivery" => "delivery",
        "Bounce" => "bounce",
        "Complaint" => "complaint",
        "Open" => "open",
        "Click" => "click",
        _ => "other",
    };
    doc[key] = body;
    doc.to_string()
}

fn delivery(n: u32) -> String {
    published("Delivery", n, json!({ "recipients": [address(n)] }))
}

fn bounce(n: u32, bounce_type: &str, ses_message: &str) -> String {
    let mut doc: Value = serde_json::from_str(&published(
        "Bounce",
        n,
        json!({ "bounceType": bounce_type, "bounceSubType": "General",
                "bouncedRecipients": [{ "emailAddress": format!("User <{}>", address(n)) }] }),
    ))
    .unwrap();
    doc["mail"]["messageId"] = json!(ses_message);
    doc.to_string()
}

fn complaint(n: u32) -> String {
    published("Complaint", n, json!({ "complainedRecipients": [{ "emailAddress": address(n) }] }))
}

async fn run(world: &World, messages: &[String]) -> Result<RecorderSummary, Error> {
    handler(&world.deps, LambdaEvent::new(sns(messages), Default::default())).await
}

async fn counters(world: &World) -> CampaignCounters {
    world.campaigns.get(&campaign_id()).await.unwrap().unwrap().counters
}

async fn status(world: &World, n: u32) -> RecipientStatus {
    world.recipients.get(&campaign_id(), &recipient_id(n)).await.unwrap().unwrap().status
}

async fn suppression_reasons(world: &World, n: u32) -> Vec<SuppressionReason> {
    let found = world.suppressions.find(&EmailAddress::parse(&address(n)).unwrap()).await.unwrap();
    found.into_iter().map(|s| s.reason).collect()
}

#[test]
fn every_fixture_parses_as_the_event_it_names() {
    let expected = [
        ("ses-send.json", "Send"),
        ("ses-delivery.json", "Delivery"),
        ("ses-bounce-permanent.json", "Bounce"),
        ("ses-bounce-suppressed.json", "Bounce"),
        ("ses-bounce-transient.json", "Bounce"),
        ("ses-bounce-undetermined.json", "Bounce"),
        ("ses-complaint.json", "Complaint"),
        ("ses-reject.json", "Reject"),
        ("ses-delivery-delay.json", "DeliveryDelay"),
        ("ses-open.json", "Open"),
        ("ses-click.json", "Click"),
        ("ses-rendering-failure.json", "Rendering Failure"),
        ("ses-subscription.json", "Subscription"),
        ("identity-bounce.json", "Bounce"),
        ("identity-complaint.json", "Complaint"),
        ("identity-delivery.json", "Delivery"),
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(FIXTURES).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let event: SnsEvent = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let parsed = SesEvent::parse(&event.records[0].sns.message);
        match name.as_str() {
            "unknown-event-type.json" => assert_eq!(parsed, Err(ParseError::Unknown("Teleport".into()))),
            "malformed-message.json" => assert!(matches!(parsed, Err(ParseError::Malformed(_)))),
            _ => {
                let (_, kind) = expected.iter().find(|(file, _)| *file == name).expect("a fixture with an expectation");
                let parsed = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(parsed.kind.name(), *kind, "{name}");
                assert_eq!(parsed.destination, [EmailAddress::parse("kim@example.com").unwrap()], "{name}");
                let tagged = name.starts_with("ses-");
                assert_eq!(parsed.campaign.is_some() && parsed.recipient.is_some(), tagged, "{name}: tags");
            }
        }
        seen += 1;
    }
    assert_eq!(seen, expected.len() + 2, "every fixture is checked");
}

#[test]
fn bounce_types_and_display_names_are_read() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/ses-bounce-transient.json")).unwrap();
    let event: SnsEvent = serde_json::from_str(&text).unwrap();
    match SesEvent::parse(&event.records[0].sns.message).unwrap().kind {
        EventKind::Bounce { bounce_type, sub_type, recipients } => {
            assert_eq!((bounce_type, sub_type.as_str()), (BounceType::Transient, "MailboxFull"));
            assert_eq!(recipients, [EmailAddress::parse("kim@example.com").unwrap()], "display name dropped");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn replays_count_once_and_a_late_delivery_never_overwrites_a_bounce() {
    let world = world(3).await;
    let summary = run(&world, &[delivery(1), delivery(1), bounce(2, "Permanent", "ses-2")]).await.unwrap();
    assert_eq!((summary.counted, summary.repeated), (2, 1));
    // SNS delivers the bounce again, and a Delivery for the bounced mail arrives late.
    run(&world, &[bounce(2, "Permanent", "ses-2"), delivery(2)]).await.unwrap();
    let c = counters(&world).await;
    assert_eq!((c.delivered, c.bounced), (2, 1), "each result counted once per recipient");
    assert_eq!(status(&world, 1).await, RecipientStatus::Delivered);
    assert_eq!(status(&world, 2).await, RecipientStatus::Bounced, "status only moves forward");
    assert_eq!(suppression_reasons(&world, 2).await, [SuppressionReason::HardBounce]);
    assert!(suppression_reasons(&world, 1).await.is_empty());
}

#[tokio::test]
async fn a_complaint_outranks_and_suppresses_and_keeps_its_reason() {
    let world = world(3).await;
    run(&world, &[delivery(3), complaint(3), bounce(3, "Permanent", "ses-3")]).await.unwrap();
    assert_eq!(status(&world, 3).await, RecipientStatus::Complained);
    assert_eq!(suppression_reasons(&world, 3).await, [SuppressionReason::Complaint], "the first reason stays");
    let c = counters(&world).await;
    assert_eq!((c.delivered, c.complained, c.bounced), (1, 1, 1));
    // In the audit trail once, as SES's doing, with its reason.
    use fanmail_common::store::AuditLog;
    let trail = world.deps.audit.list(None, 10, None).await.unwrap().items;
    assert_eq!(trail.len(), 1, "{trail:?}");
    let entry = &trail[0];
    assert_eq!((entry.actor.as_str(), entry.action.as_str()), ("ses-events", "suppression.added"));
    assert_eq!(
        (entry.subject.as_str(), entry.detail["reason"].as_str()),
        (format!("suppression/{}", address(3)).as_str(), "complaint")
    );
}

#[tokio::test]
async fn an_event_before_the_send_is_recorded_is_retried_not_lost() {
    let world = world(2).await;
    // Recipient 3 is still `sending`: its sender has not written the outcome yet.
    let early = run(&world, &[delivery(3)]).await;
    assert!(early.is_err(), "the invocation fails so Lambda delivers it again");
    assert_eq!(counters(&world).await.delivered, 0);
    assert_eq!(status(&world, 3).await, RecipientStatus::Sending, "the sender's claim is untouched");
    let mut outcome = SendOutcome::new(recipient_id(3), RecipientStatus::Sent);
    outcome.message_id = Some("ses-3".into());
    world.recipients.finish(&campaign_id(), &outcome, datetime!(2026-11-23 09:01 UTC)).await.unwrap();
    run(&world, &[delivery(3)]).await.unwrap();
    assert_eq!(counters(&world).await.delivered, 1);
    assert_eq!(status(&world, 3).await, RecipientStatus::Delivered);
}

#[tokio::test]
async fn soft_bounces_suppress_at_the_limit_and_replays_do_not_add_up() {
    let world = world(1).await;
    for (i, ses_message) in ["m-a", "m-a", "m-b"].iter().enumerate() {
        run(&world, &[bounce(1, if i == 2 { "Undetermined" } else { "Transient" }, ses_message)]).await.unwrap();
    }
    assert!(suppression_reasons(&world, 1).await.is_empty(), "two distinct soft bounces so far");
    assert_eq!(counters(&world).await.soft_bounced, 1, "counted once per recipient");
    assert_eq!(status(&world, 1).await, RecipientStatus::Sent, "a soft bounce is not a final result");
    run(&world, &[bounce(1, "Transient", "m-c")]).await.unwrap();
    assert_eq!(suppression_reasons(&world, 1).await, [SuppressionReason::RepeatedSoftBounce]);
}

#[tokio::test]
async fn identity_notifications_join_by_the_ses_message_id() {
    let world = world(2).await;
    let doc = json!({
        "notificationType": "Bounce",
        "bounce": { "bounceType": "Permanent", "bounceSubType": "NoEmail",
                    "bouncedRecipients": [{ "emailAddress": address(2) }] },
        "mail": { "messageId": "ses-2", "source": "news@example.com", "destination": [address(2)] }
    });
    let summary = run(&world, &[doc.to_string()]).await.unwrap();
    assert_eq!((summary.counted, summary.suppressed), (1, 1));
    assert_eq!(status(&world, 2).await, RecipientStatus::Bounced);
}

#[tokio::test]
async fn unknown_and_malformed_events_are_counted_and_the_rest_recorded() {
    let world = world(1).await;
    let unknown = json!({ "eventType": "Teleport", "mail": { "messageId": "x" } }).to_string();
    let no_mail = json!({ "eventType": "Bounce", "bounce": { "bounceType": "Permanent" } }).to_string();
    let foreign = published("Delivery", 9, json!({}));
    let summary =
        run(&world, &[unknown, "not json".into(), no_mail, delivery(1), foreign, published("Open", 1, json!({}))])
            .await
            .unwrap();
    assert_eq!((summary.unknown, summary.malformed, summary.counted, summary.unjoined), (1, 2, 2, 1));
    let c = counters(&world).await;
    assert_eq!((c.delivered, c.opened), (1, 1));
}

#[tokio::test]
async fn a_campaign_over_the_bounce_limit_is_paused_with_the_reason() {
    let world = world(100).await;
    let bounces: Vec<String> = (1..=4).map(|n| bounce(n, "Permanent", &format!("ses-{n}"))).collect();
    run(&world, &bounces).await.unwrap();
    assert_eq!(world.campaigns.get(&campaign_id()).await.unwrap().unwrap().status, CampaignStatus::Sending);
    let summary = run(&world, &[bounce(5, "Permanent", "ses-5")]).await.unwrap();
    assert_eq!(summary.paused, 1);
    let campaign = world.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Paused);
    assert!(campaign.status_reason.unwrap().starts_with("bounce rate 5.0%"));
}

#[tokio::test]
async fn a_send_event_records_that_ses_accepted_the_recipients_mail() {
    let world = world(1).await;
    let send = published("Send", 2, json!({}));
    run(&world, &[send.clone(), send]).await.unwrap();
    let now = world.deps.clock.now();
    let key = accepted_key(&campaign_id(), &recipient_id(2));
    assert_eq!(world.deps.ledger.read(&key, now).await.unwrap().as_deref(), Some("ses-2"));
    let other = accepted_key(&campaign_id(), &recipient_id(1));
    assert_eq!(world.deps.ledger.read(&other, now).await.unwrap(), None, "only the mail the event is about");
}

/// The messages of the recorder's dead-letter queue, as the SQS event source delivers them:
/// each body is the SNS event of an invocation that failed three times.
fn dead_lettered(events: &[SnsEvent]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .enumerate()
        .map(|(i, event)| {
            json!({
                "messageId": format!("dlq-{i}"), "receiptHandle": "r", "body": serde_json::to_string(event).unwrap(),
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:recorder-dlq",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
async fn dead_lettered_events_are_replayed_once_their_send_is_recorded_and_count_once() {
    let world = world(2).await;
    let invoke = |payload: Value| {
        let invocation: crate::Invocation = serde_json::from_value(payload).unwrap();
        crate::invoked(&world.deps, LambdaEvent::new(invocation, Default::default()))
    };
    // SNS's own invocation still reads as events.
    let direct = invoke(serde_json::to_value(sns(&[delivery(1)])).unwrap()).await.unwrap();
    assert_eq!(direct["counted"], 1, "{direct}");

    // Recipient 3's event failed its three invocations: its send is still not recorded, so
    // its replay stays in the queue; a repeat of recipient 1's counts nothing twice.
    let queue = dead_lettered(&[sns(&[delivery(3)]), sns(&[delivery(1)]), SnsEvent::default()]);
    let replay = invoke(queue.clone()).await.unwrap();
    assert_eq!(replay["batchItemFailures"], json!([{"itemIdentifier": "dlq-0"}]), "{replay}");
    assert_eq!(counters(&world).await.delivered, 1);

    let mut outcome = SendOutcome::new(recipient_id(3), RecipientStatus::Sent);
    outcome.message_id = Some("ses-3".into());
    world.recipients.finish(&campaign_id(), &outcome, datetime!(2026-11-23 09:01 UTC)).await.unwrap();
    let replay = invoke(queue).await.unwrap();
    assert_eq!(replay["batchItemFailures"], json!([]), "{replay}");
    assert_eq!(counters(&world).await.delivered, 2, "recipient 3 counted, recipient 1 not twice");
    assert_eq!(status(&world, 3).await, RecipientStatus::Delivered);
}
