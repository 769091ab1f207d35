//! One contract per store, run against the DynamoDB adapter (real SDK, local endpoint) and the
//! in-memory adapter: both must give the same answers, conditional writes included.

use std::collections::BTreeMap;

use fanmail_common::aws::{
    DynamoCampaignStore, DynamoLedger, DynamoRecipientStore, DynamoSuppressionStore, DynamoTemplateStore,
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

async fn recipient_contract(store: &impl RecipientStore) {
    let c = CampaignId::parse("c1").unwrap();
    let r = recipient("c1", 1, RecipientStatus::Queued);
    assert!(store.insert_new(&r).await.unwrap());
    assert!(!store.insert_new(&recipient("c1", 1, RecipientStatus::Queued)).await.unwrap(), "never written twice");

    let lease = T0 + Duration::minutes(5);
    let claimed = store.claim(&c, &r.recipient_id, T0, lease).await.unwrap();
    assert_eq!((claimed.status, claimed.attempts), (RecipientStatus::Sending, 1));
    match store.claim(&c, &r.recipient_id, T0 + Duration::minutes(1), lease).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current, "sending"),
        other => panic!("a live claim must not be taken twice: {other:?}"),
    }
    // The first sender crashed: its lease ran out, another may take over.
    let retaken =
        store.claim(&c, &r.recipient_id, lease + Duration::seconds(1), lease + Duration::minutes(5)).await.unwrap();
    assert_eq!(retaken.attempts, 2);

    store.finish(&c, &r.recipient_id, RecipientStatus::Sent, Some("ses-1"), None, T0).await.unwrap();
    assert!(matches!(
        store.finish(&c, &r.recipient_id, RecipientStatus::Sent, Some("ses-2"), None, T0).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.claim(&c, &r.recipient_id, T0 + Duration::days(1), T0).await,
        Err(StoreError::Conflict { .. })
    ));
    let sent = store.get(&c, &r.recipient_id).await.unwrap().unwrap();
    assert_eq!((sent.status, sent.message_id.as_deref()), (RecipientStatus::Sent, Some("ses-1")));

    assert!(store.advance(&c, &r.recipient_id, RecipientStatus::Bounced, T0).await.unwrap());
    assert!(
        !store.advance(&c, &r.recipient_id, RecipientStatus::Delivered, T0).await.unwrap(),
        "a late delivery never overwrites a bounce"
    );
    assert_eq!(store.get(&c, &r.recipient_id).await.unwrap().unwrap().status, RecipientStatus::Bounced);
    let nobody = RecipientId::parse("nobody").unwrap();
    assert!(matches!(store.advance(&c, &nobody, RecipientStatus::Delivered, T0).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.claim(&c, &nobody, T0, T0).await, Err(StoreError::NotFound(_))));

    for n in 2..=13 {
        store.insert_new(&recipient("c1", n, RecipientStatus::Queued)).await.unwrap();
    }
    store.insert_new(&recipient("c2", 99, RecipientStatus::Queued)).await.unwrap();
    let mut ids = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_by_status(&c, RecipientStatus::Queued, 5, cursor.as_deref()).await.unwrap();
        assert!(page.items.len() <= 5);
        ids.extend(page.items.into_iter().map(|r| r.recipient_id.to_string()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    ids.sort();
    assert_eq!(ids, (2..=13).map(|n| format!("r{n:04}")).collect::<Vec<_>>());
    assert!(matches!(
        store.list_by_status(&c, RecipientStatus::Queued, 5, Some("garbage!")).await,
        Err(StoreError::BadCursor)
    ));
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
    assert!(store.remove(&address, &SuppressionScope::All).await.unwrap());
    assert!(!store.remove(&address, &SuppressionScope::All).await.unwrap());
    assert_eq!(store.find(&address).await.unwrap(), [unsub]);
}

async fn ledger_contract(ledger: &impl Ledger) {
    let later = OffsetDateTime::now_utc() + Duration::days(1);
    assert_eq!(ledger.record_once("idem#k1", "c1", later).await.unwrap(), None);
    assert_eq!(ledger.record_once("idem#k1", "c2", later).await.unwrap(), Some("c1".into()));
    let past = OffsetDateTime::now_utc() - Duration::hours(1);
    ledger.record_once("idem#old", "a", past).await.unwrap();
    assert_eq!(ledger.record_once("idem#old", "b", later).await.unwrap(), None, "an expired key may be recorded again");

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
