//! The result recorder: consumes SES events (configuration-set event publishing, and the older
//! identity notifications) from SNS.
//!
//! This version parses and classifies every event and reports what it saw; joining events to
//! recipients, counters, suppressions and auto-pause arrive with the compliance work. A
//! malformed or unknown event is logged and counted, never fails the batch.

use aws_lambda_events::sns::SnsEvent;
use fanmail_common::aws::{DynamoCampaignStore, DynamoLedger, DynamoRecipientStore, DynamoSuppressionStore};
use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::ports::{CampaignStore, Ledger, RecipientStore, SuppressionStore};
use lambda_runtime::{Error, LambdaEvent};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub campaigns_table: String,
    pub recipients_table: String,
    pub suppressions_table: String,
    pub ledger_table: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            recipients_table: env.required(vars::RECIPIENTS_TABLE)?,
            suppressions_table: env.required(vars::SUPPRESSIONS_TABLE)?,
            ledger_table: env.required(vars::LEDGER_TABLE)?,
        })
    }
}

pub struct Deps<C, R, S, L> {
    pub campaigns: C,
    pub recipients: R,
    pub suppressions: S,
    pub ledger: L,
}

pub type AwsDeps = Deps<DynamoCampaignStore, DynamoRecipientStore, DynamoSuppressionStore, DynamoLedger>;

pub fn aws_deps(sdk: &aws_config::SdkConfig, config: &Config) -> AwsDeps {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    Deps {
        campaigns: DynamoCampaignStore::new(dynamo.clone(), &config.campaigns_table),
        recipients: DynamoRecipientStore::new(dynamo.clone(), &config.recipients_table),
        suppressions: DynamoSuppressionStore::new(dynamo.clone(), &config.suppressions_table),
        ledger: DynamoLedger::new(dynamo, &config.ledger_table),
    }
}

/// Event types SES publishes (`eventType`) or notifies (`notificationType`).
pub const KNOWN_EVENT_TYPES: &[&str] = &[
    "Send",
    "Delivery",
    "Bounce",
    "Complaint",
    "Reject",
    "DeliveryDelay",
    "Open",
    "Click",
    "Rendering Failure",
    "Subscription",
];

/// What one invocation saw.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RecorderSummary {
    pub recognised: u32,
    pub unknown: u32,
    pub malformed: u32,
}

/// The SES event type of one SNS message, or why it has none.
pub fn event_type(message: &str) -> Result<String, String> {
    let json: serde_json::Value = serde_json::from_str(message).map_err(|e| format!("message is not JSON: {e}"))?;
    json.get("eventType")
        .or_else(|| json.get("notificationType"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| "message has neither eventType nor notificationType".to_string())
}

pub async fn handler<C, R, S, L>(
    _deps: &Deps<C, R, S, L>,
    event: LambdaEvent<SnsEvent>,
) -> Result<RecorderSummary, Error>
where
    C: CampaignStore,
    R: RecipientStore,
    S: SuppressionStore,
    L: Ledger,
{
    let mut summary = RecorderSummary::default();
    for record in &event.payload.records {
        match event_type(&record.sns.message) {
            Ok(kind) if KNOWN_EVENT_TYPES.contains(&kind.as_str()) => {
                summary.recognised += 1;
                tracing::info!(event_type = %kind, sns_message_id = %record.sns.message_id, "SES event received");
            }
            Ok(kind) => {
                summary.unknown += 1;
                tracing::warn!(event_type = %kind, sns_message_id = %record.sns.message_id, "unknown SES event type");
            }
            Err(reason) => {
                summary.malformed += 1;
                tracing::error!(reason = %reason, sns_message_id = %record.sns.message_id, "malformed SES event");
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_published_events_and_identity_notifications() {
        assert_eq!(event_type(r#"{"eventType":"Rendering Failure"}"#).unwrap(), "Rendering Failure");
        assert_eq!(event_type(r#"{"notificationType":"Bounce"}"#).unwrap(), "Bounce");
        assert!(event_type(r#"{"other":1}"#).is_err());
        assert!(event_type("Hello from SNS!").is_err());
    }
}
