//! In-memory adapters with the same semantics as the AWS ones (conditional writes, pagination,
//! partial failures), for unit tests and large simulations.

mod mailer;
mod object_store;
mod queue;
mod scheduler;
mod stores;

pub use mailer::MemoryMailer;
pub use object_store::MemoryObjectStore;
pub use queue::MemoryQueue;
pub use scheduler::MemoryScheduler;
pub use stores::{
    MemoryCampaignStore, MemoryLedger, MemoryRecipientStore, MemorySuppressionStore, MemoryTemplateStore,
};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::ports::{Clock, IdGenerator, Page, StoreError};

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn at(now: OffsetDateTime) -> Self {
        Self(Mutex::new(now))
    }
    pub fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// Ids `<prefix>1`, `<prefix>2`, ...
#[derive(Debug, Default)]
pub struct SequentialIds {
    prefix: String,
    next: AtomicU64,
}

impl SequentialIds {
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into(), next: AtomicU64::new(1) }
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> String {
        format!("{}{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed).max(1))
    }
}

/// Pages over an ordered listing with an offset cursor.
pub(crate) fn paginate<T: Clone>(
    all: impl Iterator<Item = T>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<T>, StoreError> {
    let start = match cursor {
        None => 0,
        Some(c) => c.parse::<usize>().map_err(|_| StoreError::BadCursor)?,
    };
    let limit = limit.clamp(1, 1000) as usize;
    let mut items: Vec<T> = all.skip(start).take(limit + 1).collect();
    let next = (items.len() > limit).then(|| (start + limit).to_string());
    items.truncate(limit);
    Ok(Page { items, next })
}
