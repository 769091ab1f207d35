use std::future::Future;

use time::OffsetDateTime;

use crate::domain::{
    Campaign, CampaignId, CampaignStatus, CounterDelta, EmailAddress, Recipient, RecipientId, RecipientStatus,
    SplitTotals, Suppression, SuppressionScope, Template, TemplateId, TemplateSummary,
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
    /// Writes a recipient unless one with that id exists; returns whether it was written (a
    /// re-run of the splitter never resets a recipient already sent).
    fn insert_new(&self, recipient: &Recipient) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn get(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
    ) -> impl Future<Output = Result<Option<Recipient>, StoreError>> + Send;
    /// Claims a recipient for sending: succeeds if it is `queued`/`paused`, or `sending` with a
    /// lease that ran out before `now` (its sender crashed). Sets a lease until `lease_until`
    /// and counts the attempt. `Conflict` names the current status otherwise.
    fn claim(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> impl Future<Output = Result<Recipient, StoreError>> + Send;
    /// Ends a claim: from `sending` to `to`, with the provider's message id or the error.
    fn finish(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        to: RecipientStatus,
        message_id: Option<&str>,
        error: Option<&str>,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Moves a recipient forward in [`RecipientStatus::rank`]; returns false (and changes
    /// nothing) if its status already ranks at or above `to`.
    fn advance(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        to: RecipientStatus,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn list_by_status(
        &self,
        campaign: &CampaignId,
        status: RecipientStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<Recipient>, StoreError>> + Send;
}

pub trait SuppressionStore: Send + Sync {
    /// Adds or replaces the suppression for its address and scope.
    fn put(&self, suppression: &Suppression) -> impl Future<Output = Result<(), StoreError>> + Send;
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
    /// Records `key` with a value unless it is already recorded (and not expired): `None` the
    /// first time, `Some(first value)` after.
    fn record_once(
        &self,
        key: &str,
        value: &str,
        expires_at: OffsetDateTime,
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
