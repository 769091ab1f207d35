//! The send log: how a batch of sends ended, recorded together.

pub mod contract;
mod dynamo;

pub use dynamo::DynamoSendLog;

use std::future::Future;

use time::OffsetDateTime;

use crate::domain::{CampaignId, Counter, CounterDelta, RecipientId, RecipientStatus, SendOutcome};
use crate::store::{CampaignStore, Ledger, RecipientStore, StoreError};

/// Records how a batch of sends ended: each recipient's final state, the campaign's counters
/// and the hourly sent count, together (one transaction where the store has them). Outcomes
/// whose recipient is no longer `sending` are not counted: whoever holds it counts it.
pub trait SendLog: Send + Sync {
    fn record(
        &self,
        campaign: &CampaignId,
        outcomes: &[SendOutcome],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Releases these failed recipients for a retry ([`RecipientStore::release_failed`]),
    /// lowering the campaign's `failed` count by one with each (together, where the store
    /// can); returns how many were released. Releasing again changes and counts nothing.
    fn release_failed(
        &self,
        campaign: &CampaignId,
        ids: &[RecipientId],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// [`SendLog`] over the three stores, one write at a time.
pub struct StoreSendLog<R, C, L> {
    pub recipients: R,
    pub campaigns: C,
    pub ledger: L,
}

impl<R, C: CampaignStore, L: Ledger> StoreSendLog<R, C, L> {
    async fn count(
        &self,
        campaign: &CampaignId,
        delta: &CounterDelta,
        sent: u64,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        self.campaigns.add_counters(campaign, delta).await?;
        if sent > 0 {
            self.ledger.add_sent(now, sent).await?;
        }
        Ok(())
    }
}

impl<R: RecipientStore, C: CampaignStore, L: Ledger> SendLog for StoreSendLog<R, C, L> {
    async fn record(
        &self,
        campaign: &CampaignId,
        outcomes: &[SendOutcome],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut delta = CounterDelta::default();
        let mut sent = 0;
        for outcome in outcomes {
            match self.recipients.finish(campaign, outcome, now).await {
                Ok(()) => {}
                Err(StoreError::Conflict { current }) => {
                    tracing::warn!(campaign = %campaign, recipient = %outcome.recipient_id, current = %current, "claim lost before its outcome was recorded");
                    continue;
                }
                // The outcomes written so far are counted before the error is returned: a
                // retry finds those recipients finished and does not count them again.
                Err(e) => {
                    self.count(campaign, &delta, sent, now).await?;
                    return Err(e);
                }
            }
            if let Some(counter) = outcome.counter() {
                delta = delta.add(counter, 1);
            }
            if outcome.status == RecipientStatus::Sent {
                sent += 1;
            }
        }
        self.count(campaign, &delta, sent, now).await
    }

    async fn release_failed(
        &self,
        campaign: &CampaignId,
        ids: &[RecipientId],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut released = 0;
        for id in ids {
            if self.recipients.release_failed(campaign, id, now).await? {
                self.campaigns.add_counters(campaign, &CounterDelta::default().add(Counter::Failed, -1)).await?;
                released += 1;
            }
        }
        Ok(released)
    }
}

#[cfg(test)]
mod tests {

    use super::StoreSendLog;
    use crate::store::{MemoryCampaignStore, MemoryLedger, MemoryRecipientStore};

    #[tokio::test]
    async fn outcomes_written_before_a_failing_write_are_counted() {
        use crate::domain::{RecipientStatus, SendOutcome};
        use crate::store::fixtures::{campaign, recipient, sent, T0};
        use crate::store::{CampaignReader, CampaignStore, RecipientStore, SendLog};
        let (recipients, campaigns, ledger) =
            (MemoryRecipientStore::default(), MemoryCampaignStore::default(), MemoryLedger::default());
        let log = StoreSendLog { recipients: recipients.clone(), campaigns: campaigns.clone(), ledger };
        let c = campaign("c1");
        campaigns.create(&c).await.unwrap();
        let first = recipient("c1", 1, RecipientStatus::Sending);
        recipients.claim(&first, T0, T0 + time::Duration::minutes(2)).await.unwrap();
        // The second write fails (here: no such recipient) after the first was written.
        let missing =
            SendOutcome::new(recipient("c1", 2, RecipientStatus::Sending).recipient_id, RecipientStatus::Sent);
        assert!(log.record(&c.id, &[sent(&first.recipient_id, "m-1"), missing], T0).await.is_err());
        assert_eq!(campaigns.get(&c.id).await.unwrap().unwrap().counters.sent, 1, "the written one is counted");
    }

    #[tokio::test]
    async fn the_store_by_store_log_over_memory_keeps_the_contract() {
        let (recipients, campaigns, ledger) =
            (MemoryRecipientStore::default(), MemoryCampaignStore::default(), MemoryLedger::default());
        let log = StoreSendLog { recipients: recipients.clone(), campaigns: campaigns.clone(), ledger: ledger.clone() };
        super::contract::run(&log, &recipients, &campaigns, &ledger).await;
    }
}
