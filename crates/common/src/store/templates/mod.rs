//! Templates: every version of each mail template, and a head item per template.

pub mod contract;
mod dynamo;
mod memory;

pub use dynamo::DynamoTemplateStore;
pub use memory::MemoryTemplateStore;

use std::future::Future;

use crate::domain::{Template, TemplateId, TemplateSummary};
use crate::store::{Page, StoreError};

pub trait TemplateStore: Send + Sync {
    /// Stores a new version; `AlreadyExists` if that version was taken meanwhile.
    fn put_version(&self, template: &Template) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// A given version, or the latest one of a template that was not deleted.
    fn get(
        &self,
        id: &TemplateId,
        version: Option<u32>,
    ) -> impl Future<Output = Result<Option<Template>, StoreError>> + Send;
    fn list(
        &self,
        limit: u32,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Page<TemplateSummary>, StoreError>> + Send;
    /// Removes the template from listings and new campaigns; versions pinned by existing
    /// campaigns stay readable. Returns whether it existed.
    fn delete(&self, id: &TemplateId) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_keeps_the_contract() {
        super::contract::run(&super::MemoryTemplateStore::default()).await;
    }
}
