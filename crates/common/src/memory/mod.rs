//! In-memory adapters of the ports other than the stores (queue, mailer, object store,
//! scheduler), with the same semantics as the AWS ones, and a hand-moved clock and sequential
//! ids, for unit tests and large simulations. The in-memory stores are in [`crate::store`].

mod mailer;
mod object_store;
mod queue;
mod scheduler;

pub use mailer::MemoryMailer;
pub use object_store::MemoryObjectStore;
pub use queue::MemoryQueue;
pub use scheduler::MemoryScheduler;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::ports::{Clock, IdGenerator};

/// A clock the test moves by hand.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    pub fn at(now: OffsetDateTime) -> Self {
        Self(Arc::new(Mutex::new(now)))
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
#[derive(Debug, Default, Clone)]
pub struct SequentialIds {
    prefix: String,
    next: Arc<AtomicU64>,
}

impl SequentialIds {
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        Self { prefix: prefix.into(), next: Arc::new(AtomicU64::new(1)) }
    }
}

impl IdGenerator for SequentialIds {
    fn new_id(&self) -> String {
        format!("{}{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed).max(1))
    }
}
