//! DynamoDB: key (address, scope).

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_dynamodb::Client;

use crate::domain::{EmailAddress, Suppression, SuppressionScope};
use crate::store::dynamo::*;
use crate::store::{Page, StoreError, SuppressionStore};

#[derive(Clone)]
pub struct DynamoSuppressionStore {
    client: Client,
    table: String,
}

impl DynamoSuppressionStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl SuppressionStore for DynamoSuppressionStore {
    async fn suppressed_among(
        &self,
        addresses: &[EmailAddress],
        sender: &EmailAddress,
    ) -> Result<HashSet<EmailAddress>, StoreError> {
        let scopes: Vec<String> = SuppressionScope::covering(sender).iter().map(SuppressionScope::key).collect();
        let keys: Vec<Item> = addresses
            .iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .flat_map(|a| {
                scopes.iter().map(move |scope| {
                    HashMap::from([("address".to_string(), s(a.as_str())), ("scope".to_string(), s(scope))])
                })
            })
            .collect();
        let mut suppressed = HashSet::new();
        for chunk in keys.chunks(BATCH_GET_MAX) {
            for item in batch_get(&self.client, &self.table, chunk.to_vec()).await? {
                if let Some(Ok(address)) =
                    item.get("address").and_then(|v| v.as_s().ok()).map(|a| EmailAddress::parse(a))
                {
                    suppressed.insert(address);
                }
            }
        }
        Ok(suppressed)
    }

    async fn put(&self, suppression: &Suppression) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(suppression)?))
            .send()
            .await
            .map_err(|e| fault(&e))?;
        Ok(())
    }

    async fn find(&self, address: &EmailAddress) -> Result<Vec<Suppression>, StoreError> {
        let pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("address = :a")
            .expression_attribute_values(":a", s(address.as_str()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        pages.into_iter().map(|item| item.map_err(|e| fault(&e)).and_then(from_item)).collect()
    }

    async fn remove(&self, address: &EmailAddress, scope: &SuppressionScope) -> Result<bool, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("address", s(address.as_str()))
            .key("scope", s(scope.key()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| fault(&e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<Suppression>, StoreError> {
        scan_page(&self.client, &self.table, None, limit, cursor).await
    }
}
