//! In memory, for tests and the simulation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::domain::{Template, TemplateId, TemplateSummary};
use crate::store::memory::paginate;
use crate::store::{Page, StoreError, TemplateStore};

#[derive(Debug, Default, Clone)]
pub struct MemoryTemplateStore {
    versions: Arc<Mutex<BTreeMap<(TemplateId, u32), Template>>>,
    heads: Arc<Mutex<BTreeMap<TemplateId, TemplateSummary>>>,
}

impl TemplateStore for MemoryTemplateStore {
    async fn put_version(&self, template: &Template) -> Result<(), StoreError> {
        let mut versions = self.versions.lock().unwrap();
        let mut heads = self.heads.lock().unwrap();
        let key = (template.id.clone(), template.version);
        let head_newer = heads.get(&template.id).is_some_and(|h| h.latest_version >= template.version);
        if versions.contains_key(&key) || head_newer {
            return Err(StoreError::AlreadyExists(format!("template {} version {}", template.id, template.version)));
        }
        versions.insert(key, template.clone());
        heads.insert(
            template.id.clone(),
            TemplateSummary {
                id: template.id.clone(),
                name: template.name.clone(),
                latest_version: template.version,
                updated_at: template.created_at,
                updated_by: template.created_by.clone(),
            },
        );
        Ok(())
    }

    async fn get(&self, id: &TemplateId, version: Option<u32>) -> Result<Option<Template>, StoreError> {
        let version = match version {
            Some(v) => v,
            None => match self.heads.lock().unwrap().get(id) {
                Some(head) => head.latest_version,
                None => return Ok(None),
            },
        };
        Ok(self.versions.lock().unwrap().get(&(id.clone(), version)).cloned())
    }

    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<TemplateSummary>, StoreError> {
        let heads = self.heads.lock().unwrap();
        paginate(heads.values().cloned(), limit, cursor)
    }

    async fn delete(&self, id: &TemplateId) -> Result<bool, StoreError> {
        Ok(self.heads.lock().unwrap().remove(id).is_some())
    }
}
