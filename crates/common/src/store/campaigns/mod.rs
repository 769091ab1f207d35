//! Campaigns: one item per campaign, its status, counters and split progress.

pub mod contract;
mod dynamo;
mod memory;

pub use dynamo::DynamoCampaignStore;
pub use memory::MemoryCampaignStore;

use std::future::Future;

use time::OffsetDateTime;

use crate::domain::{Campaign, CampaignId, CampaignStatus, CounterDelta, RequeueProgress, SplitTotals};
use crate::store::{Page, StoreError};

/// Reading a campaign: all that a caller which only looks needs.
pub trait CampaignReader: Send + Sync {
    fn get(&self, id: &CampaignId) -> impl Future<Output = Result<Option<Campaign>, StoreError>> + Send;
    /// Campaigns newest first (by creation, then id), only those in `status` if given, a page
    /// at a time: a page costs its own size, however many campaigns there are.
    fn list(
        &self,
        status: Option<CampaignStatus>,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Campaign>, StoreError>> + Send;
}

pub trait CampaignStore: CampaignReader {
    /// `AlreadyExists` if the id is taken.
    fn create(&self, campaign: &Campaign) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Moves the campaign to `to` if its status is one of `from`; `Conflict` names the current
    /// status otherwise, `NotFound` if there is no such campaign. Returns the updated campaign.
    /// `by`, when a caller asked for the change, is recorded as the campaign's `updated_by`.
    fn transition(
        &self,
        id: &CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        reason: Option<&str>,
        by: Option<&str>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Campaign, StoreError>> + Send;
    /// Moves a scheduled campaign to a new send time under a new schedule generation, if it is
    /// still `scheduled` at `expected_generation`; `Conflict` names the current status otherwise.
    fn reschedule(
        &self,
        id: &CampaignId,
        expected_generation: u32,
        send_at: OffsetDateTime,
        by: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Campaign, StoreError>> + Send;
    /// Writes a split run's totals over the campaign's split counters.
    fn set_split_totals(
        &self,
        id: &CampaignId,
        totals: &SplitTotals,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Writes how far the campaign's latest requeue has got (over what was there).
    fn set_requeue_progress(
        &self,
        id: &CampaignId,
        progress: &RequeueProgress,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Atomically adds to the campaign's counters.
    fn add_counters(
        &self,
        id: &CampaignId,
        delta: &CounterDelta,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A campaign's place in the newest-first listing: its creation instant in nanoseconds, fixed
/// width so the text sorts as the time does, then its id (two created in the same instant).
pub(crate) fn listing_key(campaign: &Campaign) -> String {
    format!("{:020}#{}", campaign.created_at.unix_timestamp_nanos(), campaign.id)
}

/// Panics on a change of status that [`crate::domain::TRANSITIONS`] does not allow: a
/// programming error, which the tests of whoever asks for it catch.
pub(crate) fn check_transition(from: &[CampaignStatus], to: CampaignStatus) {
    for status in from {
        assert!(status.may_become(to), "a {status} campaign may not become {to}");
    }
}

/// Moves a sending campaign whose every recipient reached a final state to `completed`, and
/// returns the campaign as it now stands. Called where the last outcomes may have just been
/// counted: the sender after recording a batch, the splitter as it hands over, a resume.
pub async fn complete_if_done(
    campaigns: &impl CampaignStore,
    campaign: Campaign,
    now: OffsetDateTime,
) -> Result<Campaign, StoreError> {
    if !campaign.all_recipients_done() {
        return Ok(campaign);
    }
    match campaigns
        .transition(&campaign.id, &[CampaignStatus::Sending], CampaignStatus::Completed, None, None, now)
        .await
    {
        Ok(done) => {
            let c = &done.counters;
            tracing::info!(campaign = %done.id, sent = c.sent, failed = c.failed, skipped = c.skipped, "campaign completed");
            Ok(done)
        }
        // Completed, paused or cancelled meanwhile: whoever did it has the last word.
        Err(StoreError::Conflict { .. }) => Ok(campaign),
        Err(e) => Err(e),
    }
}

/// Pauses a running campaign (queued, splitting or sending) with the reason users will see;
/// `None` if it is no longer running (paused, finished or cancelled meanwhile).
pub async fn pause_running(
    campaigns: &impl CampaignStore,
    id: &CampaignId,
    reason: &str,
    now: OffsetDateTime,
) -> Result<Option<Campaign>, StoreError> {
    match campaigns.transition(id, &CampaignStatus::RUNNING, CampaignStatus::Paused, Some(reason), None, now).await {
        Ok(paused) => Ok(Some(paused)),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fixtures::{campaign, T0};

    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::contract::run(&super::MemoryCampaignStore::default()).await;
    }

    #[tokio::test]
    #[should_panic(expected = "a queued campaign may not become sending")]
    async fn a_transition_outside_the_table_is_refused() {
        let store = MemoryCampaignStore::default();
        let c = campaign("c1");
        store.create(&c).await.unwrap();
        let _ = store.transition(&c.id, &[CampaignStatus::Queued], CampaignStatus::Sending, None, None, T0).await;
    }

    #[tokio::test]
    async fn a_campaign_completes_once_its_outcomes_reach_the_total() {
        let store = MemoryCampaignStore::default();
        let mut c = campaign("c1");
        c.status = CampaignStatus::Sending;
        c.counters.total = 2;
        store.create(&c).await.unwrap();
        store.add_counters(&c.id, &CounterDelta::one(crate::domain::Counter::Sent)).await.unwrap();
        let read = store.get(&c.id).await.unwrap().unwrap();
        assert_eq!(complete_if_done(&store, read, T0).await.unwrap().status, CampaignStatus::Sending);
        store.add_counters(&c.id, &CounterDelta::one(crate::domain::Counter::Skipped)).await.unwrap();
        let read = store.get(&c.id).await.unwrap().unwrap();
        assert_eq!(complete_if_done(&store, read.clone(), T0).await.unwrap().status, CampaignStatus::Completed);
        assert_eq!(
            complete_if_done(&store, read, T0).await.unwrap().status,
            CampaignStatus::Sending,
            "a stale copy changes nothing"
        );
        assert_eq!(store.get(&c.id).await.unwrap().unwrap().status, CampaignStatus::Completed);
    }
}
