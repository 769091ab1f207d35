use std::future::Future;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Some entries were still refused after the adapter's own retries; the ids name them so
    /// the caller can keep them (nothing accepted is silently dropped).
    #[error("{} message(s) not accepted by the queue: {reason}", failed_ids.len())]
    Partial { failed_ids: Vec<String>, reason: String },
    #[error("message '{id}' is {size} bytes, over the queue's limit of {limit}")]
    TooLarge { id: String, size: usize, limit: usize },
    #[error("queue throttled the request")]
    Throttled,
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

impl QueueError {
    pub fn retryable(&self) -> bool {
        !matches!(self, Self::TooLarge { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// Unique within one call; reported back on failure.
    pub id: String,
    pub body: String,
    pub delay: Option<Duration>,
    /// The message group (SQS `MessageGroupId`): on a standard queue, a fair queue's tenant.
    /// Recipient messages are grouped by campaign, so one campaign's backlog does not hold
    /// back another's.
    pub group: Option<String>,
}

impl OutgoingMessage {
    pub fn new(id: impl Into<String>, body: impl Into<String>) -> Self {
        Self { id: id.into(), body: body.into(), delay: None, group: None }
    }

    pub fn in_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }
}

/// One queue (the adapter is bound to its URL).
pub trait Queue: Send + Sync {
    /// Largest body the queue accepts.
    const MAX_BODY_BYTES: usize = 256 * 1024;

    /// Sends every message, in batches of the queue's maximum size, retrying entries the queue
    /// refused; fails only for the entries it could not place.
    fn send_all(&self, messages: &[OutgoingMessage]) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// The recipients queues: bulk campaigns share one, each in a message group of its own (SQS
/// fair queues), and high-priority campaigns have one of their own, which no bulk backlog
/// ever fills.
#[derive(Debug, Clone, Default)]
pub struct RecipientQueues<Q> {
    pub bulk: Q,
    pub priority: Q,
}

impl<Q> RecipientQueues<Q> {
    /// The queue a campaign's recipient messages go to.
    pub fn for_priority(&self, priority: crate::domain::Priority) -> &Q {
        match priority {
            crate::domain::Priority::Bulk => &self.bulk,
            crate::domain::Priority::High => &self.priority,
        }
    }
}
