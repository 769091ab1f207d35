//! What every recipient store does, run against each adapter.

use time::Duration;

use crate::domain::{CampaignId, Recipient, RecipientId, RecipientStatus, SendOutcome};
use crate::store::fixtures::*;
use crate::store::{RecipientStore, StoreError};

pub async fn run(store: &impl RecipientStore) {
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
        Err(StoreError::Conflict { current }) => assert_eq!(current, RecipientStatus::Sending),
        other => panic!("a live claim must not be taken twice: {other:?}"),
    }
    // The first sender crashed: its lease ran out, another may take over.
    let retaken = store.claim(&r, lease + Duration::seconds(1), lease + Duration::minutes(5)).await.unwrap();
    assert_eq!(retaken.attempts, 2);
    assert_eq!(store.get(&c, &r.recipient_id).await.unwrap().unwrap().attempts, 2);

    store.finish(&c, &sent(&r.recipient_id, "ses-1"), T0).await.unwrap();
    assert!(matches!(store.finish(&c, &sent(&r.recipient_id, "ses-2"), T0).await, Err(StoreError::Conflict { .. })));
    assert!(
        matches!(store.claim(&r, T0 + Duration::days(1), T0 + Duration::days(2)).await, Err(StoreError::Conflict { current }) if current == RecipientStatus::Sent),
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
    let attempts = |results: Vec<Result<Recipient, StoreError>>| -> Vec<u32> {
        results.into_iter().map(|r| r.expect("claimed").attempts).collect()
    };
    assert_eq!(attempts(store.claim_batch(&fresh, T0, lease).await.unwrap()), [1, 1, 1], "first claims");

    for n in 4..=9 {
        let id = RecipientId::parse(format!("r{n:04}")).unwrap();
        store.finish(&c, &SendOutcome::new(id, RecipientStatus::Queued), T0).await.unwrap();
    }
    // Claimed again in a batch (a lost answer's recheck, a retry): each claim says it is the
    // second, which is what makes the sender read SES's record of the first before mailing.
    let again: Vec<Recipient> = (7..=9).map(|n| recipient("c1", n, RecipientStatus::Sending)).collect();
    assert_eq!(attempts(store.claim_batch(&again, T0, lease).await.unwrap()), [2, 2, 2], "second claims");
    let mixed = [recipient("c1", 10, RecipientStatus::Sending), recipient("c1", 7, RecipientStatus::Sending)];
    store.finish(&c, &SendOutcome::new(mixed[1].recipient_id.clone(), RecipientStatus::Queued), T0).await.unwrap();
    assert_eq!(attempts(store.claim_batch(&mixed, T0, lease).await.unwrap()), [1, 3], "a batch of both kinds");
    for n in [7, 8, 9, 10] {
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
    assert_eq!(ids, (4..=10).map(|n| format!("r{n:04}")).collect::<Vec<_>>());
    assert!(matches!(
        store.list_by_status(&c, RecipientStatus::Queued, 5, Some("garbage!")).await,
        Err(StoreError::BadCursor)
    ));

    // Paging on while each page's recipients leave the status (as a retry releases them):
    // nobody is skipped or seen twice.
    let (mut moved, mut cursor) = (Vec::new(), None);
    loop {
        let page = store.list_by_status(&c, RecipientStatus::Queued, 2, cursor.as_deref()).await.unwrap();
        for r in &page.items {
            let claimed = store.claim(r, T0, lease).await.unwrap();
            store.finish(&c, &SendOutcome::new(claimed.recipient_id.clone(), RecipientStatus::Sent), T0).await.unwrap();
            moved.push(r.recipient_id.to_string());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    moved.sort();
    assert_eq!(moved, (4..=10).map(|n| format!("r{n:04}")).collect::<Vec<_>>());
}
