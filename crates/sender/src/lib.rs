//! The sender: consumes per-recipient messages, renders each mail and sends it through SES v2.
//!
//! This version decodes each message and checks its campaign; rendering, the claim-before-send
//! exactly-once protocol and pacing arrive with the immediate-send pipeline. Until then a valid
//! message stays on the queue (retried, then kept in the DLQ): nothing accepted is dropped.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use fanmail_common::aws::{
    DynamoCampaignStore, DynamoLedger, DynamoRecipientStore, DynamoSuppressionStore, DynamoTemplateStore, SesMailer,
};
use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::domain::RecipientJob;
use fanmail_common::ports::{CampaignStore, Clock, Ledger, Mailer, RecipientStore, SuppressionStore, TemplateStore};
use fanmail_common::sqs_batch::{decode, process, RecordOutcome};
use fanmail_common::system::SystemClock;
use lambda_runtime::{Error, LambdaEvent};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub templates_table: String,
    pub campaigns_table: String,
    pub recipients_table: String,
    pub suppressions_table: String,
    pub ledger_table: String,
    pub configuration_set: String,
    /// The SES account's send rate (mails/s), shared by every sender instance.
    pub max_send_rate: f64,
    /// Most sender instances at once (the event source's MaximumConcurrency).
    pub sender_concurrency: u32,
    /// Base of the unsubscribe links in each mail.
    pub public_base_url: String,
    pub unsubscribe_secret_arn: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let max_send_rate: f64 = env.parsed(vars::MAX_SEND_RATE, 14.0)?;
        // NaN and infinities are not rates either.
        if !max_send_rate.is_finite() || max_send_rate <= 0.0 {
            return Err(ConfigError::Invalid {
                key: vars::MAX_SEND_RATE.into(),
                value: max_send_rate.to_string(),
                reason: "must be above 0".into(),
            });
        }
        Ok(Self {
            templates_table: env.required(vars::TEMPLATES_TABLE)?,
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            recipients_table: env.required(vars::RECIPIENTS_TABLE)?,
            suppressions_table: env.required(vars::SUPPRESSIONS_TABLE)?,
            ledger_table: env.required(vars::LEDGER_TABLE)?,
            configuration_set: env.required(vars::SES_CONFIGURATION_SET)?,
            max_send_rate,
            sender_concurrency: env.parsed(vars::SENDER_CONCURRENCY, 5)?,
            public_base_url: env.required(vars::PUBLIC_BASE_URL)?.trim_end_matches('/').to_string(),
            unsubscribe_secret_arn: env.required(vars::UNSUBSCRIBE_SECRET_ARN)?,
        })
    }
}

pub struct Deps<T, C, R, S, L, M, K> {
    pub templates: T,
    pub campaigns: C,
    pub recipients: R,
    pub suppressions: S,
    pub ledger: L,
    pub mailer: M,
    pub clock: K,
    pub config: Config,
}

pub type AwsDeps = Deps<
    DynamoTemplateStore,
    DynamoCampaignStore,
    DynamoRecipientStore,
    DynamoSuppressionStore,
    DynamoLedger,
    SesMailer,
    SystemClock,
>;

pub fn aws_deps(sdk: &aws_config::SdkConfig, config: Config) -> AwsDeps {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    Deps {
        templates: DynamoTemplateStore::new(dynamo.clone(), &config.templates_table),
        campaigns: DynamoCampaignStore::new(dynamo.clone(), &config.campaigns_table),
        recipients: DynamoRecipientStore::new(dynamo.clone(), &config.recipients_table),
        suppressions: DynamoSuppressionStore::new(dynamo.clone(), &config.suppressions_table),
        ledger: DynamoLedger::new(dynamo, &config.ledger_table),
        mailer: SesMailer::new(aws_sdk_sesv2::Client::new(sdk), Some(config.configuration_set.clone())),
        clock: SystemClock,
        config,
    }
}

pub async fn handler<T, C, R, S, L, M, K>(
    deps: &Deps<T, C, R, S, L, M, K>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error>
where
    T: TemplateStore,
    C: CampaignStore,
    R: RecipientStore,
    S: SuppressionStore,
    L: Ledger,
    M: Mailer,
    K: Clock,
{
    Ok(process(event.payload, |message| async move {
        let job: RecipientJob = match decode(&message) {
            Ok(job) => job,
            Err(reason) => return RecordOutcome::Poison(reason),
        };
        match deps.campaigns.get(&job.campaign_id).await {
            Ok(None) => RecordOutcome::Poison(format!("campaign {} does not exist", job.campaign_id)),
            Ok(Some(_)) => RecordOutcome::Retry(format!(
                "sending for campaign {} is not available in this version",
                job.campaign_id
            )),
            Err(e) => RecordOutcome::Retry(e.to_string()),
        }
    })
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_send_rate_is_refused() {
        let env = Env::from_lookup(|k| Some(if k == vars::MAX_SEND_RATE { "0".into() } else { "x".into() }));
        assert!(matches!(Config::from_env(&env), Err(ConfigError::Invalid { .. })));
        let env = Env::from_lookup(|k| Some(if k == vars::MAX_SEND_RATE { "3500".into() } else { "7".into() }));
        let config = Config::from_env(&env).unwrap();
        assert_eq!((config.max_send_rate, config.sender_concurrency), (3500.0, 7));
    }
}
