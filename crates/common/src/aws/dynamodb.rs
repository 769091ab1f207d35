//! The DynamoDB-backed stores. Table layouts (keys and indexes) are declared in
//! `template.yaml`; attribute names follow the domain types' serde names.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use super::{classify, describe, Fault};
use crate::domain::{
    sent_hour_key, sent_hour_keys, Campaign, CampaignCounters, CampaignId, CampaignStatus, CounterDelta,
    DeliveryResult, EmailAddress, Recipient, RecipientId, RecipientStatus, SendOutcome, SplitTotals, Suppression,
    SuppressionScope, Template, TemplateId, TemplateSummary,
};
use crate::ports::{
    CampaignStore, Ledger, Page, RecipientStore, Recorded, ResultLog, SendLog, StoreError, StoreResultLog,
    StoreSendLog, SuppressionStore, TemplateStore,
};

type Item = HashMap<String, AttributeValue>;

/// Name of the recipients table's index on (campaign_id, status).
pub const RECIPIENTS_BY_STATUS_INDEX: &str = "by_status";
pub const RECIPIENTS_BY_MESSAGE_ID_INDEX: &str = "by_message_id";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).expect("every OffsetDateTime formats")
}

fn epoch_ms(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos() / 1_000_000
}

fn fault<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> StoreError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(err) {
        Fault::Throttled => StoreError::Throttled,
        Fault::Transient(m) => StoreError::Unavailable(m),
        Fault::Service { code, message } => StoreError::Unavailable(format!("{code}: {message}")),
    }
}

fn condition_failed<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// Opaque page cursor: the last evaluated key as base64url JSON.
fn encode_cursor(key: Option<&Item>) -> Result<Option<String>, StoreError> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    let json: serde_json::Value = from_item(key.clone())?;
    Ok(Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())))
}

fn decode_cursor(cursor: Option<&str>) -> Result<Option<Item>, StoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::BadCursor)?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if !json.is_object() {
        return Err(StoreError::BadCursor);
    }
    serde_dynamo::to_item(json).map(Some).map_err(|_| StoreError::BadCursor)
}

/// A strongly consistent read of one item.
async fn read_item<T: DeserializeOwned>(client: &Client, table: &str, key: Item) -> Result<Option<T>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| fault(&e))?;
    out.item.map(from_item).transpose()
}

/// One page of a scan, optionally filtered.
async fn scan_page<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    filter: Option<(&str, &str, AttributeValue)>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<T>, StoreError> {
    let mut request = client
        .scan()
        .table_name(table)
        .limit(limit.clamp(1, 1000) as i32)
        .set_exclusive_start_key(decode_cursor(cursor)?);
    if let Some((expression, placeholder, value)) = filter {
        request = request.filter_expression(expression).expression_attribute_values(placeholder, value);
    }
    let out = request.send().await.map_err(|e| fault(&e))?;
    let items = out.items().iter().cloned().map(from_item).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, next: encode_cursor(out.last_evaluated_key())? })
}

// ---------------------------------------------------------------------------------------------
// Templates: key (id, version). Version 0 is the head item: name, latest_version, updated_at.

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

// ---------------------------------------------------------------------------------------------
// Campaigns: key (id).

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

impl CampaignStore for DynamoCampaignStore {
    async fn create(&self, campaign: &Campaign) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(campaign)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::AlreadyExists(format!("campaign {}", campaign.id))),
            Err(e) => Err(fault(&e)),
        }
    }

    async fn get(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        read_item(&self.client, &self.table, HashMap::from([("id".to_string(), s(id.as_str()))])).await
    }

    async fn transition(
        &self,
        id: &CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
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
        request = match reason {
            Some(reason) => request
                .update_expression("SET #status = :to, updated_at = :now, status_reason = :reason")
                .expression_attribute_values(":reason", s(reason)),
            None => request.update_expression("SET #status = :to, updated_at = :now REMOVE status_reason"),
        };
        match request.send().await {
            Ok(out) => from_item(out.attributes.unwrap_or_default()),
            Err(e) if condition_failed(&e) => match self.get(id).await? {
                None => Err(StoreError::NotFound(format!("campaign {id}"))),
                Some(current) => Err(StoreError::Conflict { current: current.status.to_string() }),
            },
            Err(e) => Err(fault(&e)),
        }
    }

    async fn reschedule(
        &self,
        id: &CampaignId,
        expected_generation: u32,
        send_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("#status = :scheduled AND schedule_generation = :expected")
            .update_expression("SET send_at = :at, schedule_generation = :next, updated_at = :now")
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
                Some(current) => Err(StoreError::Conflict { current: current.status.to_string() }),
            },
            Err(e) => Err(fault(&e)),
        }
    }

    async fn set_split_totals(&self, id: &CampaignId, totals: &SplitTotals) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id.as_str()))
            .condition_expression("attribute_exists(id)")
            .update_expression(
                "SET #c.#total = :total, #c.#queued = :queued, #c.#rejected = :rejected, #c.#duplicates = :duplicates, \
                 report_parts = :parts, split_rows = :rows, split_finished = :finished",
            )
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
            .expression_attribute_values(":finished", AttributeValue::Bool(totals.finished))
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
        for (i, (field, by)) in delta.0.iter().enumerate() {
            debug_assert!(CampaignCounters::FIELDS.contains(field));
            adds.push(format!("#counters.#f{i} :v{i}"));
            request = request
                .expression_attribute_names(format!("#f{i}"), *field)
                .expression_attribute_values(format!(":v{i}"), n(by));
        }
        match request.update_expression(format!("ADD {}", adds.join(", "))).send().await {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::NotFound(format!("campaign {id}"))),
            Err(e) => Err(fault(&e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Recipients: key (campaign_id, recipient_id); index `by_status` on (campaign_id, status).
// Besides the domain fields each item carries `rank` (the status rank, for forward-only
// updates) and `lease_until_ms` (when a sender's claim runs out).

#[derive(Clone)]
pub struct DynamoRecipientStore {
    client: Client,
    table: String,
}

impl DynamoRecipientStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn update(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("campaign_id", s(campaign.as_str()))
            .key("recipient_id", s(id.as_str()))
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#rank", "rank")
    }

    async fn current(&self, campaign: &CampaignId, id: &RecipientId) -> Result<Recipient, StoreError> {
        self.get(campaign, id).await?.ok_or_else(|| StoreError::NotFound(format!("recipient {campaign}/{id}")))
    }

    /// Runs an update built for a transaction on its own, as one `UpdateItem` call.
    async fn update_alone(
        &self,
        update: aws_sdk_dynamodb::types::Update,
    ) -> Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError>,
    > {
        self.client
            .update_item()
            .table_name(update.table_name())
            .set_key(Some(update.key().clone()))
            .condition_expression(update.condition_expression().unwrap_or_default())
            .update_expression(update.update_expression())
            .set_expression_attribute_names(update.expression_attribute_names().cloned())
            .set_expression_attribute_values(update.expression_attribute_values().cloned())
            .send()
            .await
    }

    /// Why a delivery result's conditional write was refused: `Conflict` while the recipient is
    /// in flight, otherwise nothing to do (`false`).
    async fn not_noted(&self, campaign: &CampaignId, id: &RecipientId) -> Result<bool, StoreError> {
        let status = self.current(campaign, id).await?.status;
        if status.in_flight() {
            return Err(StoreError::Conflict { current: status.to_string() });
        }
        Ok(false)
    }

    /// The update that notes a delivery result on a sent recipient, once: each result's counter
    /// name goes into the item's `results` string set. With `advance`, the same write moves the
    /// status up to it, and requires that it is a move up.
    fn note_update(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        result: DeliveryResult,
        advance: Option<(RecipientStatus, OffsetDateTime)>,
    ) -> aws_sdk_dynamodb::types::Update {
        let mut update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(campaign, id)))
            .expression_attribute_names("#rank", "rank")
            .expression_attribute_values(":sent", n(RecipientStatus::Sent.rank()))
            .expression_attribute_values(":r", s(result.counter()))
            .expression_attribute_values(":rs", AttributeValue::Ss(vec![result.counter().to_string()]));
        let noted = "attribute_exists(recipient_id) AND #rank >= :sent AND NOT contains(results, :r)";
        update = match advance {
            None => update.condition_expression(noted).update_expression("ADD results :rs"),
            Some((to, now)) => update
                .condition_expression(format!("{noted} AND #rank < :rank"))
                .update_expression("ADD results :rs SET #status = :to, #rank = :rank, updated_at = :now")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":to", s(to.as_str()))
                .expression_attribute_values(":rank", n(to.rank()))
                .expression_attribute_values(":now", s(rfc3339(now))),
        };
        update.build().expect("table, key and expression are set")
    }
}

/// The claim condition: new, waiting, retryable after a failure, or abandoned by a crashed sender.
const CLAIMABLE: &str = "attribute_not_exists(recipient_id) OR #status IN (:queued, :paused) \
     OR (#status = :sending AND lease_until_ms < :now_ms) OR (#status = :failed AND retryable = :true)";
const CLAIM: &str = "SET #status = :sending, #rank = :rank, lease_until_ms = :lease, updated_at = :now, \
     address = :address, #vars = :vars, #row = :row, retryable = :false ADD attempts :one";

impl DynamoRecipientStore {
    /// The expression values of a claim (shared by the single and the transactional form).
    fn claim_values(
        recipient: &Recipient,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<HashMap<String, AttributeValue>, StoreError> {
        let vars = serde_dynamo::to_attribute_value(&recipient.vars).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(HashMap::from([
            (":queued".to_string(), s(RecipientStatus::Queued.as_str())),
            (":paused".to_string(), s(RecipientStatus::Paused.as_str())),
            (":failed".to_string(), s(RecipientStatus::Failed.as_str())),
            (":sending".to_string(), s(RecipientStatus::Sending.as_str())),
            (":rank".to_string(), n(RecipientStatus::Sending.rank())),
            (":now_ms".to_string(), n(epoch_ms(now))),
            (":lease".to_string(), n(epoch_ms(lease_until))),
            (":now".to_string(), s(rfc3339(now))),
            (":address".to_string(), s(recipient.address.as_str())),
            (":vars".to_string(), vars),
            (":row".to_string(), n(recipient.row)),
            (":true".to_string(), AttributeValue::Bool(true)),
            (":false".to_string(), AttributeValue::Bool(false)),
            (":one".to_string(), n(1)),
        ]))
    }

    fn claim_names() -> HashMap<String, String> {
        HashMap::from([
            ("#status".to_string(), "status".to_string()),
            ("#rank".to_string(), "rank".to_string()),
            ("#vars".to_string(), "vars".to_string()),
            ("#row".to_string(), "row".to_string()),
        ])
    }

    fn key(campaign: &CampaignId, id: &RecipientId) -> Item {
        HashMap::from([("campaign_id".to_string(), s(campaign.as_str())), ("recipient_id".to_string(), s(id.as_str()))])
    }

    /// The update that ends a claim with `outcome`.
    fn finish_update(
        &self,
        campaign: &CampaignId,
        outcome: &SendOutcome,
        now: OffsetDateTime,
    ) -> aws_sdk_dynamodb::types::Update {
        let mut sets = vec![
            "#status = :to",
            "#rank = :rank",
            "updated_at = :now",
            "lease_until_ms = :zero",
            "retryable = :retryable",
        ];
        let mut values = HashMap::from([
            (":sending".to_string(), s(RecipientStatus::Sending.as_str())),
            (":to".to_string(), s(outcome.status.as_str())),
            (":rank".to_string(), n(outcome.status.rank())),
            (":now".to_string(), s(rfc3339(now))),
            (":zero".to_string(), n(0)),
            (":retryable".to_string(), AttributeValue::Bool(outcome.retryable)),
        ]);
        if let Some(message_id) = &outcome.message_id {
            sets.push("message_id = :mid");
            values.insert(":mid".into(), s(message_id));
        }
        if let Some(error) = &outcome.error {
            sets.push("last_error = :err");
            values.insert(":err".into(), s(error));
        }
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(campaign, &outcome.recipient_id)))
            .condition_expression("#status = :sending")
            .update_expression(format!("SET {}", sets.join(", ")))
            .set_expression_attribute_names(Some(HashMap::from([
                ("#status".to_string(), "status".to_string()),
                ("#rank".to_string(), "rank".to_string()),
            ])))
            .set_expression_attribute_values(Some(values))
            .build()
            .expect("table, key and expression are set")
    }
}

impl RecipientStore for DynamoRecipientStore {
    async fn get(&self, campaign: &CampaignId, id: &RecipientId) -> Result<Option<Recipient>, StoreError> {
        read_item(&self.client, &self.table, Self::key(campaign, id)).await
    }

    async fn claim(
        &self,
        recipient: &Recipient,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Recipient, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&recipient.campaign_id, &recipient.recipient_id)))
            .condition_expression(CLAIMABLE)
            .update_expression(CLAIM)
            .set_expression_attribute_names(Some(Self::claim_names()))
            .set_expression_attribute_values(Some(Self::claim_values(recipient, now, lease_until)?))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => from_item(out.attributes.unwrap_or_default()),
            Err(e) if condition_failed(&e) => Err(StoreError::Conflict {
                current: self.current(&recipient.campaign_id, &recipient.recipient_id).await?.status.to_string(),
            }),
            Err(e) => Err(fault(&e)),
        }
    }

    /// One transaction for the whole batch; if any claim is refused (a redelivered message,
    /// rare) the batch falls back to one claim at a time to learn which.
    async fn claim_batch(
        &self,
        recipients: &[Recipient],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<Result<Recipient, StoreError>>, StoreError> {
        if recipients.len() > 1 && recipients.len() <= 100 {
            let mut request = self.client.transact_write_items();
            for recipient in recipients {
                let update = aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key(&recipient.campaign_id, &recipient.recipient_id)))
                    .condition_expression(CLAIMABLE)
                    .update_expression(CLAIM)
                    .set_expression_attribute_names(Some(Self::claim_names()))
                    .set_expression_attribute_values(Some(Self::claim_values(recipient, now, lease_until)?))
                    .build()
                    .expect("table, key and expression are set");
                request = request.transact_items(TransactWriteItem::builder().update(update).build());
            }
            match request.send().await {
                Ok(_) => {
                    return Ok(recipients
                        .iter()
                        .map(|r| {
                            let mut claimed = r.clone();
                            claimed.status = RecipientStatus::Sending;
                            claimed.updated_at = now;
                            Ok(claimed)
                        })
                        .collect());
                }
                Err(e) if e.as_service_error().is_some_and(|se| se.is_transaction_canceled_exception()) => {}
                Err(e) => return Err(fault(&e)),
            }
        }
        let mut results = Vec::with_capacity(recipients.len());
        for recipient in recipients {
            match self.claim(recipient, now, lease_until).await {
                Err(e) if e.retryable() => return Err(e),
                other => results.push(other),
            }
        }
        Ok(results)
    }

    async fn finish(
        &self,
        campaign: &CampaignId,
        outcome: &SendOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let result = self.update_alone(self.finish_update(campaign, outcome, now)).await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::Conflict {
                current: self.current(campaign, &outcome.recipient_id).await?.status.to_string(),
            }),
            Err(e) => Err(fault(&e)),
        }
    }

    async fn advance(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        to: RecipientStatus,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let result = self
            .update(campaign, id)
            .condition_expression("attribute_exists(recipient_id) AND #rank >= :sent AND #rank < :rank")
            .update_expression("SET #status = :to, #rank = :rank, updated_at = :now")
            .expression_attribute_values(":to", s(to.as_str()))
            .expression_attribute_values(":rank", n(to.rank()))
            .expression_attribute_values(":sent", n(RecipientStatus::Sent.rank()))
            .expression_attribute_values(":now", s(rfc3339(now)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => self.not_noted(campaign, id).await,
            Err(e) => Err(fault(&e)),
        }
    }

    async fn note_result(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        result: DeliveryResult,
    ) -> Result<bool, StoreError> {
        let outcome = self.update_alone(self.note_update(campaign, id, result, None)).await;
        match outcome {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => self.not_noted(campaign, id).await,
            Err(e) => Err(fault(&e)),
        }
    }

    async fn find_by_message_id(&self, message_id: &str) -> Result<Option<(CampaignId, RecipientId)>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(RECIPIENTS_BY_MESSAGE_ID_INDEX)
            .key_condition_expression("message_id = :m")
            .expression_attribute_values(":m", s(message_id))
            .limit(1)
            .send()
            .await
            .map_err(|e| fault(&e))?;
        let Some(item) = out.items().first() else { return Ok(None) };
        let text = |key: &str| item.get(key).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let campaign = CampaignId::parse(text("campaign_id")).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let recipient = RecipientId::parse(text("recipient_id")).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some((campaign, recipient)))
    }

    async fn list_by_status(
        &self,
        campaign: &CampaignId,
        status: RecipientStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Recipient>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(RECIPIENTS_BY_STATUS_INDEX)
            .key_condition_expression("campaign_id = :c AND #status = :s")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":c", s(campaign.as_str()))
            .expression_attribute_values(":s", s(status.as_str()))
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(decode_cursor(cursor)?)
            .send()
            .await
            .map_err(|e| fault(&e))?;
        let items = out.items().iter().cloned().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next: encode_cursor(out.last_evaluated_key())? })
    }
}

// ---------------------------------------------------------------------------------------------
// Suppressions: key (address, scope).

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
        let scopes = [SuppressionScope::All.key(), SuppressionScope::Sender(sender.to_string()).key()];
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

// ---------------------------------------------------------------------------------------------
// Ledger: key (pk); `expires_at` (epoch seconds) is the table's TTL attribute.

/// How long hourly send counts are kept.
const SENT_COUNT_RETENTION: time::Duration = time::Duration::days(8);
/// BatchGetItem takes at most 100 keys.
const BATCH_GET_MAX: usize = 100;

/// Reads up to 100 keys, retrying the ones DynamoDB leaves unprocessed.
async fn batch_get(client: &Client, table: &str, mut keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut rounds = 0;
    while !keys.is_empty() {
        rounds += 1;
        if rounds > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(25 << rounds.min(6))).await;
        }
        if rounds > 8 {
            return Err(StoreError::Throttled);
        }
        let request =
            KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().expect("keys are set");
        let mut out = client.batch_get_item().request_items(table, request).send().await.map_err(|e| fault(&e))?;
        items.extend(out.responses.as_mut().and_then(|r| r.remove(table)).unwrap_or_default());
        keys = out.unprocessed_keys.as_mut().and_then(|u| u.remove(table)).map(|k| k.keys).unwrap_or_default();
    }
    Ok(items)
}

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
                let out = self
                    .client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", s(key))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| fault(&e))?;
                let value = out
                    .item
                    .and_then(|mut item| item.remove("value"))
                    .and_then(|v| v.as_s().ok().cloned())
                    .unwrap_or_default();
                Ok(Some(value))
            }
            Err(e) => Err(fault(&e)),
        }
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

// ---------------------------------------------------------------------------------------------
// The send log: a batch's outcomes, the campaign's counters and the hourly count in one
// transaction (DynamoDB takes up to 100 items; a sender batch is at most 10 + 2).

pub struct DynamoSendLog {
    client: Client,
    recipients: DynamoRecipientStore,
    campaigns_table: String,
    ledger_table: String,
    /// One write at a time, for when the transaction is refused (a claim was lost).
    fallback: StoreSendLog<DynamoRecipientStore, DynamoCampaignStore, DynamoLedger>,
}

impl DynamoSendLog {
    pub fn new(client: Client, recipients_table: &str, campaigns_table: &str, ledger_table: &str) -> Self {
        let recipients = DynamoRecipientStore::new(client.clone(), recipients_table);
        Self {
            fallback: StoreSendLog {
                recipients: recipients.clone(),
                campaigns: DynamoCampaignStore::new(client.clone(), campaigns_table),
                ledger: DynamoLedger::new(client.clone(), ledger_table),
            },
            client,
            recipients,
            campaigns_table: campaigns_table.to_string(),
            ledger_table: ledger_table.to_string(),
        }
    }
}

impl SendLog for DynamoSendLog {
    async fn record(
        &self,
        campaign: &CampaignId,
        outcomes: &[SendOutcome],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut request = self.client.transact_write_items();
        let mut delta = CounterDelta::default();
        for outcome in outcomes {
            request = request.transact_items(
                TransactWriteItem::builder().update(self.recipients.finish_update(campaign, outcome, now)).build(),
            );
            if let Some(counter) = outcome.counter() {
                delta = delta.add(counter, 1);
            }
        }
        if !delta.is_empty() {
            let mut names = HashMap::from([("#counters".to_string(), "counters".to_string())]);
            let mut values = HashMap::new();
            let mut adds = Vec::new();
            for (i, (field, by)) in delta.0.iter().enumerate() {
                adds.push(format!("#counters.#f{i} :v{i}"));
                names.insert(format!("#f{i}"), field.to_string());
                values.insert(format!(":v{i}"), n(by));
            }
            let update = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.campaigns_table)
                .key("id", s(campaign.as_str()))
                .condition_expression("attribute_exists(id)")
                .update_expression(format!("ADD {}", adds.join(", ")))
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build()
                .expect("table, key and expression are set");
            request = request.transact_items(TransactWriteItem::builder().update(update).build());
        }
        let sent = outcomes.iter().filter(|o| o.status == RecipientStatus::Sent).count();
        if sent > 0 {
            let update = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.ledger_table)
                .key("pk", s(sent_hour_key(now)))
                .update_expression("ADD sent :c SET expires_at = :exp")
                .expression_attribute_values(":c", n(sent))
                .expression_attribute_values(":exp", n((now + SENT_COUNT_RETENTION).unix_timestamp()))
                .build()
                .expect("table, key and expression are set");
            request = request.transact_items(TransactWriteItem::builder().update(update).build());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_transaction_canceled_exception()) => {
                self.fallback.record(campaign, outcomes, now).await
            }
            Err(e) => Err(fault(&e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The result log: a delivery result's note on the recipient (with its status advance, in the
// same write) and the campaign's counter in one transaction. When the transaction is refused
// (a repeat, a recipient already further on, an early event) the store-by-store path sorts it
// out.

pub struct DynamoResultLog {
    client: Client,
    recipients: DynamoRecipientStore,
    campaigns_table: String,
    /// One write at a time: when the transaction is refused, this finds out why.
    fallback: StoreResultLog<DynamoRecipientStore, DynamoCampaignStore>,
}

impl DynamoResultLog {
    pub fn new(client: Client, recipients_table: &str, campaigns_table: &str) -> Self {
        let recipients = DynamoRecipientStore::new(client.clone(), recipients_table);
        Self {
            fallback: StoreResultLog {
                recipients: recipients.clone(),
                campaigns: DynamoCampaignStore::new(client.clone(), campaigns_table),
            },
            client,
            recipients,
            campaigns_table: campaigns_table.to_string(),
        }
    }
}

impl ResultLog for DynamoResultLog {
    async fn record(
        &self,
        campaign: &CampaignId,
        recipient: &RecipientId,
        result: DeliveryResult,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let count = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.campaigns_table)
            .key("id", s(campaign.as_str()))
            .condition_expression("attribute_exists(id)")
            .update_expression("ADD #counters.#f :one")
            .expression_attribute_names("#counters", "counters")
            .expression_attribute_names("#f", result.counter())
            .expression_attribute_values(":one", n(1))
            .build()
            .expect("table, key and expression are set");
        let advance = result.status().map(|to| (to, now));
        let outcome = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.recipients.note_update(campaign, recipient, result, advance))
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        match outcome {
            Ok(_) => Ok(Recorded { counted: true, advanced: advance.is_some() }),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_transaction_canceled_exception()) => {
                self.fallback.record(campaign, recipient, result, now).await
            }
            Err(e) => Err(fault(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let key: Item = HashMap::from([("id".to_string(), s("t1")), ("version".to_string(), n(3))]);
        let cursor = encode_cursor(Some(&key)).unwrap().unwrap();
        assert_eq!(decode_cursor(Some(&cursor)).unwrap(), Some(key));
        assert!(matches!(decode_cursor(Some("%%%")), Err(StoreError::BadCursor)));
        assert!(matches!(decode_cursor(Some("WzFd")), Err(StoreError::BadCursor)));
    }
}
