//! DynamoDB: key (pk); `expires_at` (epoch seconds) is the table's TTL attribute.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use time::OffsetDateTime;

use crate::domain::{sent_hour_key, sent_hour_keys};
use crate::store::dynamo::*;
use crate::store::{Ledger, StoreError};

/// How long hourly send counts are kept.
pub(crate) const SENT_COUNT_RETENTION: time::Duration = time::Duration::days(8);

#[derive(Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl DynamoLedger {
    /// (value, expires_at) of a recorded key, read consistently.
    async fn read_item(&self, key: &str) -> Result<Option<(String, i64)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| fault(&e))?;
        Ok(out.item.map(|item| {
            let value = item.get("value").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let expires_at = item.get("expires_at").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
            (value, expires_at.unwrap_or(i64::MAX))
        }))
    }
}

impl Ledger for DynamoLedger {
    async fn record_once(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
        lifetime: time::Duration,
    ) -> Result<Option<String>, StoreError> {
        let expires_at = now + lifetime;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("value", s(value))
            .item("expires_at", n(expires_at.unix_timestamp()))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(now.unix_timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) if condition_failed(&e) => {
                Ok(Some(self.read_item(key).await?.map(|(value, _)| value).unwrap_or_default()))
            }
            Err(e) => Err(fault(&e)),
        }
    }

    async fn read(&self, key: &str, now: OffsetDateTime) -> Result<Option<String>, StoreError> {
        // TTL deletes expired items only eventually: expiry is the caller's `now`.
        Ok(self.read_item(key).await?.filter(|(_, expires_at)| *expires_at >= now.unix_timestamp()).map(|(v, _)| v))
    }

    async fn add_sent(&self, at: OffsetDateTime, count: u64) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(sent_hour_key(at)))
            .update_expression("ADD sent :c SET expires_at = :exp")
            .expression_attribute_values(":c", n(count))
            .expression_attribute_values(":exp", n((at + SENT_COUNT_RETENTION).unix_timestamp()))
            .send()
            .await
            .map_err(|e| fault(&e))?;
        Ok(())
    }

    async fn sent_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<u64, StoreError> {
        let mut total = 0u64;
        for chunk in sent_hour_keys(from, to).chunks(BATCH_GET_MAX) {
            let keys: Vec<Item> = chunk.iter().map(|k| HashMap::from([("pk".to_string(), s(k))])).collect();
            for item in batch_get(&self.client, &self.table, keys).await? {
                if let Some(Ok(count)) = item.get("sent").and_then(|v| v.as_n().ok()).map(|v| v.parse::<u64>()) {
                    total += count;
                }
            }
        }
        Ok(total)
    }
}
