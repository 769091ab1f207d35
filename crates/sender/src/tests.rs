use std::collections::BTreeMap;

use aws_lambda_events::sqs::SqsMessage;
use fanmail_common::domain::*;
use fanmail_common::memory::*;
use fanmail_common::ports::{MailError, SendQuota};
use fanmail_common::store::*;
use fanmail_common::store::{CampaignStore, RecipientStore, StoreSendLog, SuppressionStore, TemplateStore};
use time::macros::datetime;

use super::*;

struct World {
    deps: Deps<MemoryPorts>,
    mailer: MemoryMailer,
    queue: MemoryQueue,
    /// Where high-priority campaigns' mails are re-queued.
    priority_queue: MemoryQueue,
    recipients: MemoryRecipientStore,
    campaigns: MemoryCampaignStore,
    suppressions: MemorySuppressionStore,
}

const KEY: &[u8] = b"a test key of at least thirty-two bytes";

fn config() -> Config {
    config_at(1000, 1)
}

/// An account's rate shared by `concurrency` sender instances.
fn config_at(rate: u32, concurrency: u32) -> Config {
    let env = Env::from_lookup(|k| {
        Some(match k {
            vars::MAX_SEND_RATE => rate.to_string(),
            vars::SENDER_CONCURRENCY => concurrency.to_string(),
            vars::PUBLIC_BASE_URL => "https://api.example.com".to_string(),
            vars::RECIPIENT_RETENTION_DAYS => "30".to_string(),
            other => format!("value-of-{other}"),
        })
    });
    Config::from_env(&env).unwrap()
}

async fn world(status: CampaignStatus) -> World {
    world_with(status, config()).await
}

async fn world_with(status: CampaignStatus, config: Config) -> World {
    let at = datetime!(2026-11-23 09:00 UTC);
    let templates = MemoryTemplateStore::default();
    templates
        .put_version(&Template {
            id: TemplateId::parse("t").unwrap(),
            version: 1,
            name: "t".into(),
            subject: "Hello {{name}}".into(),
            html: "<p>Hi {{name}} from {{brand}}</p>".into(),
            text: "Hi {{name}}".into(),
            created_at: at,
            created_by: None,
        })
        .await
        .unwrap();
    let campaigns = MemoryCampaignStore::default();
    campaigns
        .create(&Campaign {
            id: CampaignId::parse("c1").unwrap(),
            template_id: TemplateId::parse("t").unwrap(),
            template_version: 1,
            list_key: "lists/l.csv".into(),
            sender: Sender {
                address: EmailAddress::parse("news@example.com").unwrap(),
                name: Some("뉴스".into()),
                reply_to: None,
            },
            shared_vars: BTreeMap::from([("brand".into(), "fanmail".into())]),
            status,
            status_reason: None,
            counters: CampaignCounters { total: 3, queued: 3, ..Default::default() },
            created_at: at,
            updated_at: at,
            send_at: None,
            schedule_generation: 0,
            idempotency_key: None,
            report_parts: 1,
            split_rows: 3,
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
    let recipients = MemoryRecipientStore::default();
    let ledger = MemoryLedger::default();
    let mailer = MemoryMailer::default();
    let (queue, priority_queue) = (MemoryQueue::default(), MemoryQueue::default());
    let suppressions = MemorySuppressionStore::default();
    let deps = Deps {
        templates,
        campaigns: campaigns.clone(),
        recipients: recipients.clone(),
        suppressions: suppressions.clone(),
        send_log: StoreSendLog { recipients: recipients.clone(), campaigns: campaigns.clone(), ledger: ledger.clone() },
        ledger,
        mailer: mailer.clone(),
        requeue: RecipientQueues { bulk: queue.clone(), priority: priority_queue.clone() },
        clock: ManualClock::at(at),
        warm: Warm::new(&config),
        config,
        unsubscribe_key: UnsubscribeKey::new(KEY.to_vec()).unwrap(),
    };
    World { deps, mailer, queue, priority_queue, recipients, campaigns, suppressions }
}

fn job(n: u32) -> RecipientJob {
    RecipientJob {
        campaign_id: CampaignId::parse("c1").unwrap(),
        recipient_id: RecipientId::parse(format!("r{n}")).unwrap(),
        address: EmailAddress::parse(&format!("user{n}@example.com")).unwrap(),
        vars: BTreeMap::from([("name".into(), format!("User {n} <b>"))]),
        row: n as u64 + 1,
    }
}

fn event(bodies: &[(String, u32)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (i, (body, receive_count)) in bodies.iter().enumerate() {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m{i}"));
        m.body = Some(body.clone());
        m.attributes.insert("ApproximateReceiveCount".into(), receive_count.to_string());
        event.records.push(m);
    }
    event
}

async fn deliver(world: &World, jobs: &[RecipientJob], receive_count: u32) -> Vec<String> {
    let bodies: Vec<_> = jobs.iter().map(|j| (serde_json::to_string(j).unwrap(), receive_count)).collect();
    let response = handler(&world.deps, LambdaEvent::new(event(&bodies), Default::default())).await.unwrap();
    response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}

/// As [`deliver`], in an invocation whose deadline is `timeout` after the world's now.
async fn deliver_within(world: &World, jobs: &[RecipientJob], timeout: Duration) -> Vec<String> {
    let bodies: Vec<_> = jobs.iter().map(|j| (serde_json::to_string(j).unwrap(), 1)).collect();
    let mut context = lambda_runtime::Context::default();
    let deadline = world.deps.clock.now() + timeout;
    context.deadline = u64::try_from((deadline - time::OffsetDateTime::UNIX_EPOCH).whole_milliseconds()).unwrap();
    let response = handler(&world.deps, LambdaEvent::new(event(&bodies), context)).await.unwrap();
    response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}

async fn recipient(world: &World, n: u32) -> Recipient {
    world
        .recipients
        .get(&CampaignId::parse("c1").unwrap(), &RecipientId::parse(format!("r{n}")).unwrap())
        .await
        .unwrap()
        .unwrap()
}

async fn counters(world: &World) -> CampaignCounters {
    world.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap().counters
}

#[tokio::test]
async fn every_recipient_gets_one_personal_mail_tagged_for_its_results() {
    let world = world(CampaignStatus::Sending).await;
    let failed = deliver(&world, &[job(1), job(2), job(3)], 1).await;
    assert!(failed.is_empty());
    let sent = world.mailer.sent();
    assert_eq!(sent.len(), 3);
    let (message_id, mail) = sent.iter().find(|(_, m)| m.to.as_str() == "user2@example.com").unwrap();
    assert_eq!(mail.subject, "Hello User 2 <b>");
    assert!(mail.html.starts_with("<p>Hi User 2 &lt;b&gt; from fanmail</p>"), "{}", mail.html);
    assert_eq!(mail.from, "=?UTF-8?B?64m07Iqk?= <news@example.com>");
    // One-click unsubscribe (RFC 8058): a signed link naming this recipient, sender and campaign,
    // in the headers and in the default footer of a template that has none.
    let header =
        |name: &str| mail.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.clone()).collect::<Vec<_>>();
    assert_eq!(header("List-Unsubscribe-Post"), ["List-Unsubscribe=One-Click"]);
    let [link] = &header("List-Unsubscribe")[..] else { panic!("one List-Unsubscribe header") };
    let url = link.strip_prefix('<').and_then(|l| l.strip_suffix('>')).unwrap();
    let token = url.strip_prefix("https://api.example.com/unsubscribe?token=").unwrap();
    let named = UnsubscribeToken::verify(token, KEY).unwrap();
    assert_eq!(named.address.as_str(), "user2@example.com");
    assert_eq!(named.sender.as_str(), "news@example.com");
    assert_eq!(named.campaign.as_str(), "c1");
    assert!(mail.text.contains(url), "the text footer links it too: {}", mail.text);
    assert!(mail.tags.contains(&("campaign".into(), "c1".into())));
    assert!(mail.tags.contains(&("recipient".into(), "r2".into())));
    let r2 = recipient(&world, 2).await;
    assert_eq!((r2.status, r2.message_id.as_deref()), (RecipientStatus::Sent, Some(message_id.as_str())));
    assert_eq!(counters(&world).await.sent, 3);
}

#[tokio::test]
async fn a_redelivered_message_is_acknowledged_without_a_second_mail() {
    let world = world(CampaignStatus::Sending).await;
    deliver(&world, &[job(1), job(2)], 1).await;
    let failed = deliver(&world, &[job(1), job(2)], 2).await;
    assert!(failed.is_empty());
    assert_eq!(world.mailer.sent().len(), 2);
    assert_eq!(counters(&world).await.sent, 2);
}

#[tokio::test]
async fn a_duplicate_of_a_message_being_sent_elsewhere_is_requeued_then_acknowledged() {
    let world = world(CampaignStatus::Sending).await;
    // Another instance holds the claim and is sending right now.
    let now = world.deps.clock.now();
    let elsewhere = Recipient::from_job(&job(1), now);
    world.recipients.claim_batch(&[elsewhere], now, now + LEASE).await.unwrap().remove(0).unwrap();
    let failed = deliver(&world, &[job(1), job(2)], 1).await;
    assert!(failed.is_empty(), "not left to the visibility timeout: {failed:?}");
    assert_eq!(world.mailer.sent().len(), 1, "only the free recipient was sent");
    let requeued = world.queue.sent();
    assert_eq!(requeued.len(), 1);
    assert!(requeued[0].delay.is_some_and(|d| d <= Duration::from_secs(10)));
    let copy: RecipientJob = serde_json::from_str(&requeued[0].body).unwrap();
    assert_eq!(copy.recipient_id, job(1).recipient_id);

    // The other instance records its send; the copy then finds it done and sends nothing.
    world.deps.send_log.record(&copy.campaign_id, &[sent_outcome(1)], now).await.unwrap();
    assert!(deliver(&world, &[copy], 1).await.is_empty());
    assert_eq!((world.mailer.sent().len(), world.queue.sent().len()), (1, 1));
    assert_eq!(counters(&world).await.sent, 2);
}

fn sent_outcome(n: u32) -> SendOutcome {
    let mut outcome = SendOutcome::new(job(n).recipient_id, RecipientStatus::Sent);
    outcome.message_id = Some(format!("elsewhere-{n}"));
    outcome
}

#[tokio::test(start_paused = true)]
async fn at_a_low_rate_a_throttled_mail_is_sent_after_a_pause_in_the_same_invocation() {
    // The sandbox's 1/s shared by five instances: a trip through the queue would cost more.
    let world = world_with(CampaignStatus::Sending, config_at(1, 5)).await;
    world.mailer.fail_next(MailError::Throttled);
    let started = tokio::time::Instant::now();
    assert!(deliver(&world, &[job(1)], 1).await.is_empty());
    assert!(started.elapsed() >= Duration::from_secs(1), "the instance paused after the throttle");
    assert_eq!((world.mailer.calls(), world.mailer.sent().len()), (2, 1));
    assert!(world.queue.sent().is_empty(), "not re-queued");
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Sent);
}

#[tokio::test(start_paused = true)]
async fn a_campaign_with_its_own_max_rate_is_sent_no_faster() {
    // The account allows 1,000/s; the campaign asks for 2/s (one instance: all of it).
    let world = world(CampaignStatus::Sending).await;
    let id = CampaignId::parse("c1").unwrap();
    let mut campaign = world.campaigns.get(&id).await.unwrap().unwrap();
    campaign.max_rate = Some(2);
    world.campaigns.create(&Campaign { id: CampaignId::parse("c2").unwrap(), ..campaign.clone() }).await.unwrap();
    let jobs: Vec<RecipientJob> =
        (0..6).map(|n| RecipientJob { campaign_id: CampaignId::parse("c2").unwrap(), ..job(n) }).collect();
    let started = tokio::time::Instant::now();
    assert!(deliver(&world, &jobs, 1).await.is_empty());
    assert_eq!(world.mailer.sent().len(), 6);
    // Two at once (a second's worth), then one every half second.
    assert!(started.elapsed() >= Duration::from_millis(2000), "{:?}", started.elapsed());
    // The same six without a ceiling go at the account's rate.
    let started = tokio::time::Instant::now();
    let jobs: Vec<RecipientJob> = (10..16).map(job).collect();
    deliver(&world, &jobs, 1).await;
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
}

#[tokio::test(start_paused = true)]
async fn at_a_low_rate_a_mail_throttled_again_and_again_is_requeued() {
    let world = world_with(CampaignStatus::Sending, config_at(1, 5)).await;
    for _ in 0..THROTTLE_TRIES {
        world.mailer.fail_next(MailError::Throttled);
    }
    assert!(deliver_within(&world, &[job(1)], Duration::from_secs(30)).await.is_empty());
    assert_eq!((world.mailer.calls(), world.queue.sent().len()), (u64::from(THROTTLE_TRIES), 1));
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Queued);
}

#[tokio::test]
async fn a_throttled_claim_sends_the_batch_back_to_be_tried_again_in_seconds() {
    let world = world(CampaignStatus::Sending).await;
    world.recipients.throttle_next_claims(1);
    assert!(deliver(&world, &[job(1), job(2)], 1).await.is_empty(), "acknowledged: re-queued instead");
    assert!(world.mailer.sent().is_empty());
    let requeued = world.queue.sent();
    assert_eq!(requeued.len(), 2);
    assert!(requeued.iter().all(|m| m.delay.is_some_and(|d| d < Duration::from_secs(10))));
    let again: Vec<RecipientJob> = requeued.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert!(deliver(&world, &again, 1).await.is_empty());
    assert_eq!(world.mailer.sent().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_high_priority_campaigns_throttled_mail_goes_back_to_the_priority_queue() {
    let world = world(CampaignStatus::Sending).await;
    let mut campaign = world.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
    campaign.priority = Priority::High;
    let urgent = CampaignId::parse("urgent").unwrap();
    world.campaigns.create(&Campaign { id: urgent.clone(), ..campaign }).await.unwrap();
    world.mailer.fail_next(MailError::Throttled);
    assert!(deliver(&world, &[RecipientJob { campaign_id: urgent, ..job(1) }], 1).await.is_empty());
    assert!(world.queue.sent().is_empty(), "not behind the bulk backlog");
    assert_eq!(world.priority_queue.sent().len(), 1);
    assert_eq!(world.priority_queue.sent()[0].group.as_deref(), Some("urgent"));
}

#[tokio::test(start_paused = true)]
async fn at_a_high_rate_a_throttled_mail_is_requeued_at_once_not_failed_and_then_sent_once() {
    // 1,000/s: the instance's ten sends in flight are worth more than one mail's pause.
    let world = world(CampaignStatus::Sending).await;
    world.mailer.fail_next(MailError::Throttled);
    let failed = deliver(&world, &[job(1)], 1).await;
    assert!(failed.is_empty(), "a throttle is not a failure");
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Queued);
    let requeued = world.queue.sent();
    assert_eq!(requeued.len(), 1);
    assert!(requeued[0].delay.is_some());
    // The re-queued message comes back.
    let again: RecipientJob = serde_json::from_str(&requeued[0].body).unwrap();
    deliver(&world, &[again], 1).await;
    assert_eq!(world.mailer.sent().len(), 1);
    assert_eq!((recipient(&world, 1).await.status, counters(&world).await.failed), (RecipientStatus::Sent, 0));
}

#[tokio::test(start_paused = true)]
async fn at_the_sandbox_rate_a_batch_sends_what_fits_before_its_deadline_and_requeues_the_rest() {
    // The SES sandbox's 1 mail/s shared by the template's default five instances: 0.2/s each,
    // so a batch of ten would need 45 s; Lambda stops the invocation at 30 s.
    let world = world_with(CampaignStatus::Sending, config_at(1, 5)).await;
    let jobs: Vec<_> = (0..10).map(job).collect();
    let started = tokio::time::Instant::now();
    let failed = deliver_within(&world, &jobs, Duration::from_secs(30)).await;
    assert!(failed.is_empty(), "nothing fails for want of time: {failed:?}");
    assert!(started.elapsed() <= Duration::from_secs(30) - END_RESERVE, "{:?}", started.elapsed());
    // Slots at 0, 5, 10, 15 and 20 s start by the 20 s cut-off (30 s less the reserve).
    assert_eq!(world.mailer.sent().len(), 5);
    let requeued = world.queue.sent();
    assert_eq!(requeued.len(), 5);
    for n in 0..10 {
        let expected = if n < 5 { RecipientStatus::Sent } else { RecipientStatus::Queued };
        assert_eq!(recipient(&world, n).await.status, expected, "recipient {n}");
    }
    // Re-queued mails come back in later invocations, each stopping in time, until all are sent.
    let mut handed_back = requeued.len();
    let mut again: Vec<RecipientJob> = requeued.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    for _ in 0..5 {
        if again.is_empty() {
            break;
        }
        let started = tokio::time::Instant::now();
        assert!(deliver_within(&world, &again, Duration::from_secs(30)).await.is_empty());
        assert!(started.elapsed() <= Duration::from_secs(30) - END_RESERVE);
        let requeued = world.queue.sent();
        again = requeued[handed_back..].iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
        handed_back = requeued.len();
    }
    assert!(again.is_empty());
    assert_eq!(world.mailer.sent().len(), 10);
    let to: std::collections::HashSet<_> = world.mailer.sent().into_iter().map(|(_, m)| m.to).collect();
    assert_eq!(to.len(), 10, "nobody mailed twice");
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_arrives_with_no_time_left_is_requeued_unclaimed() {
    let world = world_with(CampaignStatus::Sending, config_at(1, 5)).await;
    let failed = deliver_within(&world, &[job(1), job(2)], END_RESERVE / 2).await;
    assert!(failed.is_empty());
    assert!(world.mailer.sent().is_empty());
    assert_eq!(world.queue.sent().len(), 2);
    let (campaign, id) = (CampaignId::parse("c1").unwrap(), RecipientId::parse("r1").unwrap());
    assert!(world.recipients.get(&campaign, &id).await.unwrap().is_none(), "no claim was taken");
}

#[tokio::test]
async fn a_rejected_mail_fails_that_recipient_with_the_reason() {
    let world = world(CampaignStatus::Sending).await;
    // SES names the address it refused: stored (and logged) redacted.
    let refusal = "MessageRejected: Email address is not verified: kim.minsu@example.com";
    world.mailer.fail_next(MailError::Rejected(refusal.into()));
    let failed = deliver(&world, &[job(1)], 1).await;
    assert!(failed.is_empty());
    let r = recipient(&world, 1).await;
    assert_eq!(
        (r.status, r.retryable, r.last_error.as_deref()),
        (RecipientStatus::Failed, false, Some("MessageRejected: Email address is not verified: k***@example.com"))
    );
    assert_eq!(counters(&world).await.failed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_transient_fault_retries_then_fails_retryably_on_the_last_receive() {
    let world = world(CampaignStatus::Sending).await;
    for _ in 0..3 {
        world.mailer.fail_next(MailError::Transient("503".into()));
    }
    assert_eq!(deliver(&world, &[job(1)], 1).await, ["m0"]);
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Queued, "claim given back for the retry");
    for _ in 0..3 {
        world.mailer.fail_next(MailError::Transient("503".into()));
    }
    assert_eq!(deliver(&world, &[job(1)], LAST_RECEIVE).await, ["m0"], "reported, so the queue dead-letters it");
    let r = recipient(&world, 1).await;
    assert_eq!((r.status, r.retryable), (RecipientStatus::Failed, true));
    assert!(world.mailer.sent().is_empty());
}

#[tokio::test]
async fn suppressed_addresses_are_skipped_and_counted() {
    let world = world(CampaignStatus::Sending).await;
    world
        .suppressions
        .put(&Suppression {
            address: EmailAddress::parse("user2@example.com").unwrap(),
            scope: SuppressionScope::All,
            reason: SuppressionReason::HardBounce,
            campaign_id: None,
            created_at: datetime!(2026-11-01 00:00 UTC),
        })
        .await
        .unwrap();
    world
        .suppressions
        .put(&Suppression {
            address: EmailAddress::parse("user3@example.com").unwrap(),
            scope: SuppressionScope::Sender("news@example.com".into()),
            reason: SuppressionReason::Unsubscribed,
            campaign_id: None,
            created_at: datetime!(2026-11-01 00:00 UTC),
        })
        .await
        .unwrap();
    deliver(&world, &[job(1), job(2), job(3)], 1).await;
    let sent: Vec<_> = world.mailer.sent().into_iter().map(|(_, m)| m.to.to_string()).collect();
    assert_eq!(sent, ["user1@example.com"]);
    assert_eq!(recipient(&world, 2).await.status, RecipientStatus::Suppressed);
    let c = counters(&world).await;
    assert_eq!((c.sent, c.skipped), (1, 2));
}

#[tokio::test]
async fn a_cancelled_campaign_stops_its_remaining_recipients() {
    let world = world(CampaignStatus::Cancelled).await;
    assert!(deliver(&world, &[job(1), job(2)], 1).await.is_empty());
    assert!(world.mailer.sent().is_empty());
    assert_eq!(counters(&world).await.stopped, 2);
}

#[tokio::test(start_paused = true)]
async fn a_fast_campaign_completes_even_when_its_last_batch_sees_counts_from_seconds_ago() {
    let mut world = world(CampaignStatus::Sending).await;
    let quota = SendQuota { max_24_hour_send: 1e6, max_send_rate: 1000.0, sent_last_24_hours: 0.0 };
    world.deps.mailer = MemoryMailer::with_quota(quota);
    let id = CampaignId::parse("c1").unwrap();
    let totals = SplitTotals { total: 2000, queued: 2000, report_parts: 1, finished: true, ..Default::default() };
    world.campaigns.set_split_totals(&id, &totals).await.unwrap();
    // Other instances have sent half; this one caches the campaign with its first batch.
    world.campaigns.add_counters(&id, &CounterDelta::default().add(Counter::Sent, 1000)).await.unwrap();
    deliver(&world, &[job(1)], 1).await;
    // Within the cache's lifetime the others send all but one (1,000/s can do that in 2 s)...
    world.campaigns.add_counters(&id, &CounterDelta::default().add(Counter::Sent, 998)).await.unwrap();
    // ...and this instance sends the last, with counts that still show a thousand to go.
    deliver(&world, &[job(2)], 1).await;
    let campaign = world.campaigns.get(&id).await.unwrap().unwrap();
    assert_eq!((campaign.counters.sent, campaign.status), (2000, CampaignStatus::Completed));
}

#[tokio::test]
async fn the_batch_that_finishes_a_campaign_completes_it() {
    let world = world(CampaignStatus::Sending).await;
    deliver(&world, &[job(1), job(2)], 1).await;
    deliver(&world, &[job(3)], 1).await;
    let campaign = world.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Completed);
}

#[tokio::test]
async fn undecodable_and_orphan_messages_are_reported_for_the_dead_letter_queue() {
    let world = world(CampaignStatus::Sending).await;
    let mut orphan = job(1);
    orphan.campaign_id = CampaignId::parse("nope").unwrap();
    let bodies = vec![("not json".to_string(), 1), (serde_json::to_string(&orphan).unwrap(), 1)];
    let response = handler(&world.deps, LambdaEvent::new(event(&bodies), Default::default())).await.unwrap();
    let mut ids: Vec<_> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    ids.sort();
    assert_eq!(ids, ["m0", "m1"]);
}

/// Delivers `jobs` in batches of ten, then whatever the sender re-queued, until nothing is left.
async fn drain(world: &World, jobs: Vec<RecipientJob>) {
    let mut pending = jobs;
    let mut seen_requeues = world.queue.sent().len();
    while !pending.is_empty() {
        for batch in pending.chunks(10) {
            assert!(deliver(world, batch, 1).await.is_empty(), "no message fails under throttling");
        }
        let requeued = world.queue.sent();
        pending = requeued[seen_requeues..].iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
        seen_requeues = requeued.len();
    }
}

fn many(n: u32) -> Vec<RecipientJob> {
    (1..=n).map(job).collect()
}

#[tokio::test(start_paused = true)]
async fn throttling_part_of_a_run_slows_it_but_every_recipient_gets_exactly_one_mail() {
    let world = world(CampaignStatus::Sending).await;
    world.mailer.throttle_every(3);
    drain(&world, many(200)).await;
    let mut to: Vec<String> = world.mailer.sent().into_iter().map(|(_, m)| m.to.to_string()).collect();
    assert_eq!(to.len(), 200);
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 200, "nobody got two mails");
    assert!(world.mailer.calls() > 290, "a third of the calls were throttled and retried");
    let c = counters(&world).await;
    assert_eq!((c.sent, c.failed), (200, 0));
}

#[tokio::test(start_paused = true)]
async fn redelivering_a_whole_run_sends_nothing_twice() {
    let world = world(CampaignStatus::Sending).await;
    drain(&world, many(120)).await;
    drain(&world, many(120)).await;
    assert_eq!(world.mailer.sent().len(), 120);
    assert_eq!(counters(&world).await.sent, 120);
}

#[test]
fn each_instance_paces_to_its_share_of_the_account_rate() {
    let mut config = config();
    config.max_send_rate = 14.0;
    config.sender_concurrency = 5;
    assert!((config.instance_rate(None) - 2.8).abs() < 1e-9);
    assert!((config.instance_rate(Some(10.0)) - 2.0).abs() < 1e-9, "the account's lower rate wins");
    assert!((config.instance_rate(Some(50.0)) - 2.8).abs() < 1e-9, "the configured rate caps a higher one");
}

#[tokio::test]
async fn a_paused_campaign_parks_its_recipients_without_sending_or_failing() {
    let world = world(CampaignStatus::Paused).await;
    assert!(deliver(&world, &[job(1), job(2)], 1).await.is_empty(), "acknowledged, not left to the DLQ");
    assert!(world.mailer.sent().is_empty());
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Paused);
    let c = counters(&world).await;
    assert_eq!((c.sent, c.stopped, c.failed), (0, 0, 0));
    // Resumed: the re-queued message is sent once.
    let id = CampaignId::parse("c1").unwrap();
    world
        .campaigns
        .transition(
            &id,
            &[CampaignStatus::Paused],
            CampaignStatus::Sending,
            None,
            None,
            datetime!(2026-11-23 09:01 UTC),
        )
        .await
        .unwrap();
    world.deps.warm.campaigns.lock().unwrap().clear();
    deliver(&world, &[job(1)], 1).await;
    assert_eq!(world.mailer.sent().len(), 1);
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Sent);
}

/// The resume lands between the sender's fresh read (paused) and its parking: the resume's
/// pass may have read the parked recipients before these joined them, so the sender, which
/// looks once more after parking, queues them again itself.
#[tokio::test]
async fn recipients_parked_just_as_the_campaign_is_resumed_are_queued_again_by_their_sender() {
    let world = world(CampaignStatus::Paused).await;
    let id = CampaignId::parse("c1").unwrap();
    // Read 1: the cached read; read 2: the fresh one before parking. The resume comes after.
    world.campaigns.change_after_reads(&id, 2, |c| c.status = CampaignStatus::Sending);
    assert!(deliver(&world, &[job(1), job(2)], 1).await.is_empty());
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Paused, "parked");
    let again: Vec<RecipientJob> = world.queue.sent().iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    let ids: Vec<&str> = again.iter().map(|j| j.recipient_id.as_str()).collect();
    assert_eq!(ids.len(), 2, "both queued again: {ids:?}");
    world.deps.warm.campaigns.lock().unwrap().clear();
    deliver(&world, &[job(1), job(2)], 1).await;
    assert_eq!(world.mailer.sent().len(), 2, "and sent once each");
}

#[tokio::test]
async fn a_paused_ses_account_pauses_the_campaign_and_parks_its_recipients_unsent_and_unfailed() {
    let world = world(CampaignStatus::Sending).await;
    world.mailer.fail_next(MailError::AccountBlocked("SendingPausedException: sending is paused".into()));
    let jobs = many(5);
    assert!(deliver(&world, &jobs, 1).await.is_empty(), "nothing is failed or retried");
    assert_eq!(world.mailer.calls(), 1, "the batch's other mails were not tried");
    let campaign = world.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Paused);
    assert!(campaign.status_reason.as_deref().unwrap_or_default().contains("SendingPausedException"), "{campaign:?}");
    for n in 1..=5 {
        assert_eq!(recipient(&world, n).await.status, RecipientStatus::Paused, "parked for the resume");
    }
    let c = counters(&world).await;
    assert_eq!((c.sent, c.failed), (0, 0));
    // Messages that arrive after the pause are parked too, without a call to SES.
    world.deps.warm.campaigns.lock().unwrap().clear();
    assert!(deliver(&world, &[job(6)], 1).await.is_empty());
    assert_eq!((world.mailer.calls(), recipient(&world, 6).await.status), (1, RecipientStatus::Paused));
}

#[tokio::test]
async fn a_used_up_daily_quota_pauses_the_campaign_before_any_send() {
    let mut world = world(CampaignStatus::Sending).await;
    let sandbox = SendQuota { max_24_hour_send: 200.0, max_send_rate: 1.0, sent_last_24_hours: 200.0 };
    world.mailer = MemoryMailer::with_quota(sandbox);
    world.deps.mailer = world.mailer.clone();
    assert!(deliver(&world, &many(3), 1).await.is_empty());
    assert_eq!(world.mailer.calls(), 0, "SES was not asked to refuse");
    let campaign = world.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Paused);
    assert!(campaign.status_reason.as_deref().unwrap_or_default().contains("daily quota of 200"), "{campaign:?}");
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Paused);
}

/// What the recorder writes when SES publishes the `Send` event of recipient `n`'s mail.
async fn ses_accepted(world: &World, n: u32, ses_message_id: &str) {
    let key = accepted_key(&CampaignId::parse("c1").unwrap(), &RecipientId::parse(format!("r{n}")).unwrap());
    world.deps.ledger.record_once(&key, ses_message_id, world.deps.clock.now(), ACCEPTED_LIFETIME).await.unwrap();
}

#[tokio::test]
async fn a_lost_answer_is_not_resent_at_once_and_a_mail_ses_accepted_is_recorded_not_resent() {
    let world = world(CampaignStatus::Sending).await;
    world.mailer.fail_next(MailError::Unknown("operation timeout (all attempts including retries)".into()));
    assert!(deliver(&world, &[job(1)], 1).await.is_empty());
    assert_eq!(world.mailer.calls(), 1, "not retried within the invocation");
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Queued);
    let requeued = world.queue.sent();
    assert_eq!((requeued.len(), requeued[0].delay), (1, Some(RECHECK_DELAY)));
    // SES had accepted it after all; its Send event arrived meanwhile.
    ses_accepted(&world, 1, "ses-late").await;
    let again: RecipientJob = serde_json::from_str(&requeued[0].body).unwrap();
    assert!(deliver(&world, &[again], 1).await.is_empty());
    assert_eq!(world.mailer.calls(), 1, "no second mail");
    let r = recipient(&world, 1).await;
    assert_eq!((r.status, r.message_id.as_deref()), (RecipientStatus::Sent, Some("ses-late")));
    assert_eq!(counters(&world).await.sent, 1);
}

#[tokio::test]
async fn a_campaign_whose_last_mail_is_settled_on_the_recheck_completes() {
    let world = world(CampaignStatus::Sending).await;
    deliver(&world, &[job(1), job(2)], 1).await;
    world.mailer.fail_next(MailError::Unknown("operation timeout".into()));
    deliver(&world, &[job(3)], 1).await;
    ses_accepted(&world, 3, "ses-late").await;
    let again: RecipientJob = serde_json::from_str(&world.queue.sent()[0].body).unwrap();
    deliver(&world, &[again], 1).await;
    let campaign = world.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
    assert_eq!((campaign.counters.sent, campaign.status), (3, CampaignStatus::Completed));
}

#[tokio::test]
async fn a_lost_answer_for_a_mail_ses_never_accepted_is_sent_on_the_recheck() {
    let world = world(CampaignStatus::Sending).await;
    world.mailer.fail_next(MailError::Unknown("connection reset".into()));
    deliver(&world, &[job(1)], 1).await;
    let again: RecipientJob = serde_json::from_str(&world.queue.sent()[0].body).unwrap();
    assert!(deliver(&world, &[again], 1).await.is_empty());
    assert_eq!((world.mailer.sent().len(), recipient(&world, 1).await.status), (1, RecipientStatus::Sent));
}

#[tokio::test]
async fn a_sender_that_died_after_ses_accepted_a_mail_does_not_cause_a_second() {
    let world = world(CampaignStatus::Sending).await;
    // The first sender claimed the recipient, SES accepted the mail, and the sender died
    // before writing the outcome: the claim is left to run out.
    let now = world.deps.clock.now();
    world.recipients.claim(&Recipient::from_job(&job(1), now), now, now + LEASE).await.unwrap();
    ses_accepted(&world, 1, "ses-before-crash").await;
    world.deps.clock.advance(LEASE + time::Duration::minutes(1));
    // The message returns after the visibility timeout.
    assert!(deliver(&world, &[job(1)], 2).await.is_empty());
    assert_eq!(world.mailer.calls(), 0, "no second mail");
    let r = recipient(&world, 1).await;
    assert_eq!((r.status, r.message_id.as_deref()), (RecipientStatus::Sent, Some("ses-before-crash")));
}

#[tokio::test(start_paused = true)]
async fn an_outcome_that_cannot_be_recorded_returns_its_message_and_is_settled_without_a_second_mail() {
    let world = world(CampaignStatus::Sending).await;
    // DynamoDB throttles every outcome write of this invocation, retries included.
    world.recipients.throttle_next_finishes(10);
    assert_eq!(deliver(&world, &[job(1)], 1).await, ["m0"], "not acknowledged: the message must return");
    world.recipients.throttle_next_finishes(0);
    assert_eq!(world.mailer.sent().len(), 1);
    let (ses_message_id, _) = world.mailer.sent()[0].clone();
    ses_accepted(&world, 1, &ses_message_id).await;
    // It returns after the visibility timeout, when the claim has run out.
    world.deps.clock.advance(LEASE + time::Duration::minutes(1));
    assert!(deliver(&world, &[job(1)], 2).await.is_empty());
    assert_eq!(world.mailer.sent().len(), 1, "no second mail");
    let r = recipient(&world, 1).await;
    assert_eq!((r.status, r.message_id), (RecipientStatus::Sent, Some(ses_message_id)));
    assert_eq!(counters(&world).await.sent, 1);
}

/// The dead-letter queue's event for these jobs.
async fn dead_letters(world: &World, jobs: &[RecipientJob]) -> Vec<String> {
    let bodies: Vec<_> = jobs.iter().map(|j| (serde_json::to_string(j).unwrap(), 1)).collect();
    let mut event = event(&bodies);
    for record in &mut event.records {
        record.event_source_arn = world.deps.config.dead_letter_queue_arn.clone();
    }
    let response = handler(&world.deps, LambdaEvent::new(event, Default::default())).await.unwrap();
    response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
}

#[tokio::test]
async fn a_dead_lettered_recipient_is_counted_failed_retryably_once_and_its_campaign_completes() {
    let world = world(CampaignStatus::Sending).await;
    // Recipients 1 and 2 were sent; 3's message died three times before any outcome.
    drain(&world, vec![job(1), job(2)]).await;
    let now = world.deps.clock.now();
    world.recipients.claim(&Recipient::from_job(&job(3), now), now, now + LEASE).await.unwrap();
    assert_eq!(dead_letters(&world, &[job(3)]).await, ["m0"], "a claim still held is waited for");
    world.deps.clock.advance(LEASE + time::Duration::minutes(1));
    assert!(dead_letters(&world, &[job(3)]).await.is_empty());
    let r = recipient(&world, 3).await;
    assert_eq!((r.status, r.retryable), (RecipientStatus::Failed, true));
    assert!(r.last_error.unwrap().contains("dead-lettered"));
    let campaign = world.campaigns.get(&CampaignId::parse("c1").unwrap()).await.unwrap().unwrap();
    assert_eq!((campaign.counters.sent, campaign.counters.failed), (2, 1));
    assert_eq!(campaign.status, CampaignStatus::Completed, "the counts add up, so it completes");
    // The same dead letter again (a redelivery) counts nothing.
    assert!(dead_letters(&world, &[job(3)]).await.is_empty());
    assert_eq!(counters(&world).await.failed, 1);
    assert!(world.mailer.sent().len() == 2, "settling sends nothing");
}

#[tokio::test]
async fn a_dead_lettered_recipient_whose_mail_ses_accepted_is_recorded_sent() {
    let world = world(CampaignStatus::Sending).await;
    assert!(dead_letters(&world, &[job(1)]).await.is_empty());
    ses_accepted(&world, 2, "ses-2").await;
    assert!(dead_letters(&world, &[job(2)]).await.is_empty());
    let r = recipient(&world, 2).await;
    assert_eq!((r.status, r.message_id.as_deref()), (RecipientStatus::Sent, Some("ses-2")));
    let c = counters(&world).await;
    assert_eq!((c.sent, c.failed), (1, 1));
    assert!(world.mailer.sent().is_empty());
}

#[tokio::test]
async fn a_reader_who_unsubscribed_from_one_address_is_not_mailed_from_another_of_the_domain() {
    let world = world(CampaignStatus::Sending).await;
    // The unsubscribe came from a mail sent as news2@example.com; this campaign sends as news@.
    let elsewhere = EmailAddress::parse("news2@example.com").unwrap();
    world
        .suppressions
        .put(&Suppression {
            address: job(1).address,
            scope: SuppressionScope::of_sender(&elsewhere),
            reason: SuppressionReason::Unsubscribed,
            campaign_id: None,
            created_at: world.deps.clock.now(),
        })
        .await
        .unwrap();
    deliver(&world, &[job(1), job(2)], 1).await;
    assert_eq!(recipient(&world, 1).await.status, RecipientStatus::Suppressed);
    assert_eq!(world.mailer.sent().len(), 1);
}
