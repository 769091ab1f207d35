//! DynamoDB: key (id, version). Version 0 is the head item: name, latest_version, updated_at.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use serde::de::DeserializeOwned;

use crate::aws::describe;
use crate::domain::{Template, TemplateId, TemplateSummary};
use crate::store::dynamo::*;
use crate::store::{Page, StoreError, TemplateStore};

#[derive(Clone)]
pub struct DynamoTemplateStore {
    client: Client,
    table: String,
}

impl DynamoTemplateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    async fn get_item<T: DeserializeOwned>(&self, id: &TemplateId, version: u32) -> Result<Option<T>, StoreError> {
        let key = HashMap::from([("id".to_string(), s(id.as_str())), ("version".to_string(), n(version))]);
        read_item(&self.client, &self.table, key).await
    }
}

impl TemplateStore for DynamoTemplateStore {
    async fn put_version(&self, template: &Template) -> Result<(), StoreError> {
        let version_item = to_item(template)?;
        let mut head = to_item(&TemplateSummary {
            id: template.id.clone(),
            name: template.name.clone(),
            latest_version: template.version,
            updated_at: template.created_at,
            updated_by: template.created_by.clone(),
        })?;
        head.insert("version".into(), n(0));
        let put_version = Put::builder()
            .table_name(&self.table)
            .set_item(Some(version_item))
            .condition_expression("attribute_not_exists(id)")
            .build()
            .expect("table and item are set");
        let put_head = Put::builder()
            .table_name(&self.table)
            .set_item(Some(head))
            .condition_expression("attribute_not_exists(id) OR latest_version < :v")
            .expression_attribute_values(":v", n(template.version))
            .build()
            .expect("table and item are set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_version).build())
            .transact_items(TransactWriteItem::builder().put(put_head).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let code = e.as_service_error().and_then(|se| {
                    aws_smithy_types::error::metadata::ProvideErrorMetadata::code(se).map(str::to_string)
                });
                let text = describe(&e);
                if code.as_deref() == Some("TransactionCanceledException") && text.contains("ConditionalCheckFailed") {
                    Err(StoreError::AlreadyExists(format!("template {} version {}", template.id, template.version)))
                } else if code.as_deref() == Some("TransactionCanceledException") {
                    Err(StoreError::Throttled)
                } else {
                    Err(fault(&e))
                }
            }
        }
    }

    async fn get(&self, id: &TemplateId, version: Option<u32>) -> Result<Option<Template>, StoreError> {
        let version = match version {
            Some(0) => return Ok(None),
            Some(v) => v,
            None => match self.get_item::<TemplateSummary>(id, 0).await? {
                None => return Ok(None),
                Some(head) => head.latest_version,
            },
        };
        self.get_item(id, version).await
    }

    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<TemplateSummary>, StoreError> {
        scan_page(&self.client, &self.table, Some(("version = :zero", ":zero", n(0))), limit, cursor).await
    }

    async fn delete(&self, id: &TemplateId) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .key("version", n(0))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| fault(&e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }
}
