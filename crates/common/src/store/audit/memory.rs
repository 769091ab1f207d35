//! In memory, for tests and the simulation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{entry_key, AuditLog};
use crate::domain::{AuditEntry, AuditSubject};
use crate::store::memory::paginate;
use crate::store::{Page, StoreError};

#[derive(Debug, Default, Clone)]
pub struct MemoryAuditLog {
    entries: Arc<Mutex<BTreeMap<String, AuditEntry>>>,
}

impl AuditLog for MemoryAuditLog {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
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
