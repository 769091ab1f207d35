//! What every campaign store does, run against each adapter.

use time::Duration;

use crate::domain::{Campaign, CampaignId, CampaignStatus, Counter, CounterDelta, RequeueJob, SplitTotals};
use crate::store::fixtures::*;
use crate::store::{CampaignStore, StoreError};

pub async fn run(store: &impl CampaignStore) {
    let c = campaign("c1");
    store.create(&c).await.unwrap();
    assert!(matches!(store.create(&c).await, Err(StoreError::AlreadyExists(_))));
    assert_eq!(store.get(&c.id).await.unwrap().unwrap(), c);

    let later = T0 + Duration::minutes(1);
    let moved =
        store.transition(&c.id, &[CampaignStatus::Queued], CampaignStatus::Splitting, None, None, later).await.unwrap();
    assert_eq!((moved.status, moved.updated_at), (CampaignStatus::Splitting, later));
    match store.transition(&c.id, &[CampaignStatus::Queued], CampaignStatus::Paused, None, None, later).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current, CampaignStatus::Splitting),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let paused = store
        .transition(
            &c.id,
            &[CampaignStatus::Splitting, CampaignStatus::Sending],
            CampaignStatus::Paused,
            Some("bounce rate 6%"),
            Some("arn:aws:iam::1:user/ann"),
            later,
        )
        .await
        .unwrap();
    assert_eq!(paused.status_reason.as_deref(), Some("bounce rate 6%"));
    assert_eq!(paused.updated_by.as_deref(), Some("arn:aws:iam::1:user/ann"), "the caller is recorded");
    let resumed =
        store.transition(&c.id, &[CampaignStatus::Paused], CampaignStatus::Sending, None, None, later).await.unwrap();
    assert_eq!(resumed.status_reason, None, "the reason goes with the status");
    assert_eq!(resumed.updated_by.as_deref(), Some("arn:aws:iam::1:user/ann"), "a change nobody asked for keeps it");

    let missing = CampaignId::parse("nope").unwrap();
    assert!(matches!(
        store.transition(&missing, &[CampaignStatus::Queued], CampaignStatus::Splitting, None, None, later).await,
        Err(StoreError::NotFound(_))
    ));

    store.add_counters(&c.id, &CounterDelta::one(Counter::Sent).add(Counter::Queued, 5)).await.unwrap();
    store.add_counters(&c.id, &CounterDelta::one(Counter::Sent).add(Counter::Queued, -1)).await.unwrap();
    let counters = store.get(&c.id).await.unwrap().unwrap().counters;
    assert_eq!((counters.sent, counters.queued, counters.failed), (2, 4, 0));
    assert!(matches!(
        store.add_counters(&missing, &CounterDelta::one(Counter::Sent)).await,
        Err(StoreError::NotFound(_))
    ));

    // The list's format is kept once known; totals that do not say it leave it.
    let read = SplitTotals { total: 3, list_format: Some("windows-1252"), ..Default::default() };
    store.set_split_totals(&c.id, &read).await.unwrap();
    store.set_split_totals(&c.id, &SplitTotals { total: 4, ..Default::default() }).await.unwrap();
    let after = store.get(&c.id).await.unwrap().unwrap();
    assert_eq!((after.counters.total, after.list_format.as_deref()), (4, Some("windows-1252")));

    // A requeue's progress is written over the last, and read back with the campaign.
    let mut progress = RequeueJob { requeued: 1000, ..RequeueJob::resume(c.id.clone()) }.progress(false, later);
    store.set_requeue_progress(&c.id, &progress).await.unwrap();
    progress.finished = true;
    store.set_requeue_progress(&c.id, &progress).await.unwrap();
    assert_eq!(store.get(&c.id).await.unwrap().unwrap().requeue, Some(progress));
    assert!(matches!(store.set_requeue_progress(&missing, &progress).await, Err(StoreError::NotFound(_))));

    // Listing: newest first, a page at a time, or one status only.
    for (hours, id) in [(1, "l1"), (2, "l2"), (3, "l3")] {
        store.create(&Campaign { created_at: T0 + Duration::hours(hours), ..campaign(id) }).await.unwrap();
    }
    let l2 = CampaignId::parse("l2").unwrap();
    store.transition(&l2, &[CampaignStatus::Queued], CampaignStatus::Cancelled, None, None, later).await.unwrap();
    let first = store.list(None, 2, None).await.unwrap();
    assert_eq!(ids(&first.items), ["l3", "l2"]);
    let mut all = first.items;
    let mut cursor = first.next;
    while let Some(next) = cursor {
        let page = store.list(None, 2, Some(&next)).await.unwrap();
        all.extend(page.items);
        cursor = page.next;
    }
    assert_eq!(ids(&all), ["l3", "l2", "l1", "c1"]);
    assert_eq!(ids(&store.list(Some(CampaignStatus::Queued), 10, None).await.unwrap().items), ["l3", "l1"]);
    assert_eq!(ids(&store.list(Some(CampaignStatus::Cancelled), 10, None).await.unwrap().items), ["l2"]);
    assert_eq!(ids(&store.list(Some(CampaignStatus::Sending), 10, None).await.unwrap().items), ["c1"]);
    assert!(store.list(Some(CampaignStatus::Failed), 10, None).await.unwrap().items.is_empty());
}

fn ids(campaigns: &[Campaign]) -> Vec<&str> {
    campaigns.iter().map(|c| c.id.as_str()).collect()
}
