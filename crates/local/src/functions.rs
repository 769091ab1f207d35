//! Hosts every fanmail function in-process, each built by its own crate's production wiring
//! (`Deps::aws`, from one set of AWS adapters) from its environment as `template.yaml`
//! defines it. Each invocation runs as [`invoke`] describes: to its timeout, panics caught.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use fanmail_common::aws::{read_unsubscribe_key, SecretKeySource};
use fanmail_common::config::Env;
use fanmail_common::ports::{Clock, UnsubscribeKeys};
use fanmail_common::system::SystemClock;
use lambda_runtime::{Context as LambdaContext, LambdaEvent};

use fanmail_common::wiring::{AwsAdapters, AwsPorts};
use serde_json::Value;

use crate::invoke::{self, InvokeError};
use crate::permissions::record::{self, CallLog};
use crate::permissions::{self, Policy};
use crate::provision::Stack;

pub const UPLOAD_URL: &str = "UploadUrlFunction";
pub const API: &str = "ApiFunction";
pub const SPLITTER: &str = "SplitterFunction";
pub const TRIGGER: &str = "TriggerFunction";
pub const SENDER: &str = "SenderFunction";
pub const RECORDER: &str = "RecorderFunction";

/// Lambda's own default, for a function the template gives no `Timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// Every function this runner can host, by logical id.
pub const ALL: [&str; 6] = [UPLOAD_URL, API, SPLITTER, TRIGGER, SENDER, RECORDER];

fn config(vars: &BTreeMap<String, String>) -> Env<'_> {
    Env::from_lookup(|k| vars.get(k).cloned())
}

pub struct Functions {
    upload_url: fanmail_upload_url::Deps<AwsPorts>,
    api: fanmail_api::Deps<AwsPorts>,
    splitter: fanmail_splitter::Deps<AwsPorts>,
    trigger: fanmail_trigger::Deps<AwsPorts>,
    sender: fanmail_sender::Deps<AwsPorts>,
    recorder: fanmail_recorder::Deps<AwsPorts>,
    /// Each function's `Timeout` from the template, shared by every instance of the runner.
    timeouts: Arc<Mutex<BTreeMap<String, Duration>>>,
}

impl Functions {
    /// Builds each function from its resolved environment, reading its secrets as its
    /// `main.rs` does.
    pub async fn build(sdk: &SdkConfig, stack: &Stack, overrides: &BTreeMap<String, String>) -> Result<Self> {
        let env_of = |function: &str| -> Result<BTreeMap<String, String>> { stack.function_env(function, overrides) };
        let calls = CallLog::from_env();
        let grants = if calls.is_some() { permissions::grants(&stack.template)? } else { Vec::new() };
        // Each function's clients of its own, so each call can be held against its own policy.
        let sdk_of = |function: &str| -> Result<SdkConfig> {
            Ok(match &calls {
                Some(calls) => {
                    let policy = Policy::of(function, &grants, &stack.scope, &stack.name)?;
                    record::attributed(sdk, function, policy, calls.clone())
                }
                None => sdk.clone(),
            })
        };
        let vars = env_of(UPLOAD_URL)?;
        let upload_url = fanmail_upload_url::Deps::aws(
            &AwsAdapters::new(&sdk_of(UPLOAD_URL)?),
            fanmail_upload_url::Config::from_env(&config(&vars)).context(UPLOAD_URL)?,
        );
        let vars = env_of(API)?;
        let api_config = fanmail_api::Config::from_env(&config(&vars)).context(API)?;
        let api_sdk = sdk_of(API)?;
        let key = read_unsubscribe_key(&api_sdk, &api_config.unsubscribe_secret_arn).await.context(API)?;
        let source = SecretKeySource::new(&api_sdk, &api_config.unsubscribe_secret_arn);
        let keys = UnsubscribeKeys::new(std::sync::Arc::new(source), Some(key), SystemClock.now());
        let api = fanmail_api::Deps::aws(&AwsAdapters::new(&api_sdk), api_config, keys);
        let vars = env_of(SPLITTER)?;
        let splitter = fanmail_splitter::Deps::aws(
            &AwsAdapters::new(&sdk_of(SPLITTER)?),
            &fanmail_splitter::Config::from_env(&config(&vars)).context(SPLITTER)?,
        );
        let vars = env_of(TRIGGER)?;
        let trigger = fanmail_trigger::Deps::aws(
            &AwsAdapters::new(&sdk_of(TRIGGER)?),
            &fanmail_trigger::Config::from_env(&config(&vars)).context(TRIGGER)?,
        );
        let vars = env_of(SENDER)?;
        let sender_config = fanmail_sender::Config::from_env(&config(&vars)).context(SENDER)?;
        let sender_sdk = sdk_of(SENDER)?;
        let key = read_unsubscribe_key(&sender_sdk, &sender_config.unsubscribe_secret_arn).await.context(SENDER)?;
        let sender = fanmail_sender::Deps::aws(&AwsAdapters::new(&sender_sdk), sender_config, key);
        let vars = env_of(RECORDER)?;
        let recorder = fanmail_recorder::Deps::aws(
            &AwsAdapters::new(&sdk_of(RECORDER)?),
            &fanmail_recorder::Config::from_env(&config(&vars)).context(RECORDER)?,
        );
        let timeouts = ALL
            .iter()
            .map(|function| Ok((function.to_string(), stack.function_timeout(function)?.unwrap_or(DEFAULT_TIMEOUT))))
            .collect::<Result<_>>()?;
        Ok(Self { upload_url, api, splitter, trigger, sender, recorder, timeouts: Arc::new(Mutex::new(timeouts)) })
    }

    /// The same functions with `other`'s timeouts: another execution environment of the same
    /// stack, whose timeouts a test changes through any of them.
    pub fn sharing_timeouts_of(mut self, other: &Functions) -> Self {
        self.timeouts = other.timeouts.clone();
        self
    }

    /// The time `function` may run before it is stopped.
    pub fn timeout(&self, function: &str) -> Duration {
        self.timeouts.lock().expect("timeouts").get(function).copied().unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Shortens (or lengthens) `function`'s timeout, so a test can see one pass without
    /// waiting out the template's.
    pub fn set_timeout(&self, function: &str, timeout: Duration) {
        self.timeouts.lock().expect("timeouts").insert(function.to_string(), timeout);
    }

    async fn invoke<T, F>(&self, function: &str, handler: impl FnOnce(LambdaContext) -> F) -> Result<T, InvokeError>
    where
        F: Future<Output = Result<T, lambda_runtime::Error>>,
    {
        let timeout = self.timeout(function);
        let ctx = invoke::context(function, timeout);
        let request_id = ctx.request_id.clone();
        invoke::run(function, timeout, &request_id, handler(ctx)).await
    }

    pub async fn http(
        &self,
        function: &str,
        request: ApiGatewayV2httpRequest,
    ) -> Result<ApiGatewayV2httpResponse, InvokeError> {
        match function {
            UPLOAD_URL => {
                self.invoke(function, |ctx| {
                    fanmail_upload_url::handler(&self.upload_url, LambdaEvent::new(request, ctx))
                })
                .await
            }
            API => self.invoke(function, |ctx| fanmail_api::handler(&self.api, LambdaEvent::new(request, ctx))).await,
            other => Err(InvokeError::Unsupported { function: other.to_string(), kind: "HTTP" }),
        }
    }

    pub async fn sqs(&self, function: &str, event: SqsEvent) -> Result<SqsBatchResponse, InvokeError> {
        match function {
            SPLITTER => {
                self.invoke(function, |ctx| fanmail_splitter::handler(&self.splitter, LambdaEvent::new(event, ctx)))
                    .await
            }
            SENDER => {
                self.invoke(function, |ctx| fanmail_sender::handler(&self.sender, LambdaEvent::new(event, ctx))).await
            }
            // The schedule dead-letter queue's messages: deliveries replayed.
            TRIGGER => {
                self.invoke(function, |ctx| async {
                    Ok::<_, lambda_runtime::Error>(
                        fanmail_trigger::dead_letters(&self.trigger, LambdaEvent::new(event, ctx)).await,
                    )
                })
                .await
            }
            // Its dead-letter queue's messages: events replayed.
            RECORDER => {
                self.invoke(function, |ctx| async {
                    Ok::<_, lambda_runtime::Error>(
                        fanmail_recorder::dead_letters(&self.recorder, LambdaEvent::new(event, ctx)).await,
                    )
                })
                .await
            }
            other => Err(InvokeError::Unsupported { function: other.to_string(), kind: "SQS" }),
        }
    }

    pub async fn scheduled(&self, payload: Value) -> Result<Value, InvokeError> {
        let result =
            self.invoke(TRIGGER, |ctx| fanmail_trigger::handler(&self.trigger, LambdaEvent::new(payload, ctx))).await?;
        Ok(serde_json::to_value(result).unwrap_or_default())
    }

    pub async fn sns(&self, event: SnsEvent) -> Result<Value, InvokeError> {
        let summary = self
            .invoke(RECORDER, |ctx| fanmail_recorder::handler(&self.recorder, LambdaEvent::new(event, ctx)))
            .await?;
        Ok(serde_json::to_value(summary).unwrap_or_default())
    }
}
