use std::future::Future;

use time::OffsetDateTime;

use crate::domain::{
    Campaign, CampaignId, CampaignStatus, CounterDelta, DeliveryResult, EmailAddress, Recipient, RecipientId,
    RecipientStatus, SendOutcome, SplitTotals, Suppression, SuppressionScope, Template, TemplateId, TemplateSummary,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A conditional write found the item in another state.
    #[error("conflict: current state is '{current}'")]
    Conflict { current: String },
    #[error("pagination cursor is not valid")]
    BadCursor,
    #[error("store throttled the request")]
    Throttled,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item that does not decode into its domain type.
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable(_))
    }
}

/// One page of a listing; `next` is an opaque cursor for the following page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

pub trait TemplateStore: Send + Sync {
    /// Stores a new version; `AlreadyExists` if that version was taken meanwhile.
    fn put_version(&self, template: &Template) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A given version, or the latest one of a template that was not deleted.
    fn get(
        &self,
        id: &TemplateId,
        version: Option<u32>,
    ) -> impl Future<Output = Result<Option<Template>, StoreError>> + Send;
    fn list(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<TemplateSummary>, StoreError>> + Send;
    /// Removes the template from listings and new campaigns; versions pinned by existing
    /// campaigns stay readable. Returns whether it existed.
    fn delete(&self, id: &TemplateId) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

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
}

/// [`SendLog`] over the three stores, one write at a time.
pub struct StoreSendLog<R, C, L> {
    pub recipients: R,
    pub campaigns: C,
    pub ledger: L,
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
                Err(e) => return Err(e),
            }
            if let Some(counter) = outcome.counter() {
                delta = delta.add(counter, 1);
            }
            if outcome.status == RecipientStatus::Sent {
                sent += 1;
            }
        }
        self.campaigns.add_counters(campaign, &delta).await?;
        if sent > 0 {
            self.ledger.add_sent(now, sent).await?;
        }
        Ok(())
    }
}

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

pub trait SuppressionStore: Send + Sync {
    /// Which of `addresses` must not be mailed by `sender` (suppressed for everyone, or
    /// unsubscribed from that sender).
    fn suppressed_among(
        &self,
        addresses: &[EmailAddress],
        sender: &EmailAddress,
    ) -> impl Future<Output = Result<std::collections::HashSet<EmailAddress>, StoreError>> + Send;
    /// Adds or replaces the suppression for its address and scope.
    fn put(&self, suppression: &Suppression) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Adds the suppression unless the address already has one for that scope (the first
    /// reason stays: a complaint is not rewritten as a bounce). Returns whether it was added.
    fn add(&self, suppression: &Suppression) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async move {
            if self.find(&suppression.address).await?.iter().any(|s| s.scope == suppression.scope) {
                return Ok(false);
            }
            self.put(suppression).await?;
            Ok(true)
        }
    }
    /// Every suppression of an address.
    fn find(&self, address: &EmailAddress) -> impl Future<Output = Result<Vec<Suppression>, StoreError>> + Send;
    /// Returns whether it existed.
    fn remove(
        &self,
        address: &EmailAddress,
        scope: &SuppressionScope,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn list(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Suppression>, StoreError>> + Send;
}

/// Small facts with a lifetime: idempotency keys, processed event ids, hourly send counts.
pub trait Ledger: Send + Sync {
    /// Records `key` with a value at `now`, kept for `lifetime`, unless it is already recorded
    /// and not expired at `now`: `None` the first time, `Some(first value)` after. The caller's
    /// `now` (its clock) decides expiry, never the store's own idea of the time.
    fn record_once(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
        lifetime: time::Duration,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Adds `count` mails to the hour containing `at`.
    fn add_sent(&self, at: OffsetDateTime, count: u64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Mails sent in the whole hours from the one containing `from` to the one containing `to`.
    fn sent_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}
