//! fanmail's local runner: every function in one process against local AWS stand-ins.
//!
//! # Layout
//!
//! - [`template`]: reads `template.yaml` (resources, environments, routes, event sources).
//! - [`resolve`]: CloudFormation intrinsics resolved against local resources.
//! - [`provision`]: creates the template's tables, queues, bucket, topic and schedule group on
//!   the local endpoint, so local and cloud come from one file.
//! - [`client`]: drives the local API like a user script (uploads, campaigns, polling).
//! - [`functions`]: hosts each function, built by its crate's own production wiring.
//! - [`gateway`]: plays API Gateway (HTTP API payload 2.0); [`exchanges`] records what it
//!   routed, for the OpenAPI check.
//! - [`metering`]: counts AWS API calls by service and operation.
//! - [`permissions`]: holds each function's calls against its IAM policy in the template.
//! - [`pollers`]: play the SQS event source mappings.
//! - [`schedules`]: plays EventBridge Scheduler (the local endpoint never fires schedules).
//! - [`ses_events`]: plays SES event publishing (the mailbox simulator's deliveries, bounces
//!   and complaints, through SNS into the recorder).
//!
//! Endpoints come from the process environment (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_SESV2`),
//! which `scripts/local-aws.sh` writes to `.local/aws.env`; both must be loopback addresses,
//! so nothing here can touch a real AWS account.

pub mod client;
pub mod exchanges;
pub mod functions;
pub mod gateway;
pub mod invoke;
pub mod metering;
pub mod permissions;
pub mod pollers;
pub mod provision;
pub mod resolve;
pub mod schedules;
pub mod ses_events;
pub mod template;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use aws_config::SdkConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::functions::Functions;
use crate::pollers::Poller;
use crate::provision::Stack;
use crate::schedules::ScheduleClock;
use crate::template::Template;

/// The local endpoints, read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalEndpoints {
    /// moto: S3, SQS, DynamoDB, SNS, Scheduler.
    pub aws: String,
    /// aws-ses-v2-local.
    pub sesv2: String,
}

fn is_loopback(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or_default().split(['/', ':']).next().unwrap_or_default();
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

impl LocalEndpoints {
    pub fn from_env() -> Result<Self> {
        let get = |key: &str| {
            std::env::var(key).with_context(|| {
            format!("{key} is not set: start the local stack with `scripts/local-aws.sh start` and `source .local/aws.env` (make dev and make test do both)")
        })
        };
        let endpoints = Self { aws: get("AWS_ENDPOINT_URL")?, sesv2: get("AWS_ENDPOINT_URL_SESV2")? };
        // SQS may have an endpoint of its own (the local stack runs it in a second process).
        let sqs = std::env::var("AWS_ENDPOINT_URL_SQS").ok();
        for url in [Some(&endpoints.aws), Some(&endpoints.sesv2), sqs.as_ref()].into_iter().flatten() {
            if !is_loopback(url) {
                bail!("refusing to run against {url}: local endpoints must be on loopback");
            }
        }
        Ok(endpoints)
    }

    /// The SDK configuration every client is built from (endpoints and test credentials come
    /// from the environment, as the functions' own `main.rs` reads them).
    pub async fn sdk_config(&self) -> SdkConfig {
        fanmail_common::aws::load_sdk_config().await
    }
}

/// The repository root (where `template.yaml` is).
pub fn repo_root() -> PathBuf {
    match std::env::var_os("FANMAIL_ROOT") {
        Some(root) => PathBuf::from(root),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."),
    }
}

pub fn load_template() -> Result<Template> {
    Template::load(&repo_root().join("template.yaml"))
}

/// Values the runner supplies itself because it plays the resources they name: the API's
/// public URL (the local gateway) and the image CDN (the bucket, path-style).
pub fn local_overrides(stack: &Stack, endpoints: &LocalEndpoints, api_url: &str) -> Result<BTreeMap<String, String>> {
    let bucket =
        stack.template.of_type("AWS::S3::Bucket").next().map(|(id, _)| id.clone()).context("template has no bucket")?;
    Ok(BTreeMap::from([
        ("PUBLIC_BASE_URL".to_string(), api_url.to_string()),
        ("IMAGES_BASE_URL".to_string(), format!("{}/{}", endpoints.aws, stack.reference(&bucket)?)),
    ]))
}

/// A running local deployment: the stack, its functions, the gateway, pollers and clock.
pub struct Runner {
    pub stack: Stack,
    pub functions: Arc<Functions>,
    pub api_url: String,
    /// The execution environments the queues' pollers invoke, by function: one per concurrent
    /// invocation each event source allows.
    pub instances: BTreeMap<String, usize>,
    ses_events_open: tokio::sync::watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Runner {
    /// Provisions `stack_name` from the template and starts serving on `listener`.
    pub async fn start(endpoints: &LocalEndpoints, stack_name: &str, listener: TcpListener) -> Result<Self> {
        Self::start_with(endpoints, &endpoints.sdk_config().await, stack_name, listener, &BTreeMap::new()).await
    }

    /// As [`Runner::start`], with template parameter values and the SDK configuration to use.
    pub async fn start_with(
        endpoints: &LocalEndpoints,
        sdk: &SdkConfig,
        stack_name: &str,
        listener: TcpListener,
        parameters: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let mut tasks = Vec::new();
        let ses_listener = TcpListener::bind("127.0.0.1:0").await?;
        let ses_url = format!("http://{}", ses_listener.local_addr()?);
        let (ses_proxy, published) = ses_events::serve(ses_listener, &endpoints.sesv2);
        tasks.push(tokio::spawn(ses_proxy));
        let sdk = ses_events::through_proxy(sdk, &ses_url);
        let template = load_template()?;
        let stack = Stack::provision_with(&sdk, template, stack_name, parameters).await?;
        let api_url = format!("http://{}", listener.local_addr()?);
        let overrides = local_overrides(&stack, endpoints, &api_url)?;
        let functions = Arc::new(Functions::build(&sdk, &stack, &overrides).await?);

        let topic = stack
            .template
            .of_type("AWS::SNS::Topic")
            .next()
            .map(|(id, _)| stack.reference(id).map(str::to_string))
            .transpose()?
            .context("template has no SNS topic for SES events")?;
        let queue_urls: HashMap<String, String> = stack
            .template
            .of_type("AWS::SQS::Queue")
            .filter_map(|(id, _)| {
                Some((stack.attribute(id, "Arn").ok()?.to_string(), stack.reference(id).ok()?.to_string()))
            })
            .collect();
        let sqs = pollers::client(&sdk);
        // Where Lambda puts the recorder's events after its retries: its DeadLetterQueue.
        let recorder_dlq = match stack.template.function_property(functions::RECORDER, "DeadLetterQueue") {
            Some(dlq) => {
                let arn = stack
                    .scope
                    .resolve(dlq.get("TargetArn").context("DeadLetterQueue has no TargetArn")?, &stack.name)?;
                queue_urls.get(&arn).cloned()
            }
            None => None,
        };
        let dead_letters = recorder_dlq.map(|url| ses_events::DeadLetters { sqs: sqs.clone(), queue_url: url });
        let (ses_events_open, gate) = tokio::sync::watch::channel(true);
        tasks.push(tokio::spawn(ses_events::deliver(published, functions.clone(), topic, gate, dead_letters)));
        let routes = stack.template.http_routes()?;
        let gateway_functions = functions.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = gateway::serve(listener, gateway_functions, routes).await {
                tracing::error!(error = %e, "gateway stopped");
            }
        }));
        let mut instances = BTreeMap::new();
        for source in stack.template.sqs_event_sources()? {
            let poller = Poller::resolve(&stack, &source)?;
            // An execution environment per concurrent invocation, as Lambda gives.
            let mut own = Vec::with_capacity(poller.concurrency);
            for _ in 0..poller.concurrency {
                own.push(Arc::new(Functions::build(&sdk, &stack, &overrides).await?.sharing_timeouts_of(&functions)));
            }
            *instances.entry(poller.function.clone()).or_insert(0) += own.len();
            tasks.push(tokio::spawn(pollers::run(sqs.clone(), own, poller)));
        }
        let group = stack
            .template
            .of_type("AWS::Scheduler::ScheduleGroup")
            .next()
            .map(|(id, _)| stack.reference(id).map(str::to_string))
            .transpose()?
            .context("template has no schedule group")?;
        let clock = ScheduleClock::new(aws_sdk_scheduler::Client::new(&sdk), sqs, group, queue_urls);
        tasks.push(tokio::spawn(clock.run(functions.clone())));
        Ok(Self { stack, functions, api_url, instances, ses_events_open, tasks })
    }
}

impl Runner {
    /// Holds SES events back (`false`) or lets them, and any held, through to the recorder.
    pub fn deliver_ses_events(&self, open: bool) {
        self.ses_events_open.send_replace(open);
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_endpoints_count_as_local() {
        assert!(is_loopback("http://127.0.0.1:5000"));
        assert!(is_loopback("http://localhost:5000/x"));
        assert!(!is_loopback("https://sqs.us-east-1.amazonaws.com"));
        assert!(!is_loopback("http://127.0.0.1.evil.com:5000"));
    }
}
