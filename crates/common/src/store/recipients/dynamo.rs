//! DynamoDB: key (campaign_id, recipient_id); index `by_status` on (campaign_id, status) and
//! `by_message_id`. Besides the domain fields each item carries `rank` (the status rank, for
//! forward-only updates), `lease_until_ms` (when a sender's claim runs out) and `expires_at`
//! (epoch seconds: DynamoDB's TTL deletes the item then, address, columns and all).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use time::{Duration, OffsetDateTime};

use crate::domain::{
    CampaignId, DeliveryResult, Recipient, RecipientId, RecipientRetention, RecipientStatus, SendOutcome,
};
use crate::store::dynamo::*;
use crate::store::{Page, RecipientStore, StoreError};

/// Name of the recipients table's index on (campaign_id, status).
pub const RECIPIENTS_BY_STATUS_INDEX: &str = "by_status";
pub const RECIPIENTS_BY_MESSAGE_ID_INDEX: &str = "by_message_id";

#[derive(Clone)]
pub struct DynamoRecipientStore {
    client: Client,
    table: String,
    retention: Duration,
}

impl DynamoRecipientStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), retention: RecipientRetention::default().duration() }
    }

    /// How long a recipient's item outlives its latest claim (its send, or its skip): every
    /// claim, retries and resumes included, moves its expiry to `now + retention`.
    pub fn kept_for(mut self, retention: RecipientRetention) -> Self {
        self.retention = retention.duration();
        self
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
    pub(crate) async fn not_noted(&self, campaign: &CampaignId, id: &RecipientId) -> Result<bool, StoreError> {
        let status = self.current(campaign, id).await?.status;
        if status.in_flight() {
            return Err(StoreError::Conflict { current: status.into() });
        }
        Ok(false)
    }

    /// The update that notes a delivery result on a sent recipient, once: each result's counter
    /// name goes into the item's `results` string set. With `advance`, the same write moves the
    /// status up to it, and requires that it is a move up.
    pub(crate) fn note_update(
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
            .expression_attribute_values(":r", s(result.counter().as_str()))
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
     address = :address, #vars = :vars, #row = :row, retryable = :false, expires_at = :expires ADD attempts :one";

impl DynamoRecipientStore {
    /// The expression values of a claim (shared by the single and the transactional form).
    fn claim_values(
        &self,
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
            (":expires".to_string(), n((now + self.retention).unix_timestamp())),
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
    /// The conditional write of [`RecipientStore::release_failed`].
    pub(crate) fn release_update(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        now: OffsetDateTime,
    ) -> aws_sdk_dynamodb::types::Update {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(campaign, id)))
            .condition_expression("#status = :failed AND retryable = :true")
            .update_expression("SET #status = :queued, #rank = :rank, updated_at = :now")
            .set_expression_attribute_names(Some(HashMap::from([
                ("#status".to_string(), "status".to_string()),
                ("#rank".to_string(), "rank".to_string()),
            ])))
            .set_expression_attribute_values(Some(HashMap::from([
                (":failed".to_string(), s(RecipientStatus::Failed.as_str())),
                (":true".to_string(), AttributeValue::Bool(true)),
                (":queued".to_string(), s(RecipientStatus::Queued.as_str())),
                (":rank".to_string(), n(RecipientStatus::Queued.rank())),
                (":now".to_string(), s(rfc3339(now))),
            ])))
            .build()
            .expect("table, key and expression are set")
    }

    pub(crate) fn finish_update(
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
            .set_expression_attribute_values(Some(self.claim_values(recipient, now, lease_until)?))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => from_item(out.attributes.unwrap_or_default()),
            Err(e) if condition_failed(&e) => Err(StoreError::Conflict {
                current: self.current(&recipient.campaign_id, &recipient.recipient_id).await?.status.into(),
            }),
            Err(e) => Err(fault(&e)),
        }
    }

    /// One transaction for the whole batch of first claims. A transaction returns no items, so
    /// it claims only recipients never claimed before, whose attempt count is then known (1);
    /// a recipient claimed before (a redelivery, a retry, a resume: its count decides whether
    /// SES's record of an earlier send is read) refuses it, and the batch falls back to one
    /// claim at a time, each of which returns the item as written.
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
                    // Claimable and never claimed before.
                    .condition_expression(format!("({CLAIMABLE}) AND attribute_not_exists(attempts)"))
                    .update_expression(CLAIM)
                    .set_expression_attribute_names(Some(Self::claim_names()))
                    .set_expression_attribute_values(Some(self.claim_values(recipient, now, lease_until)?))
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
                            claimed.attempts = 1;
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
                current: self.current(campaign, &outcome.recipient_id).await?.status.into(),
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

    async fn release_failed(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        match self.update_alone(self.release_update(campaign, id, now)).await {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
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
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(RECIPIENTS_BY_STATUS_INDEX)
            .key_condition_expression("campaign_id = :c AND #status = :s")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":c", s(campaign.as_str()))
            .expression_attribute_values(":s", s(status.as_str()));
        query_page(query, limit, cursor).await
    }
}
