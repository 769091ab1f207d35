//! Recipients: one item per recipient of a campaign, with its claim, status and results.

pub mod contract;
mod dynamo;
mod memory;

pub use dynamo::{DynamoRecipientStore, RECIPIENTS_BY_MESSAGE_ID_INDEX, RECIPIENTS_BY_STATUS_INDEX};
pub use memory::MemoryRecipientStore;

use std::future::Future;

use time::OffsetDateTime;

use crate::domain::{CampaignId, DeliveryResult, Recipient, RecipientId, RecipientStatus, SendOutcome};
use crate::store::{Page, StoreError};

pub trait RecipientStore: Send + Sync {
    fn get(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
    ) -> impl Future<Output = Result<Option<Recipient>, StoreError>> + Send;
    /// Claims a recipient for sending, writing it if it is new: succeeds if there is no such
    /// recipient yet, or it is `queued`/`paused`, or `failed` and retryable, or `sending` with a
    /// lease that ran out before `now` (its sender crashed). Sets `sending` with a lease until
    /// `lease_until` and counts the attempt. `Conflict` names the current status otherwise
    /// (a redelivered message for a recipient already sent finds `sent`).
    fn claim(
        &self,
        recipient: &Recipient,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> impl Future<Output = Result<Recipient, StoreError>> + Send;
    /// Claims several recipients, one result each (in order). Adapters may do it in one call.
    fn claim_batch(
        &self,
        recipients: &[Recipient],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> impl Future<Output = Result<Vec<Result<Recipient, StoreError>>, StoreError>> + Send {
        async move {
            let mut results = Vec::with_capacity(recipients.len());
            for recipient in recipients {
                match self.claim(recipient, now, lease_until).await {
                    Err(e) if e.retryable() => return Err(e),
                    other => results.push(other),
                }
            }
            Ok(results)
        }
    }
    /// Ends a claim: from `sending` to the outcome's status (with its message id or error).
    /// `Conflict` if the recipient is no longer `sending` (its lease ran out and another
    /// sender took it over).
    fn finish(
        &self,
        campaign: &CampaignId,
        outcome: &SendOutcome,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Moves a recipient that failed for a transient reason back to `queued`, for a retry:
    /// false, and nothing changed, if it is not failed-and-retryable (released already, or
    /// failed for good).
    fn release_failed(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Moves a sent recipient forward in [`RecipientStatus::rank`] (a delivery result); returns
    /// false and changes nothing if its status already ranks at or above `to`, or it ended
    /// unsent (failed, suppressed, stopped). `Conflict` names the status of a recipient still
    /// in flight (queued, sending, paused: its sender has not recorded the send yet, so the
    /// result is early); `NotFound` if there is no such recipient.
    fn advance(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        to: RecipientStatus,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Notes a delivery result on a sent recipient: true the first time, false if it was noted
    /// before (or the recipient ended unsent). `Conflict` and `NotFound` as for `advance`.
    fn note_result(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        result: DeliveryResult,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The recipient a mail was sent to, by the provider's message id.
    fn find_by_message_id(
        &self,
        message_id: &str,
    ) -> impl Future<Output = Result<Option<(CampaignId, RecipientId)>, StoreError>> + Send;
    fn list_by_status(
        &self,
        campaign: &CampaignId,
        status: RecipientStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Recipient>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::contract::run(&super::MemoryRecipientStore::default()).await;
    }
}
