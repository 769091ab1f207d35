//! The CSV splitter: consumes split jobs and fans a campaign's recipient list out into
//! per-recipient messages.
//!
//! This version decodes and validates each job and looks its campaign up; the fan-out itself
//! (streaming the CSV, row reports, suppression checks, checkpoints) arrives with the
//! immediate-send pipeline. Until then a job for an existing campaign stays on the queue
//! (retried, then kept in the DLQ): nothing accepted is dropped.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use fanmail_common::aws::{
    s3_client, DynamoCampaignStore, DynamoRecipientStore, DynamoSuppressionStore, DynamoTemplateStore, S3ObjectStore,
    SqsQueue,
};
use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::domain::SplitJob;
use fanmail_common::ports::{CampaignStore, ObjectStore, Queue, RecipientStore, SuppressionStore, TemplateStore};
use fanmail_common::sqs_batch::{decode, process, RecordOutcome};
use lambda_runtime::{Error, LambdaEvent};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub templates_table: String,
    pub campaigns_table: String,
    pub recipients_table: String,
    pub suppressions_table: String,
    pub bucket: String,
    pub split_jobs_queue_url: String,
    pub recipients_queue_url: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            templates_table: env.required(vars::TEMPLATES_TABLE)?,
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            recipients_table: env.required(vars::RECIPIENTS_TABLE)?,
            suppressions_table: env.required(vars::SUPPRESSIONS_TABLE)?,
            bucket: env.required(vars::UPLOAD_BUCKET)?,
            split_jobs_queue_url: env.required(vars::SPLIT_JOBS_QUEUE_URL)?,
            recipients_queue_url: env.required(vars::RECIPIENTS_QUEUE_URL)?,
        })
    }
}

pub struct Deps<T, C, R, S, O, Q> {
    pub templates: T,
    pub campaigns: C,
    pub recipients: R,
    pub suppressions: S,
    pub objects: O,
    pub split_jobs: Q,
    pub recipient_jobs: Q,
}

pub type AwsDeps = Deps<
    DynamoTemplateStore,
    DynamoCampaignStore,
    DynamoRecipientStore,
    DynamoSuppressionStore,
    S3ObjectStore,
    SqsQueue,
>;

pub fn aws_deps(sdk: &aws_config::SdkConfig, config: &Config) -> AwsDeps {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    Deps {
        templates: DynamoTemplateStore::new(dynamo.clone(), &config.templates_table),
        campaigns: DynamoCampaignStore::new(dynamo.clone(), &config.campaigns_table),
        recipients: DynamoRecipientStore::new(dynamo.clone(), &config.recipients_table),
        suppressions: DynamoSuppressionStore::new(dynamo, &config.suppressions_table),
        objects: S3ObjectStore::new(s3_client(sdk), &config.bucket),
        split_jobs: SqsQueue::new(sqs.clone(), &config.split_jobs_queue_url),
        recipient_jobs: SqsQueue::new(sqs, &config.recipients_queue_url),
    }
}

pub async fn handler<T, C, R, S, O, Q>(
    deps: &Deps<T, C, R, S, O, Q>,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error>
where
    T: TemplateStore,
    C: CampaignStore,
    R: RecipientStore,
    S: SuppressionStore,
    O: ObjectStore,
    Q: Queue,
{
    Ok(process(event.payload, |message| async move {
        let job: SplitJob = match decode(&message) {
            Ok(job) => job,
            Err(reason) => return RecordOutcome::Poison(reason),
        };
        match deps.campaigns.get(&job.campaign_id).await {
            Ok(None) => RecordOutcome::Poison(format!("campaign {} does not exist", job.campaign_id)),
            Ok(Some(_)) => RecordOutcome::Retry(format!(
                "fan-out of campaign {} is not available in this version",
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
    use aws_lambda_events::sqs::SqsMessage;
    use fanmail_common::memory::*;

    #[tokio::test]
    async fn malformed_and_orphan_jobs_are_dropped_not_retried() {
        let deps = Deps {
            templates: MemoryTemplateStore::default(),
            campaigns: MemoryCampaignStore::default(),
            recipients: MemoryRecipientStore::default(),
            suppressions: MemorySuppressionStore::default(),
            objects: MemoryObjectStore::default(),
            split_jobs: MemoryQueue::default(),
            recipient_jobs: MemoryQueue::default(),
        };
        let mut event = SqsEvent::default();
        for (id, body) in [("a", "not json"), ("b", r#"{"campaignId":"missing"}"#)] {
            let mut m = SqsMessage::default();
            m.message_id = Some(id.into());
            m.body = Some(body.into());
            event.records.push(m);
        }
        let response = handler(&deps, LambdaEvent::new(event, Default::default())).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }
}
