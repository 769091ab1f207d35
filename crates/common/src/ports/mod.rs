//! Ports: the small traits at the AWS boundaries other than the tables (object store, queue,
//! mailer, scheduler, clock, ids), with domain types in and out. The tables' traits are in
//! [`crate::store`].
//!
//! Each port has one error enum with a `retryable()` notion. The AWS adapters in
//! [`crate::aws`] are the production implementations; [`crate::memory`] holds in-memory ones
//! with the same semantics for tests and simulation.
//!
//! Traits return `impl Future + Send` so that handlers generic over them can run on a
//! multi-threaded runtime; implementations simply write `async fn`.

mod keys;
mod mailer;
mod object_store;
mod queue;
mod scheduler;

pub use keys::{FixedKey, KeyError, KeySource, UnsubscribeKeys, KEY_REREAD_INTERVAL};
pub use mailer::{MailError, Mailer, OutgoingMail, SendQuota};
pub use object_store::{ByteStream, ObjectMeta, ObjectStore, ObjectStoreError, PresignedUpload};
pub use queue::{OutgoingMessage, Queue, QueueError, RecipientQueues};
pub use scheduler::{ScheduleSpec, ScheduleState, Scheduler, SchedulerError};

use time::OffsetDateTime;

/// The time, injectable so tests and simulations control it.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

/// Fresh random identifiers (campaign ids, object keys).
pub trait IdGenerator: Send + Sync {
    fn new_id(&self) -> String;
}
