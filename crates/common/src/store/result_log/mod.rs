//! The result log: delivery results, each counted once per recipient.

pub mod contract;
mod dynamo;

pub use dynamo::DynamoResultLog;

use std::future::Future;

use time::OffsetDateTime;

use crate::domain::{CampaignId, CounterDelta, DeliveryResult, RecipientId};
use crate::store::{CampaignStore, RecipientStore, StoreError};

/// What recording one delivery result changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    /// The campaign counter went up (the first report of this result for this recipient).
    pub counted: bool,
    /// The recipient's status moved forward.
    pub advanced: bool,
}

/// Records delivery results: each counts once per recipient on the campaign's counters (the
/// note and the count together, one transaction where the store has them), then the
/// recipient's status moves forward. Replays and late or out-of-order results change nothing.
pub trait ResultLog: Send + Sync {
    fn record(
        &self,
        campaign: &CampaignId,
        recipient: &RecipientId,
        result: DeliveryResult,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;
}

/// [`ResultLog`] over the two stores, one write at a time.
pub struct StoreResultLog<R, C> {
    pub recipients: R,
    pub campaigns: C,
}

impl<R: RecipientStore, C: CampaignStore> ResultLog for StoreResultLog<R, C> {
    async fn record(
        &self,
        campaign: &CampaignId,
        recipient: &RecipientId,
        result: DeliveryResult,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        record_result(&self.recipients, &self.campaigns, campaign, recipient, result, now).await
    }
}

/// Records a delivery result one write at a time (see [`ResultLog`]).
pub async fn record_result(
    recipients: &impl RecipientStore,
    campaigns: &impl CampaignStore,
    campaign: &CampaignId,
    recipient: &RecipientId,
    result: DeliveryResult,
    now: OffsetDateTime,
) -> Result<Recorded, StoreError> {
    let counted = recipients.note_result(campaign, recipient, result).await?;
    if counted {
        campaigns.add_counters(campaign, &CounterDelta::one(result.counter())).await?;
    }
    let advanced = match result.status() {
        Some(to) => recipients.advance(campaign, recipient, to, now).await?,
        None => false,
    };
    Ok(Recorded { counted, advanced })
}

#[cfg(test)]
mod tests {

    use super::StoreResultLog;
    use crate::store::{MemoryCampaignStore, MemoryRecipientStore};

    #[tokio::test]
    async fn the_store_by_store_log_over_memory_keeps_the_contract() {
        let (recipients, campaigns) = (MemoryRecipientStore::default(), MemoryCampaignStore::default());
        let log = StoreResultLog { recipients: recipients.clone(), campaigns: campaigns.clone() };
        super::contract::run(&log, &recipients, &campaigns).await;
    }
}
