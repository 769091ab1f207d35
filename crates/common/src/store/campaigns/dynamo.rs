//! DynamoDB: key (id). Two indexes list campaigns newest first by `listed_at` (see
//! [`listing_key`]): `by_created` under one partition (`listing`, the same for every campaign;
//! campaigns are created a few a minute, far below a partition's limits) and `by_status` under
//! each status.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use time::OffsetDateTime;

use crate::domain::{Campaign, CampaignId, CampaignStatus, CounterDelta, RequeueProgress, SplitTotals};
use crate::store::campaigns::{check_transition, listing_key, CampaignReader};
use crate::store::dynamo::*;
use crate::store::{CampaignStore, Page, StoreError};

/// Every campaign, newest first.
const BY_CREATED_INDEX: &str = "by_created";
/// The campaigns in one status, newest first.
const BY_STATUS_INDEX: &str = "by_status";
/// The `listing` attribute of every campaign: the one partition of `by_created`.
const LISTING: &str = "campaign";

#[derive(Clone)]
pub struct DynamoCampaignStore {
    client: Client,
    table: String,
}

impl DynamoCampaignStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl CampaignReader for DynamoCampaignStore {
    async fn get(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        read_item(&self.client, &self.table, HashMap::from([("id".to_string(), s(id.as_str()))])).await
    }

    async fn list(
        &self,
        status: Option<CampaignStatus>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Campaign>, StoreError> {
        let query = self.client.query().table_name(&self.table).scan_index_forward(false);
        let query = match status {
            Some(status) => query
                .index_name(BY_STATUS_INDEX)
                .key_condition_expression("#status = :s")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":s", s(status.as_str())),
            None => query
                .index_name(BY_CREATED_INDEX)
                .key_condition_expression("listing = :all")
                .expression_attribute_values(":all", s(LISTING)),
        };
        query_page(query, limit, cursor).await
    }
}

/// The campaign's item, with the attributes its listing indexes read.
fn listed(campaign: &Campaign) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item = to_item(campaign)?;
    item.insert("listing".into(), s(LISTING));
    item.insert("listed_at".into(), s(listing_key(campaign)));
    Ok(item)
}

impl CampaignStore for DynamoCampaignStore {
    async fn create(&self, campaign: &Campaign) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(listed(campaign)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::AlreadyExists(format!("campaign {}", campaign.id))),
            Err(e) => Err(fault(&e)),
        }
    }

    async fn transition(
        &self,
        id: &CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        reason: Option<&str>,
        by: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        check_transition(from, to);
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression(format!("#status IN ({})", placeholders.join(", ")))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .return_values(ReturnValue::AllNew);
        for (placeholder, status) in placeholders.iter().zip(from) {
            request = request.expression_attribute_values(placeholder, s(status.as_str()));
        }
        let mut sets = String::from("SET #status = :to, updated_at = :now");
        if let Some(by) = by {
            sets.push_str(", updated_by = :by");
            request = request.expression_attribute_values(":by", s(by));
        }
        request = match reason {
            Some(reason) => request
                .update_expression(format!("{sets}, status_reason = :reason"))
                .expression_attribute_values(":reason", s(reason)),
            None => request.update_expression(format!("{sets} REMOVE status_reason")),
        };
        match request.send().await {
            Ok(out) => from_item(out.attributes.unwrap_or_default()),
            Err(e) if condition_failed(&e) => match self.get(id).await? {
                None => Err(StoreError::NotFound(format!("campaign {id}"))),
                Some(current) => Err(StoreError::Conflict { current: current.status.into() }),
            },
            Err(e) => Err(fault(&e)),
        }
    }

    async fn reschedule(
        &self,
        id: &CampaignId,
        expected_generation: u32,
        send_at: OffsetDateTime,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("#status = :scheduled AND schedule_generation = :expected")
            .update_expression("SET send_at = :at, schedule_generation = :next, updated_at = :now, updated_by = :by")
            .expression_attribute_values(":by", s(by))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":scheduled", s(CampaignStatus::Scheduled.as_str()))
            .expression_attribute_values(":expected", n(expected_generation))
            .expression_attribute_values(":next", n(expected_generation + 1))
            .expression_attribute_values(":at", s(rfc3339(send_at)))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => from_item(out.attributes.unwrap_or_default()),
            Err(e) if condition_failed(&e) => match self.get(id).await? {
                None => Err(StoreError::NotFound(format!("campaign {id}"))),
                Some(current) => Err(StoreError::Conflict { current: current.status.into() }),
            },
            Err(e) => Err(fault(&e)),
        }
    }

    async fn set_split_totals(&self, id: &CampaignId, totals: &SplitTotals) -> Result<(), StoreError> {
        let mut update = "SET #c.#total = :total, #c.#queued = :queued, #c.#rejected = :rejected, \
                          #c.#duplicates = :duplicates, report_parts = :parts, split_rows = :rows, \
                          split_finished = :finished"
            .to_string();
        if totals.list_format.is_some() {
            update.push_str(", list_format = :format");
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("attribute_exists(id)")
            .update_expression(update)
            .expression_attribute_names("#c", "counters")
            .expression_attribute_names("#total", "total")
            .expression_attribute_names("#queued", "queued")
            .expression_attribute_names("#rejected", "rejected_rows")
            .expression_attribute_names("#duplicates", "duplicates")
            .expression_attribute_values(":total", n(totals.total))
            .expression_attribute_values(":queued", n(totals.queued))
            .expression_attribute_values(":rejected", n(totals.rejected_rows))
            .expression_attribute_values(":duplicates", n(totals.duplicates))
            .expression_attribute_values(":parts", n(totals.report_parts))
            .expression_attribute_values(":rows", n(totals.rows_done))
            .expression_attribute_values(":finished", AttributeValue::Bool(totals.finished));
        let result = match totals.list_format {
            Some(format) => result.expression_attribute_values(":format", s(format)),
            None => result,
        };
        let result = result.send().await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::NotFound(format!("campaign {id}"))),
            Err(e) => Err(fault(&e)),
        }
    }

    async fn set_requeue_progress(&self, id: &CampaignId, progress: &RequeueProgress) -> Result<(), StoreError> {
        let value = serde_dynamo::to_attribute_value(progress).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("attribute_exists(id)")
            .update_expression("SET requeue = :progress")
            .expression_attribute_values(":progress", value)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::NotFound(format!("campaign {id}"))),
            Err(e) => Err(fault(&e)),
        }
    }

    async fn add_counters(&self, id: &CampaignId, delta: &CounterDelta) -> Result<(), StoreError> {
        if delta.is_empty() {
            return Ok(());
        }
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("attribute_exists(id)")
            .expression_attribute_names("#counters", "counters");
        let mut adds = Vec::new();
        for (i, (counter, by)) in delta.0.iter().enumerate() {
            adds.push(format!("#counters.#f{i} :v{i}"));
            request = request
                .expression_attribute_names(format!("#f{i}"), counter.as_str())
                .expression_attribute_values(format!(":v{i}"), n(by));
        }
        match request.update_expression(format!("ADD {}", adds.join(", "))).send().await {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::NotFound(format!("campaign {id}"))),
            Err(e) => Err(fault(&e)),
        }
    }
}
