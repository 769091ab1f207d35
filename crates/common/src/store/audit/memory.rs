//! In memory, for tests and the simulation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{entry_key, AuditLog};
use crate::domain::{AuditEntry, AuditSubject};
use crate::store::memory::paginate;
use crate::store::{Page, StoreError};

#[derive(Debug, Default, Clone)]
pub struct MemoryAuditLog {
    entries: Arc<Mutex<BTreeMap<String, AuditEntry>>>,
    /// Writes still to refuse, as a throttled table would.
    refusing: Arc<AtomicUsize>,
}

impl MemoryAuditLog {
    /// Refuses the next `writes` entries (`Unavailable`).
    pub fn refuse_next(&self, writes: usize) {
        self.refusing.store(writes, Ordering::SeqCst);
    }
}

impl AuditLog for MemoryAuditLog {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        if self.refusing.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::Unavailable("the audit table refused the write".into()));
        }
        self.entries.lock().unwrap().insert(entry_key(entry), entry.clone());
        Ok(())
    }

    async fn list(
        &self,
        subject: Option<&AuditSubject>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let entries = self.entries.lock().unwrap();
        let newest_first = entries.values().rev().filter(|e| subject.is_none_or(|s| &e.subject == s)).cloned();
        paginate(newest_first, limit, cursor)
    }
}
