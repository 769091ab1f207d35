//! In memory, for tests and the simulation.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::domain::{EmailAddress, Suppression, SuppressionScope};
use crate::store::memory::paginate;
use crate::store::{Page, StoreError, SuppressionStore};

#[derive(Debug, Default, Clone)]
pub struct MemorySuppressionStore {
    entries: Arc<Mutex<BTreeMap<(EmailAddress, SuppressionScope), Suppression>>>,
}

impl SuppressionStore for MemorySuppressionStore {
    async fn suppressed_among(
        &self,
        addresses: &[EmailAddress],
        sender: &EmailAddress,
    ) -> Result<HashSet<EmailAddress>, StoreError> {
        let entries = self.entries.lock().unwrap();
        let scopes = SuppressionScope::covering(sender);
        Ok(addresses
            .iter()
            .filter(|a| scopes.iter().any(|scope| entries.contains_key(&((*a).clone(), scope.clone()))))
            .cloned()
            .collect())
    }

    async fn put(&self, suppression: &Suppression) -> Result<(), StoreError> {
        self.entries
            .lock()
            .unwrap()
            .insert((suppression.address.clone(), suppression.scope.clone()), suppression.clone());
        Ok(())
    }

    async fn find(&self, address: &EmailAddress) -> Result<Vec<Suppression>, StoreError> {
        Ok(self.entries.lock().unwrap().values().filter(|s| &s.address == address).cloned().collect())
    }

    async fn remove(&self, address: &EmailAddress, scope: &SuppressionScope) -> Result<bool, StoreError> {
        Ok(self.entries.lock().unwrap().remove(&(address.clone(), scope.clone())).is_some())
    }

    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<Suppression>, StoreError> {
        let entries = self.entries.lock().unwrap();
        paginate(entries.values().cloned(), limit, cursor)
    }
}
