//! DynamoDB: a batch's outcomes, the campaign's counters and the hourly count in one
//! transaction (DynamoDB takes up to 100 items; a sender batch is at most 10 + 2).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use time::OffsetDateTime;

use crate::domain::{sent_hour_key, CampaignId, Counter, CounterDelta, RecipientId, RecipientStatus, SendOutcome};
use crate::store::dynamo::*;
use crate::store::ledger::dynamo::SENT_COUNT_RETENTION;
use crate::store::DynamoRecipientStore;
use crate::store::{SendLog, StoreError};

pub struct DynamoSendLog {
    client: Client,
    recipients: DynamoRecipientStore,
    campaigns_table: String,
    ledger_table: String,
}

impl DynamoSendLog {
    pub fn new(client: Client, recipients_table: &str, campaigns_table: &str, ledger_table: &str) -> Self {
        let recipients = DynamoRecipientStore::new(client.clone(), recipients_table);
        Self {
            client,
            recipients,
            campaigns_table: campaigns_table.to_string(),
            ledger_table: ledger_table.to_string(),
        }
    }
}

impl DynamoSendLog {
    /// The one transaction of a batch: each outcome, the counters they change, the hourly count.
    fn transaction(
        &self,
        campaign: &CampaignId,
        outcomes: &[&SendOutcome],
        now: OffsetDateTime,
    ) -> aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder {
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
        request
    }
}

impl SendLog for DynamoSendLog {
    /// Every outcome and its count are written together or not at all. A recipient whose claim
    /// was lost (no longer `sending`) refuses the transaction; it is left out, uncounted, and
    /// the rest written in a second one. Throttling and conflicts return an error with nothing
    /// written, so a retry counts nothing twice.
    async fn record(
        &self,
        campaign: &CampaignId,
        outcomes: &[SendOutcome],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut remaining: Vec<&SendOutcome> = outcomes.iter().collect();
        while !remaining.is_empty() {
            match transact(self.transaction(campaign, &remaining, now)).await {
                Ok(()) => return Ok(()),
                Err(Refused::Failed(e)) => return Err(e),
                Err(Refused::Conditions(items)) => {
                    if items.iter().any(|&i| i >= remaining.len()) {
                        return Err(StoreError::NotFound(format!("campaign {campaign}")));
                    }
                    for &i in items.iter().rev() {
                        let lost = remaining.remove(i);
                        tracing::warn!(campaign = %campaign, recipient = %lost.recipient_id, "claim lost before its outcome was recorded; not counted here");
                    }
                }
            }
        }
        Ok(())
    }

    /// One transaction per recipient: its release and the lowered count, or neither.
    async fn release_failed(
        &self,
        campaign: &CampaignId,
        ids: &[RecipientId],
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut released = 0;
        for id in ids {
            let lower_failed = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.campaigns_table)
                .key("id", s(campaign.as_str()))
                .condition_expression("attribute_exists(id)")
                .update_expression("ADD #counters.#failed :minus_one")
                .expression_attribute_names("#counters", "counters")
                .expression_attribute_names("#failed", Counter::Failed.to_string())
                .expression_attribute_values(":minus_one", n(-1))
                .build()
                .expect("table, key and expression are set");
            let request = self
                .client
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder().update(self.recipients.release_update(campaign, id, now)).build(),
                )
                .transact_items(TransactWriteItem::builder().update(lower_failed).build());
            match transact(request).await {
                Ok(()) => released += 1,
                // Not failed-and-retryable (released already): nothing to do.
                Err(Refused::Conditions(items)) if items == [0] => {}
                Err(Refused::Conditions(_)) => return Err(StoreError::NotFound(format!("campaign {campaign}"))),
                Err(Refused::Failed(e)) => return Err(e),
            }
        }
        Ok(released)
    }
}
