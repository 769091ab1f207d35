//! Production adapters: the ports implemented with the AWS SDK clients (the DynamoDB stores
//! are in [`crate::store`], a `dynamo.rs` in each table's folder).
//!
//! Only these modules import `aws_sdk_*`; no SDK type crosses a port. Clients are built once per
//! cold start from one `SdkConfig` (see each function's `main.rs`).

mod s3;
mod scheduler;
mod secrets;
mod sesv2;
mod sqs;

pub use s3::{s3_client, S3ObjectStore};
pub use scheduler::{at_expression, parse_at_expression, EventBridgeScheduler, ScheduleTarget};
pub use secrets::{read_unsubscribe_key, SecretError, SecretKeySource};
pub use sesv2::SesMailer;
pub use sqs::SqsQueue;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Loads the SDK configuration from the environment (region, credentials, and the
/// `AWS_ENDPOINT_URL*` overrides the local stack uses). Expensive: once per cold start.
///
/// Every call gets a time limit: without one a request the service never answers would hold
/// a function until its own timeout. An attempt that times out is retried by the SDK.
pub async fn load_sdk_config() -> SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(3))
        .operation_attempt_timeout(std::time::Duration::from_secs(10))
        .operation_timeout(std::time::Duration::from_secs(30))
        .build();
    aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await
}

/// What an SDK error means to a caller deciding whether to retry.
#[derive(Debug)]
pub(crate) enum Fault {
    Throttled,
    Transient(String),
    Service { code: String, message: String },
}

const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
    "TransactionInProgressException",
];

pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Fault
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Fault::Transient(describe(err))
        }
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("Unknown").to_string();
            let message = ctx.err().message().unwrap_or_default().to_string();
            if THROTTLING_CODES.contains(&code.as_str()) || ctx.raw().status().as_u16() == 429 {
                Fault::Throttled
            } else if ctx.raw().status().is_server_error() {
                Fault::Transient(format!("{code}: {message}"))
            } else {
                Fault::Service { code, message }
            }
        }
        _ => Fault::Service { code: "ClientError".into(), message: describe(err) },
    }
}

/// The error and its sources on one line (SDK errors hide the useful part in `source()`).
pub fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
