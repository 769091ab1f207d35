//! The tables, one folder each: the store's trait and types (`mod.rs`), its DynamoDB adapter
//! (`dynamo.rs`), its in-memory adapter (`memory.rs`) and the contract both must keep
//! (`contract.rs`: run against the memory adapter by the unit tests, against DynamoDB on the
//! local stack by the integration tests).
//!
//! | folder | what it stores |
//! |---|---|
//! | [`templates`] | template versions and a head item per template |
//! | [`campaigns`] | campaigns: status, counters, split progress |
//! | [`recipients`] | each recipient of a campaign: claim, status, results |
//! | [`suppressions`] | addresses that must not be mailed |
//! | [`ledger`] | idempotency keys, soft-bounce slots, hourly send counts |
//! | [`send_log`] | a batch's outcomes with the counters they change, together |
//! | [`result_log`] | delivery results, each counted once per recipient |
//! | [`audit`] | who changed what, when |
//!
//! Traits return `impl Future + Send` so that handlers generic over them can run on a
//! multi-threaded runtime; implementations simply write `async fn`.

pub mod audit;
pub mod campaigns;
pub(crate) mod dynamo;
pub mod fixtures;
pub mod iam;
pub mod ledger;
pub(crate) mod memory;
pub mod recipients;
pub mod result_log;
pub mod send_log;
pub mod suppressions;
pub mod templates;

pub use audit::{AuditLog, DynamoAuditLog, MemoryAuditLog};
pub use campaigns::{CampaignReader, CampaignStore, DynamoCampaignStore, MemoryCampaignStore};
pub use ledger::{DynamoLedger, Ledger, MemoryLedger};
pub use recipients::{
    DynamoRecipientStore, MemoryRecipientStore, RecipientStore, RECIPIENTS_BY_MESSAGE_ID_INDEX,
    RECIPIENTS_BY_STATUS_INDEX,
};
pub use result_log::{record_result, DynamoResultLog, Recorded, ResultLog, StoreResultLog};
pub use send_log::{DynamoSendLog, SendLog, StoreSendLog};
pub use suppressions::{DynamoSuppressionStore, MemorySuppressionStore, SuppressionStore};
pub use templates::{DynamoTemplateStore, MemoryTemplateStore, TemplateStore};

use std::fmt;

use crate::domain::{CampaignStatus, RecipientStatus};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// A conditional write found the item in another state.
    #[error("conflict: current state is '{current}'")]
    Conflict { current: FoundStatus },
    #[error("pagination cursor is not valid")]
    BadCursor,
    #[error("store throttled the request")]
    Throttled,
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item that does not decode into its domain type.
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
    /// A request the store will never take as it stands (a transaction cancelled for a reason
    /// other than a condition, a throttle or a conflict): retrying it changes nothing.
    #[error("store refused the request: {0}")]
    Refused(String),
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

/// The status a conditional write found where it expected another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundStatus {
    Campaign(CampaignStatus),
    Recipient(RecipientStatus),
}

impl fmt::Display for FoundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Campaign(status) => status.fmt(f),
            Self::Recipient(status) => status.fmt(f),
        }
    }
}

impl From<CampaignStatus> for FoundStatus {
    fn from(status: CampaignStatus) -> Self {
        Self::Campaign(status)
    }
}

impl From<RecipientStatus> for FoundStatus {
    fn from(status: RecipientStatus) -> Self {
        Self::Recipient(status)
    }
}

impl PartialEq<CampaignStatus> for FoundStatus {
    fn eq(&self, other: &CampaignStatus) -> bool {
        *self == Self::Campaign(*other)
    }
}

impl PartialEq<RecipientStatus> for FoundStatus {
    fn eq(&self, other: &RecipientStatus) -> bool {
        *self == Self::Recipient(*other)
    }
}
