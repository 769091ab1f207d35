//! Campaigns: one item per campaign, its status, counters and split progress.

pub mod contract;
mod dynamo;
mod memory;

pub use dynamo::DynamoCampaignStore;
pub use memory::MemoryCampaignStore;

use std::future::Future;

use time::OffsetDateTime;

use crate::domain::{Campaign, CampaignId, CampaignStatus, CounterDelta, SplitTotals};
use crate::store::StoreError;

pub trait CampaignStore: Send + Sync {
    /// `AlreadyExists` if the id is taken.
    fn create(&self, campaign: &Campaign) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn get(&self, id: &CampaignId) -> impl Future<Output = Result<Option<Campaign>, StoreError>> + Send;
    /// Moves the campaign to `to` if its status is one of `from`; `Conflict` names the current
    /// status otherwise, `NotFound` if there is no such campaign. Returns the updated campaign.
    fn transition(
        &self,
        id: &CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Campaign, StoreError>> + Send;
    /// Moves a scheduled campaign to a new send time under a new schedule generation, if it is
    /// still `scheduled` at `expected_generation`; `Conflict` names the current status otherwise.
    fn reschedule(
        &self,
        id: &CampaignId,
        expected_generation: u32,
        send_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Campaign, StoreError>> + Send;
    /// Writes a split run's totals over the campaign's split counters.
    fn set_split_totals(
        &self,
        id: &CampaignId,
        totals: &SplitTotals,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Atomically adds to the campaign's counters.
    fn add_counters(
        &self,
        id: &CampaignId,
        delta: &CounterDelta,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::contract::run(&super::MemoryCampaignStore::default()).await;
    }
}
