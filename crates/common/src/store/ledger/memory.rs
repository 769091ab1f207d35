//! In memory, for tests and the simulation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::store::{Ledger, StoreError};

#[derive(Debug, Default, Clone)]
pub struct MemoryLedger {
    once: Arc<Mutex<BTreeMap<String, (String, OffsetDateTime)>>>,
    sent: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Ledger for MemoryLedger {
    async fn record_once(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
        lifetime: time::Duration,
    ) -> Result<Option<String>, StoreError> {
        let mut once = self.once.lock().unwrap();
        match once.get(key) {
            Some((first, until)) if *until >= now => Ok(Some(first.clone())),
            _ => {
                once.insert(key.to_string(), (value.to_string(), now + lifetime));
                Ok(None)
            }
        }
    }

    async fn read(&self, key: &str, now: OffsetDateTime) -> Result<Option<String>, StoreError> {
        let once = self.once.lock().unwrap();
        Ok(once.get(key).filter(|(_, until)| *until >= now).map(|(value, _)| value.clone()))
    }

    async fn add_sent(&self, at: OffsetDateTime, count: u64) -> Result<(), StoreError> {
        *self.sent.lock().unwrap().entry(crate::domain::sent_hour_key(at)).or_default() += count;
        Ok(())
    }

    async fn sent_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<u64, StoreError> {
        let sent = self.sent.lock().unwrap();
        Ok(crate::domain::sent_hour_keys(from, to).iter().filter_map(|k| sent.get(k)).sum())
    }
}
