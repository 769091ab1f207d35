//! The ledger: small facts with a lifetime (idempotency keys, soft-bounce slots) and hourly
//! send counts.

pub mod contract;
pub(crate) mod dynamo;
mod memory;

pub use dynamo::DynamoLedger;
pub use memory::MemoryLedger;

use std::future::Future;

use time::OffsetDateTime;

use crate::store::StoreError;

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
    /// The value recorded under `key`, if it is not expired at `now`.
    fn read(&self, key: &str, now: OffsetDateTime) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;
    /// Adds `count` mails to the hour containing `at`.
    fn add_sent(&self, at: OffsetDateTime, count: u64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Mails sent in the whole hours from the one containing `from` to the one containing `to`.
    fn sent_between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_ledger_keeps_the_contract() {
        super::contract::run(&super::MemoryLedger::default()).await;
    }
}
