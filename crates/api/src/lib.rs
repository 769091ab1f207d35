//! The campaign and template API behind API Gateway (HTTP API, payload v2).
//!
//! Routes are dispatched on API Gateway's `routeKey` (`GET /campaigns/{id}`), the same key the
//! template declares and the local runner reproduces.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::aws::{
    s3_client, DynamoCampaignStore, DynamoLedger, DynamoRecipientStore, DynamoSuppressionStore, DynamoTemplateStore,
    EventBridgeScheduler, S3ObjectStore, ScheduleTarget, SqsQueue,
};
use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::ports::{
    CampaignStore, Clock, IdGenerator, Ledger, ObjectStore, Queue, RecipientStore, Scheduler, SuppressionStore,
    TemplateStore,
};
use fanmail_common::system::{RandomIds, SystemClock};
use lambda_runtime::{Error, LambdaEvent};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub templates_table: String,
    pub campaigns_table: String,
    pub recipients_table: String,
    pub suppressions_table: String,
    pub ledger_table: String,
    pub bucket: String,
    pub split_jobs_queue_url: String,
    pub recipients_queue_url: String,
    /// Every campaign's From address must be in this domain (the verified SES identity).
    pub sender_domain: String,
    pub schedule: ScheduleTarget,
    pub unsubscribe_secret_arn: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            templates_table: env.required(vars::TEMPLATES_TABLE)?,
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            recipients_table: env.required(vars::RECIPIENTS_TABLE)?,
            suppressions_table: env.required(vars::SUPPRESSIONS_TABLE)?,
            ledger_table: env.required(vars::LEDGER_TABLE)?,
            bucket: env.required(vars::UPLOAD_BUCKET)?,
            split_jobs_queue_url: env.required(vars::SPLIT_JOBS_QUEUE_URL)?,
            recipients_queue_url: env.required(vars::RECIPIENTS_QUEUE_URL)?,
            sender_domain: env.required(vars::SENDER_DOMAIN)?.to_ascii_lowercase(),
            schedule: ScheduleTarget {
                group: env.required(vars::SCHEDULE_GROUP)?,
                target_arn: env.required(vars::SCHEDULE_TARGET_ARN)?,
                role_arn: env.required(vars::SCHEDULE_ROLE_ARN)?,
                dead_letter_arn: env.optional(vars::SCHEDULE_DLQ_ARN),
            },
            unsubscribe_secret_arn: env.required(vars::UNSUBSCRIBE_SECRET_ARN)?,
        })
    }
}

/// Everything the API talks to.
pub struct Deps<T, C, R, S, L, O, Q, Sch, K, I> {
    pub templates: T,
    pub campaigns: C,
    pub recipients: R,
    pub suppressions: S,
    pub ledger: L,
    pub objects: O,
    pub split_jobs: Q,
    pub recipient_jobs: Q,
    pub scheduler: Sch,
    pub clock: K,
    pub ids: I,
    pub config: Config,
}

pub type AwsDeps = Deps<
    DynamoTemplateStore,
    DynamoCampaignStore,
    DynamoRecipientStore,
    DynamoSuppressionStore,
    DynamoLedger,
    S3ObjectStore,
    SqsQueue,
    EventBridgeScheduler,
    SystemClock,
    RandomIds,
>;

/// The production wiring, shared by `main.rs` and the local runner.
pub fn aws_deps(sdk: &aws_config::SdkConfig, config: Config) -> AwsDeps {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    Deps {
        templates: DynamoTemplateStore::new(dynamo.clone(), &config.templates_table),
        campaigns: DynamoCampaignStore::new(dynamo.clone(), &config.campaigns_table),
        recipients: DynamoRecipientStore::new(dynamo.clone(), &config.recipients_table),
        suppressions: DynamoSuppressionStore::new(dynamo.clone(), &config.suppressions_table),
        ledger: DynamoLedger::new(dynamo, &config.ledger_table),
        objects: S3ObjectStore::new(s3_client(sdk), &config.bucket),
        split_jobs: SqsQueue::new(sqs.clone(), &config.split_jobs_queue_url),
        recipient_jobs: SqsQueue::new(sqs, &config.recipients_queue_url),
        scheduler: EventBridgeScheduler::new(aws_sdk_scheduler::Client::new(sdk), config.schedule.clone()),
        clock: SystemClock,
        ids: RandomIds,
        config,
    }
}

/// Routes this function serves (as in `template.yaml`) that later work will fill in.
const PLANNED_ROUTES: &[&str] = &[
    "POST /templates",
    "GET /templates",
    "GET /templates/{id}",
    "PUT /templates/{id}",
    "DELETE /templates/{id}",
    "POST /campaigns",
    "GET /campaigns/{id}",
    "GET /campaigns/{id}/recipients",
    "GET /campaigns/{id}/rejected-rows",
    "POST /campaigns/{id}/retry-failed",
    "PUT /campaigns/{id}/schedule",
    "POST /campaigns/{id}/cancel",
    "POST /campaigns/{id}/pause",
    "POST /campaigns/{id}/resume",
    "GET /stats/sent",
    "GET /suppressions",
    "POST /suppressions",
    "GET /suppressions/{address}",
    "DELETE /suppressions/{address}",
    "GET /unsubscribe",
    "POST /unsubscribe",
];

pub async fn handler<T, C, R, S, L, O, Q, Sch, K, I>(
    deps: &Deps<T, C, R, S, L, O, Q, Sch, K, I>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error>
where
    T: TemplateStore,
    C: CampaignStore,
    R: RecipientStore,
    S: SuppressionStore,
    L: Ledger,
    O: ObjectStore,
    Q: Queue,
    Sch: Scheduler,
    K: Clock,
    I: IdGenerator,
{
    let request = event.payload;
    let route = request.route().to_string();
    let result = match route.as_str() {
        "GET /health" => Ok(health(deps)),
        planned if PLANNED_ROUTES.contains(&planned) => {
            Err(ApiError::new(501, "not_implemented", format!("'{planned}' is not available in this version")))
        }
        other => Err(ApiError::not_found(format!("no route '{other}'"))),
    };
    Ok(result.unwrap_or_else(ApiError::into_response))
}

fn health<T, C, R, S, L, O, Q, Sch, K: Clock, I>(
    deps: &Deps<T, C, R, S, L, O, Q, Sch, K, I>,
) -> ApiGatewayV2httpResponse {
    json_response(
        200,
        &serde_json::json!({
            "status": "ok",
            "service": "fanmail",
            "version": env!("CARGO_PKG_VERSION"),
            "time": deps.clock.now().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::encodings::Body;
    use fanmail_common::memory::*;
    use time::macros::datetime;

    type MemDeps = Deps<
        MemoryTemplateStore,
        MemoryCampaignStore,
        MemoryRecipientStore,
        MemorySuppressionStore,
        MemoryLedger,
        MemoryObjectStore,
        MemoryQueue,
        MemoryScheduler,
        ManualClock,
        SequentialIds,
    >;

    fn deps() -> MemDeps {
        let env = Env::from_lookup(|k| Some(format!("value-of-{k}")));
        Deps {
            templates: Default::default(),
            campaigns: Default::default(),
            recipients: Default::default(),
            suppressions: Default::default(),
            ledger: Default::default(),
            objects: Default::default(),
            split_jobs: Default::default(),
            recipient_jobs: Default::default(),
            scheduler: Default::default(),
            clock: ManualClock::at(datetime!(2026-11-23 09:00 UTC)),
            ids: SequentialIds::with_prefix("c"),
            config: Config::from_env(&env).unwrap(),
        }
    }

    async fn call(route: &str) -> (i64, serde_json::Value) {
        let mut req = ApiGatewayV2httpRequest::default();
        req.route_key = Some(route.into());
        let res = handler(&deps(), LambdaEvent::new(req, Default::default())).await.unwrap();
        let Some(Body::Text(text)) = res.body else { panic!("text body") };
        (res.status_code, serde_json::from_str(&text).unwrap())
    }

    #[tokio::test]
    async fn health_answers_ok_with_the_clock_time() {
        let (status, json) = call("GET /health").await;
        assert_eq!(status, 200);
        assert_eq!(json["status"], "ok");
        assert_eq!(json["time"], "2026-11-23T09:00:00Z");
    }

    #[tokio::test]
    async fn an_unknown_route_is_a_json_404() {
        let (status, json) = call("GET /nope").await;
        assert_eq!(status, 404);
        assert_eq!(json["error"]["code"], "not_found");
    }

    #[test]
    fn config_names_the_missing_variable() {
        let env = Env::from_lookup(|k| (k != vars::SENDER_DOMAIN).then(|| "x".to_string()));
        assert_eq!(Config::from_env(&env), Err(ConfigError::Missing(vars::SENDER_DOMAIN.into())));
    }
}
