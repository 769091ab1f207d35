//! DynamoDB: a batch's outcomes, the campaign's counters and the hourly count in one
//! transaction (DynamoDB takes up to 100 items; a sender batch is at most 10 + 2).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use time::OffsetDateTime;

use crate::domain::{sent_hour_key, CampaignId, Counter, CounterDelta, RecipientId, RecipientStatus, SendOutcome};
use crate::store::dynamo::*;
use crate::store::ledger::dynamo::SENT_COUNT_RETENTION;
use crate::store::{DynamoCampaignStore, DynamoLedger, DynamoRecipientStore};
use crate::store::{SendLog, StoreError, StoreSendLog};

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
            let result = self
                .client
                .transact_write_items()
                .transact_items(
                    TransactWriteItem::builder().update(self.recipients.release_update(campaign, id, now)).build(),
                )
                .transact_items(TransactWriteItem::builder().update(lower_failed).build())
                .send()
                .await;
            match result {
                Ok(_) => released += 1,
                // Not failed-and-retryable (released already): nothing to do.
                Err(e) if e.as_service_error().is_some_and(|se| se.is_transaction_canceled_exception()) => {}
                Err(e) => return Err(fault(&e)),
            }
        }
        Ok(released)
    }
}
