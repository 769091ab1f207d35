//! DynamoDB: a delivery result's note on the recipient (with its status advance, in the
//! same write) and the campaign's counter in one transaction. When the transaction is refused
//! (a repeat, a recipient already further on, an early event) the store-by-store path sorts it
//! out.

use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use time::OffsetDateTime;

use crate::domain::{CampaignId, DeliveryResult, RecipientId};
use crate::store::dynamo::*;
use crate::store::{DynamoCampaignStore, DynamoRecipientStore};
use crate::store::{Recorded, ResultLog, StoreError, StoreResultLog};

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
            .expression_attribute_names("#f", result.counter().as_str())
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
