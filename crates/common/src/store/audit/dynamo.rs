//! DynamoDB: key (subject, at_id) for one subject's entries; index `by_time` on (feed, at_id)
//! for everyone's, newest first. The feed is one partition: changes come a few a minute at
//! most, far below a partition's write limit.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;

use super::{entry_key, AuditLog};
use crate::domain::{AuditEntry, AuditSubject};
use crate::store::dynamo::*;
use crate::store::{Page, StoreError};

const BY_TIME_INDEX: &str = "by_time";
const FEED: &str = "audit";

#[derive(Clone)]
pub struct DynamoAuditLog {
    client: Client,
    table: String,
}

impl DynamoAuditLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl AuditLog for DynamoAuditLog {
    async fn record(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut item = to_item(entry)?;
        item.insert("at_id".to_string(), s(entry_key(entry)));
        item.insert("feed".to_string(), s(FEED));
        self.client.put_item().table_name(&self.table).set_item(Some(item)).send().await.map_err(|e| fault(&e))?;
        Ok(())
    }

    async fn list(
        &self,
        subject: Option<&AuditSubject>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let query = self.client.query().table_name(&self.table).scan_index_forward(false);
        let query = match subject {
            Some(subject) => query
                .key_condition_expression("subject = :subject")
                .set_expression_attribute_values(Some(HashMap::from([(":subject".to_string(), s(subject.as_str()))]))),
            None => query
                .index_name(BY_TIME_INDEX)
                .key_condition_expression("feed = :feed")
                .set_expression_attribute_values(Some(HashMap::from([(":feed".to_string(), s(FEED))]))),
        };
        query_page(query, limit, cursor).await
    }
}
