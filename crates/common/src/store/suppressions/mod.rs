//! Suppressions: addresses that must not be mailed, for every sender or for one.

pub mod contract;
mod dynamo;
mod memory;

pub use dynamo::DynamoSuppressionStore;
pub use memory::MemorySuppressionStore;

use std::future::Future;

use crate::domain::{EmailAddress, Suppression, SuppressionScope};
use crate::store::{Page, StoreError};

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

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::contract::run(&super::MemorySuppressionStore::default()).await;
    }
}
