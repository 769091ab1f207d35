//! The audit trail: one entry per state change that matters, newest first, by subject or all.

pub mod contract;
mod dynamo;
mod memory;

pub use dynamo::DynamoAuditLog;
pub use memory::MemoryAuditLog;

use std::future::Future;

use crate::domain::{AuditEntry, AuditSubject};
use crate::store::{Page, StoreError};

pub trait AuditLog: Send + Sync {
    fn record(&self, entry: &AuditEntry) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Newest first: one subject's entries, or (`None`) every subject's.
    fn list(
        &self,
        subject: Option<&AuditSubject>,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<AuditEntry>, StoreError>> + Send;
}

/// The sort key of an entry: its time (fixed width, so text order is time order) and a short
/// digest of its content, so two entries in the same millisecond do not collide.
pub(crate) fn entry_key(entry: &AuditEntry) -> String {
    use sha2::Digest;
    let at = entry.at.to_offset(time::UtcOffset::UTC);
    let text = serde_json::to_string(entry).unwrap_or_default();
    let digest = sha2::Sha256::digest(text.as_bytes());
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z#{}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond(),
        digest[..6].iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_log_keeps_the_contract() {
        super::contract::run(&super::MemoryAuditLog::default()).await;
    }
}
