//! DynamoDB: a delivery result's note on the recipient (with its status advance, in the
//! same write) and the campaign's counter in one transaction.

use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;
use time::OffsetDateTime;

use crate::domain::{CampaignId, DeliveryResult, RecipientId, RecipientStatus};
use crate::store::dynamo::*;
use crate::store::DynamoRecipientStore;
use crate::store::{RecipientStore, Recorded, ResultLog, StoreError};

pub struct DynamoResultLog {
    client: Client,
    recipients: DynamoRecipientStore,
    campaigns_table: String,
}

impl DynamoResultLog {
    pub fn new(client: Client, recipients_table: &str, campaigns_table: &str) -> Self {
        let recipients = DynamoRecipientStore::new(client.clone(), recipients_table);
        Self { client, recipients, campaigns_table: campaigns_table.to_string() }
    }
}

impl DynamoResultLog {
    /// The note on the recipient (with the move up, if any) and the campaign's count, together.
    async fn note_and_count(
        &self,
        campaign: &CampaignId,
        recipient: &RecipientId,
        result: DeliveryResult,
        advance: Option<(RecipientStatus, OffsetDateTime)>,
    ) -> Result<bool, StoreError> {
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
        let request = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.recipients.note_update(campaign, recipient, result, advance))
                    .build(),
            )
            .transact_items(TransactWriteItem::builder().update(count).build());
        match transact(request).await {
            Ok(()) => Ok(true),
            Err(Refused::Conditions(items)) if items == [0] => Ok(false),
            Err(Refused::Conditions(_)) => Err(StoreError::NotFound(format!("campaign {campaign}"))),
            Err(Refused::Failed(e)) => Err(e),
        }
    }
}

impl ResultLog for DynamoResultLog {
    /// The note and the count are never written apart: when the first transaction (note, move
    /// up, count) is refused, a second one notes and counts without the move up (the recipient
    /// may be further on already), and the move up follows on its own (it counts nothing).
    /// Throttling and conflicts return an error with nothing written.
    async fn record(
        &self,
        campaign: &CampaignId,
        recipient: &RecipientId,
        result: DeliveryResult,
        now: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let advance = result.status().map(|to| (to, now));
        if self.note_and_count(campaign, recipient, result, advance).await? {
            return Ok(Recorded { counted: true, advanced: advance.is_some() });
        }
        let counted = match advance {
            Some(_) if self.note_and_count(campaign, recipient, result, None).await? => true,
            // Noted before, ended unsent (false), or still in flight (`Conflict`: early).
            _ => self.recipients.not_noted(campaign, recipient).await?,
        };
        let advanced = match result.status() {
            Some(to) => self.recipients.advance(campaign, recipient, to, now).await?,
            None => false,
        };
        Ok(Recorded { counted, advanced })
    }
}
