//! One contract per store, run against the DynamoDB adapter (real SDK, local endpoint) and the
//! in-memory adapter: both must give the same answers, conditional writes included.

use std::collections::BTreeMap;
use std::sync::Arc;

use fanmail_common::aws::{
    DynamoCampaignStore, DynamoLedger, DynamoRecipientStore, DynamoResultLog, DynamoSendLog, DynamoSuppressionStore,
    DynamoTemplateStore,
};
use fanmail_common::domain::*;
use fanmail_common::memory::{
    MemoryCampaignStore, MemoryLedger, MemoryRecipientStore, MemorySuppressionStore, MemoryTemplateStore,
};
use fanmail_common::ports::*;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::support::stack;

const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

fn campaign(id: &str) -> Campaign {
    Campaign {
        id: CampaignId::parse(id).unwrap(),
        template_id: TemplateId::parse("welcome").unwrap(),
        template_version: 2,
        list_key: "lists/l.csv".into(),
        sender: Sender {
            address: EmailAddress::parse("news@example.com").unwrap(),
            name: Some("News".into()),
            reply_to: None,
        },
        shared_vars: BTreeMap::from([("brand".into(), "fanmail".into())]),
        status: CampaignStatus::Queued,
        status_reason: None,
        counters: CampaignCounters::default(),
        created_at: T0,
        updated_at: T0,
        send_at: None,
        schedule_generation: 0,
        idempotency_key: Some("k1".into()),
        report_parts: 0,
        split_rows: 0,
        split_finished: false,
    }
}

fn template(id: &str, version: u32) -> Template {
    Template {
        id: TemplateId::parse(id).unwrap(),
        version,
        name: format!("{id} v{version}"),
        subject: "Hi {{name}}".into(),
        html: "<p>Hi {{name}}</p>".into(),
        text: "Hi {{name}}".into(),
        created_at: T0 + Duration::minutes(version as i64),
    }
}

fn recipient(campaign: &str, n: u32, status: RecipientStatus) -> Recipient {
    Recipient {
        campaign_id: CampaignId::parse(campaign).unwrap(),
        recipient_id: RecipientId::parse(format!("r{n:04}")).unwrap(),
        address: EmailAddress::parse(&format!("user{n}@example.com")).unwrap(),
        vars: BTreeMap::from([("name".into(), format!("User {n}"))]),
        status,
        row: n as u64 + 1,
        attempts: 0,
        message_id: None,
        last_error: None,
        retryable: false,
        updated_at: T0,
    }
}

async fn template_contract(store: &impl TemplateStore) {
    let id = TemplateId::parse("welcome").unwrap();
    assert!(store.get(&id, None).await.unwrap().is_none());
    store.put_version(&template("welcome", 1)).await.unwrap();
    store.put_version(&template("welcome", 2)).await.unwrap();
    assert!(matches!(store.put_version(&template("welcome", 2)).await, Err(StoreError::AlreadyExists(_))));
    assert!(matches!(store.put_version(&template("welcome", 1)).await, Err(StoreError::AlreadyExists(_))));
    assert_eq!(store.get(&id, None).await.unwrap().unwrap().version, 2);
    assert_eq!(store.get(&id, Some(1)).await.unwrap().unwrap(), template("welcome", 1));
    store.put_version(&template("other", 1)).await.unwrap();

    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list(1, cursor.as_deref()).await.unwrap();
        listed.extend(page.items.into_iter().map(|t| (t.id.to_string(), t.latest_version)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    listed.sort();
    assert_eq!(listed, [("other".to_string(), 1), ("welcome".to_string(), 2)]);

    assert!(store.delete(&id).await.unwrap());
    assert!(!store.delete(&id).await.unwrap());
    assert!(store.get(&id, None).await.unwrap().is_none(), "a deleted template has no latest version");
    assert!(store.get(&id, Some(2)).await.unwrap().is_some(), "pinned versions stay readable");
}

async fn campaign_contract(store: &impl CampaignStore) {
    let c = campaign("c1");
    store.create(&c).await.unwrap();
    assert!(matches!(store.create(&c).await, Err(StoreError::AlreadyExists(_))));
    assert_eq!(store.get(&c.id).await.unwrap().unwrap(), c);

    let later = T0 + Duration::minutes(1);
    let moved =
        store.transition(&c.id, &[CampaignStatus::Queued], CampaignStatus::Splitting, None, later).await.unwrap();
    assert_eq!((moved.status, moved.updated_at), (CampaignStatus::Splitting, later));
    match store.transition(&c.id, &[CampaignStatus::Queued], CampaignStatus::Sending, None, later).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current, "splitting"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let paused = store
        .transition(
            &c.id,
            &[CampaignStatus::Splitting, CampaignStatus::Sending],
            CampaignStatus::Paused,
            Some("bounce rate 6%"),
            later,
        )
        .await
        .unwrap();
    assert_eq!(paused.status_reason.as_deref(), Some("bounce rate 6%"));
    let resumed =
        store.transition(&c.id, &[CampaignStatus::Paused], CampaignStatus::Sending, None, later).await.unwrap();
    assert_eq!(resumed.status_reason, None, "the reason goes with the status");

    let missing = CampaignId::parse("nope").unwrap();
    assert!(matches!(
        store.transition(&missing, &[CampaignStatus::Queued], CampaignStatus::Sending, None, later).await,
        Err(StoreError::NotFound(_))
    ));

    store.add_counters(&c.id, &CounterDelta::one("sent").add("queued", 5)).await.unwrap();
    store.add_counters(&c.id, &CounterDelta::one("sent").add("queued", -1)).await.unwrap();
    let counters = store.get(&c.id).await.unwrap().unwrap().counters;
    assert_eq!((counters.sent, counters.queued, counters.failed), (2, 4, 0));
    assert!(matches!(store.add_counters(&missing, &CounterDelta::one("sent")).await, Err(StoreError::NotFound(_))));
}

fn sent(id: &RecipientId, message_id: &str) -> SendOutcome {
    let mut outcome = SendOutcome::new(id.clone(), RecipientStatus::Sent);
    outcome.message_id = Some(message_id.into());
    outcome
}

async fn recipient_contract(store: &impl RecipientStore) {
    let c = CampaignId::parse("c1").unwrap();
    let r = recipient("c1", 1, RecipientStatus::Sending);
    assert!(store.get(&c, &r.recipient_id).await.unwrap().is_none());

    // The first claim writes the recipient.
    let lease = T0 + Duration::minutes(5);
    let claimed = store.claim(&r, T0, lease).await.unwrap();
    assert_eq!((claimed.status, claimed.attempts), (RecipientStatus::Sending, 1));
    let stored = store.get(&c, &r.recipient_id).await.unwrap().unwrap();
    assert_eq!((stored.address.as_str(), stored.vars["name"].as_str(), stored.row), ("user1@example.com", "User 1", 2));
    match store.claim(&r, T0 + Duration::minutes(1), lease).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current, "sending"),
        other => panic!("a live claim must not be taken twice: {other:?}"),
    }
    // The first sender crashed: its lease ran out, another may take over.
    let retaken = store.claim(&r, lease + Duration::seconds(1), lease + Duration::minutes(5)).await.unwrap();
    assert_eq!(retaken.attempts, 2);
    assert_eq!(store.get(&c, &r.recipient_id).await.unwrap().unwrap().attempts, 2);

    store.finish(&c, &sent(&r.recipient_id, "ses-1"), T0).await.unwrap();
    assert!(matches!(store.finish(&c, &sent(&r.recipient_id, "ses-2"), T0).await, Err(StoreError::Conflict { .. })));
    assert!(
        matches!(store.claim(&r, T0 + Duration::days(1), T0 + Duration::days(2)).await, Err(StoreError::Conflict { current }) if current == "sent"),
        "a sent recipient is never claimed again"
    );
    let done = store.get(&c, &r.recipient_id).await.unwrap().unwrap();
    assert_eq!((done.status, done.message_id.as_deref()), (RecipientStatus::Sent, Some("ses-1")));

    assert!(store.advance(&c, &r.recipient_id, RecipientStatus::Bounced, T0).await.unwrap());
    assert!(
        !store.advance(&c, &r.recipient_id, RecipientStatus::Delivered, T0).await.unwrap(),
        "a late delivery never overwrites a bounce"
    );
    assert_eq!(store.get(&c, &r.recipient_id).await.unwrap().unwrap().status, RecipientStatus::Bounced);
    let nobody = RecipientId::parse("nobody").unwrap();
    assert!(matches!(store.advance(&c, &nobody, RecipientStatus::Delivered, T0).await, Err(StoreError::NotFound(_))));

    // A retryable failure may be claimed again; a permanent one may not.
    let r2 = recipient("c1", 2, RecipientStatus::Sending);
    let r3 = recipient("c1", 3, RecipientStatus::Sending);
    for (r, retryable) in [(&r2, true), (&r3, false)] {
        store.claim(r, T0, lease).await.unwrap();
        let mut failed = SendOutcome::new(r.recipient_id.clone(), RecipientStatus::Failed);
        failed.error = Some("boom".into());
        failed.retryable = retryable;
        store.finish(&c, &failed, T0).await.unwrap();
    }
    assert!(store.claim(&r2, T0, lease).await.is_ok());
    assert!(matches!(store.claim(&r3, T0, lease).await, Err(StoreError::Conflict { .. })));

    // A batch claim: new ones succeed, finished ones are refused, one result each in order.
    let batch: Vec<Recipient> = (3..=6).map(|n| recipient("c1", n, RecipientStatus::Sending)).collect();
    let results = store.claim_batch(&batch, T0, lease).await.unwrap();
    assert!(matches!(results[0], Err(StoreError::Conflict { .. })), "r3 failed permanently");
    assert!(results[1..].iter().all(Result::is_ok));
    let fresh: Vec<Recipient> = (7..=9).map(|n| recipient("c1", n, RecipientStatus::Sending)).collect();
    assert!(store.claim_batch(&fresh, T0, lease).await.unwrap().iter().all(Result::is_ok));

    for n in 4..=9 {
        let id = RecipientId::parse(format!("r{n:04}")).unwrap();
        store.finish(&c, &SendOutcome::new(id, RecipientStatus::Queued), T0).await.unwrap();
    }
    let mut other = recipient("c2", 99, RecipientStatus::Sending);
    other.campaign_id = CampaignId::parse("c2").unwrap();
    store.claim(&other, T0, lease).await.unwrap();
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_by_status(&c, RecipientStatus::Queued, 4, cursor.as_deref()).await.unwrap();
        assert!(page.items.len() <= 4);
        ids.extend(page.items.into_iter().map(|r| r.recipient_id.to_string()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    ids.sort();
    assert_eq!(ids, (4..=9).map(|n| format!("r{n:04}")).collect::<Vec<_>>());
    assert!(matches!(
        store.list_by_status(&c, RecipientStatus::Queued, 5, Some("garbage!")).await,
        Err(StoreError::BadCursor)
    ));
}

async fn send_log_contract(
    log: &impl SendLog,
    recipients: &impl RecipientStore,
    campaigns: &impl CampaignStore,
    ledger: &impl Ledger,
) {
    let c = campaign("c1");
    campaigns.create(&c).await.unwrap();
    let lease = T0 + Duration::minutes(2);
    let batch: Vec<Recipient> = (1..=4).map(|n| recipient("c1", n, RecipientStatus::Sending)).collect();
    recipients.claim_batch(&batch, T0, lease).await.unwrap();
    let mut rejected = SendOutcome::new(batch[1].recipient_id.clone(), RecipientStatus::Failed);
    rejected.error = Some("MessageRejected".into());
    let outcomes = vec![
        sent(&batch[0].recipient_id, "m-1"),
        rejected,
        SendOutcome::new(batch[2].recipient_id.clone(), RecipientStatus::Suppressed),
        SendOutcome::new(batch[3].recipient_id.clone(), RecipientStatus::Queued),
    ];
    log.record(&c.id, &outcomes, T0).await.unwrap();
    let counters = campaigns.get(&c.id).await.unwrap().unwrap().counters;
    assert_eq!((counters.sent, counters.failed, counters.skipped), (1, 1, 1));
    assert_eq!(ledger.sent_between(T0, T0).await.unwrap(), 1);
    let status = |n: usize| recipients.get(&c.id, &batch[n].recipient_id);
    assert_eq!(status(0).await.unwrap().unwrap().message_id.as_deref(), Some("m-1"));
    assert_eq!(status(3).await.unwrap().unwrap().status, RecipientStatus::Queued, "a given-back claim");

    // Recording again (a replay) counts nothing: those recipients are no longer `sending`.
    recipients.claim(&batch[3], T0, lease).await.unwrap();
    log.record(&c.id, &[sent(&batch[0].recipient_id, "m-1"), sent(&batch[3].recipient_id, "m-4")], T0).await.unwrap();
    let counters = campaigns.get(&c.id).await.unwrap().unwrap().counters;
    assert_eq!(counters.sent, 2, "only the recipient still claimed is counted");
    assert_eq!(ledger.sent_between(T0, T0).await.unwrap(), 2);
}

async fn result_log_contract(log: &impl ResultLog, recipients: &impl RecipientStore, campaigns: &impl CampaignStore) {
    let c = campaign("c1");
    campaigns.create(&c).await.unwrap();
    let lease = T0 + Duration::minutes(2);
    let batch: Vec<Recipient> = (1..=3).map(|n| recipient("c1", n, RecipientStatus::Sending)).collect();
    recipients.claim_batch(&batch, T0, lease).await.unwrap();
    let (r1, r2, r3) = (&batch[0].recipient_id, &batch[1].recipient_id, &batch[2].recipient_id);
    recipients.finish(&c.id, &sent(r1, "ses-1"), T0).await.unwrap();
    recipients.finish(&c.id, &sent(r3, "ses-3"), T0).await.unwrap();
    let record = |id, result| log.record(&c.id, id, result, T0);

    let first = record(r1, DeliveryResult::Delivered).await.unwrap();
    assert_eq!(first, Recorded { counted: true, advanced: true });
    assert_eq!(record(r1, DeliveryResult::Delivered).await.unwrap(), Recorded::default(), "a replay changes nothing");
    assert_eq!(record(r1, DeliveryResult::HardBounce).await.unwrap(), Recorded { counted: true, advanced: true });
    assert_eq!(record(r1, DeliveryResult::Open).await.unwrap(), Recorded { counted: true, advanced: false });
    // A complaint, then the delivery that preceded it arriving late: counted, status kept.
    assert_eq!(record(r3, DeliveryResult::Complaint).await.unwrap(), Recorded { counted: true, advanced: true });
    assert_eq!(record(r3, DeliveryResult::Delivered).await.unwrap(), Recorded { counted: true, advanced: false });
    let status = |id| recipients.get(&c.id, id);
    assert_eq!(status(r1).await.unwrap().unwrap().status, RecipientStatus::Bounced);
    assert_eq!(status(r3).await.unwrap().unwrap().status, RecipientStatus::Complained);
    let counters = campaigns.get(&c.id).await.unwrap().unwrap().counters;
    assert_eq!(
        (counters.delivered, counters.bounced, counters.complained, counters.opened),
        (2, 1, 1, 1),
        "once per recipient and result"
    );
    // Early: the send is not recorded yet; nothing is counted and the claim is untouched.
    match record(r2, DeliveryResult::Delivered).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current, "sending"),
        other => panic!("an early result must be refused: {other:?}"),
    }
    assert_eq!(status(r2).await.unwrap().unwrap().status, RecipientStatus::Sending);
    assert_eq!(campaigns.get(&c.id).await.unwrap().unwrap().counters.delivered, 2);
    let nobody = RecipientId::parse("nobody").unwrap();
    assert!(matches!(record(&nobody, DeliveryResult::Delivered).await, Err(StoreError::NotFound(_))));
    // Events without tags join by SES message id.
    assert_eq!(recipients.find_by_message_id("ses-3").await.unwrap(), Some((c.id.clone(), r3.clone())));
    assert_eq!(recipients.find_by_message_id("ses-unknown").await.unwrap(), None);
}

async fn suppression_contract(store: &impl SuppressionStore) {
    let address = EmailAddress::parse("gone@example.com").unwrap();
    let all = Suppression {
        address: address.clone(),
        scope: SuppressionScope::All,
        reason: SuppressionReason::HardBounce,
        campaign_id: Some(CampaignId::parse("c1").unwrap()),
        created_at: T0,
    };
    let unsub = Suppression {
        scope: SuppressionScope::Sender("news@example.com".into()),
        reason: SuppressionReason::Unsubscribed,
        ..all.clone()
    };
    store.put(&all).await.unwrap();
    store.put(&unsub).await.unwrap();
    store.put(&all).await.unwrap();
    let mut found = store.find(&address).await.unwrap();
    found.sort_by_key(|s| s.scope.key());
    assert_eq!(found, [all.clone(), unsub.clone()]);
    assert!(store.find(&EmailAddress::parse("fine@example.com").unwrap()).await.unwrap().is_empty());
    assert_eq!(store.list(10, None).await.unwrap().items.len(), 2);
    let sender = EmailAddress::parse("news@example.com").unwrap();
    let other_sender = EmailAddress::parse("shop@example.com").unwrap();
    let fine = EmailAddress::parse("fine@example.com").unwrap();
    let asked = [address.clone(), fine.clone()];
    assert_eq!(store.suppressed_among(&asked, &other_sender).await.unwrap(), [address.clone()].into());
    assert!(store.remove(&address, &SuppressionScope::All).await.unwrap());
    assert_eq!(
        store.suppressed_among(&asked, &sender).await.unwrap(),
        [address.clone()].into(),
        "unsubscribed from this sender"
    );
    assert!(store.suppressed_among(&asked, &other_sender).await.unwrap().is_empty(), "but not from another");
    store.put(&all).await.unwrap();
    assert!(store.remove(&address, &SuppressionScope::All).await.unwrap());
    assert!(!store.remove(&address, &SuppressionScope::All).await.unwrap());
    assert_eq!(store.find(&address).await.unwrap(), [unsub]);
}

async fn ledger_contract(ledger: &impl Ledger) {
    let day = Duration::days(1);
    assert_eq!(ledger.record_once("idem#k1", "c1", T0, day).await.unwrap(), None);
    assert_eq!(ledger.record_once("idem#k1", "c2", T0 + Duration::hours(23), day).await.unwrap(), Some("c1".into()));
    assert_eq!(
        ledger.record_once("idem#k1", "c3", T0 + Duration::hours(25), day).await.unwrap(),
        None,
        "a key past its lifetime at the caller's time may be recorded again"
    );
    assert_eq!(
        ledger.record_once("idem#k1", "c4", T0 + Duration::hours(26), day).await.unwrap(),
        Some("c3".into()),
        "and is then kept for a new lifetime"
    );

    ledger.add_sent(T0, 3).await.unwrap();
    ledger.add_sent(T0 + Duration::minutes(10), 2).await.unwrap();
    ledger.add_sent(T0 + Duration::hours(2), 7).await.unwrap();
    ledger.add_sent(T0 - Duration::hours(30), 100).await.unwrap();
    assert_eq!(ledger.sent_between(T0 - Duration::hours(23), T0 + Duration::hours(2)).await.unwrap(), 12);
    assert_eq!(ledger.sent_between(T0, T0).await.unwrap(), 5);
}

#[tokio::test]
async fn template_store_contract_holds_for_dynamodb_and_memory() {
    let (sdk, stack) = stack().await;
    template_contract(&DynamoTemplateStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.reference("TemplatesTable").unwrap(),
    ))
    .await;
    template_contract(&MemoryTemplateStore::default()).await;
}

#[tokio::test]
async fn campaign_store_contract_holds_for_dynamodb_and_memory() {
    let (sdk, stack) = stack().await;
    campaign_contract(&DynamoCampaignStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.reference("CampaignsTable").unwrap(),
    ))
    .await;
    campaign_contract(&MemoryCampaignStore::default()).await;
}

#[tokio::test]
async fn recipient_store_contract_holds_for_dynamodb_and_memory() {
    let (sdk, stack) = stack().await;
    recipient_contract(&DynamoRecipientStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.reference("RecipientsTable").unwrap(),
    ))
    .await;
    recipient_contract(&MemoryRecipientStore::default()).await;
}

#[tokio::test]
async fn send_log_contract_holds_for_the_dynamodb_transaction_and_memory() {
    let (sdk, stack) = stack().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let (recipients_table, campaigns_table, ledger_table) = (
        stack.reference("RecipientsTable").unwrap(),
        stack.reference("CampaignsTable").unwrap(),
        stack.reference("LedgerTable").unwrap(),
    );
    send_log_contract(
        &DynamoSendLog::new(client.clone(), recipients_table, campaigns_table, ledger_table),
        &DynamoRecipientStore::new(client.clone(), recipients_table),
        &DynamoCampaignStore::new(client.clone(), campaigns_table),
        &DynamoLedger::new(client, ledger_table),
    )
    .await;
    let (recipients, campaigns, ledger) = (
        Arc::new(MemoryRecipientStore::default()),
        Arc::new(MemoryCampaignStore::default()),
        Arc::new(MemoryLedger::default()),
    );
    let log = StoreSendLog { recipients: recipients.clone(), campaigns: campaigns.clone(), ledger: ledger.clone() };
    send_log_contract(&log, &recipients, &campaigns, &ledger).await;
}

#[tokio::test]
async fn result_log_contract_holds_for_the_dynamodb_transaction_and_memory() {
    let (sdk, stack) = stack().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let (recipients_table, campaigns_table) =
        (stack.reference("RecipientsTable").unwrap(), stack.reference("CampaignsTable").unwrap());
    result_log_contract(
        &DynamoResultLog::new(client.clone(), recipients_table, campaigns_table),
        &DynamoRecipientStore::new(client.clone(), recipients_table),
        &DynamoCampaignStore::new(client, campaigns_table),
    )
    .await;
    let (recipients, campaigns) = (Arc::new(MemoryRecipientStore::default()), Arc::new(MemoryCampaignStore::default()));
    let log = StoreResultLog { recipients: recipients.clone(), campaigns: campaigns.clone() };
    result_log_contract(&log, &recipients, &campaigns).await;
}

#[tokio::test]
async fn suppression_store_contract_holds_for_dynamodb_and_memory() {
    let (sdk, stack) = stack().await;
    suppression_contract(&DynamoSuppressionStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.reference("SuppressionsTable").unwrap(),
    ))
    .await;
    suppression_contract(&MemorySuppressionStore::default()).await;
}

#[tokio::test]
async fn ledger_contract_holds_for_dynamodb_and_memory() {
    let (sdk, stack) = stack().await;
    ledger_contract(&DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), stack.reference("LedgerTable").unwrap()))
        .await;
    ledger_contract(&MemoryLedger::default()).await;
}
