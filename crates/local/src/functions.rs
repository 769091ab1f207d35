//! Hosts every fanmail function in-process, each built by its own crate's production wiring
//! (`Deps::aws`, from one set of AWS adapters) from its environment as `template.yaml`
//! defines it.

use std::collections::BTreeMap;

use anyhow::{anyhow, Context, Result};
use aws_config::SdkConfig;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use fanmail_common::aws::read_unsubscribe_key;
use fanmail_common::config::Env;
use lambda_runtime::{Context as LambdaContext, LambdaEvent};

use fanmail_common::wiring::{AwsAdapters, AwsPorts};
use serde_json::Value;

use crate::provision::Stack;

pub const UPLOAD_URL: &str = "UploadUrlFunction";
pub const API: &str = "ApiFunction";
pub const SPLITTER: &str = "SplitterFunction";
pub const TRIGGER: &str = "TriggerFunction";
pub const SENDER: &str = "SenderFunction";
pub const RECORDER: &str = "RecorderFunction";

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
}

fn context(function: &str) -> LambdaContext {
    let mut ctx = LambdaContext::default();
    ctx.request_id = uuid::Uuid::new_v4().to_string();
    ctx.invoked_function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
    ctx
}

fn lambda_error(function: &str, e: lambda_runtime::Error) -> anyhow::Error {
    anyhow!("{function} failed: {e}")
}

impl Functions {
    /// Builds each function from its resolved environment, reading its secrets as its
    /// `main.rs` does.
    pub async fn build(sdk: &SdkConfig, stack: &Stack, overrides: &BTreeMap<String, String>) -> Result<Self> {
        let env_of = |function: &str| -> Result<BTreeMap<String, String>> { stack.function_env(function, overrides) };
        let aws = AwsAdapters::new(sdk);
        let vars = env_of(UPLOAD_URL)?;
        let upload_url = fanmail_upload_url::Deps::aws(
            &aws,
            fanmail_upload_url::Config::from_env(&config(&vars)).context(UPLOAD_URL)?,
        );
        let vars = env_of(API)?;
        let api_config = fanmail_api::Config::from_env(&config(&vars)).context(API)?;
        let key = read_unsubscribe_key(sdk, &api_config.unsubscribe_secret_arn).await.context(API)?;
        let api = fanmail_api::Deps::aws(&aws, api_config, key);
        let vars = env_of(SPLITTER)?;
        let splitter =
            fanmail_splitter::Deps::aws(&aws, &fanmail_splitter::Config::from_env(&config(&vars)).context(SPLITTER)?);
        let vars = env_of(TRIGGER)?;
        let trigger =
            fanmail_trigger::Deps::aws(&aws, &fanmail_trigger::Config::from_env(&config(&vars)).context(TRIGGER)?);
        let vars = env_of(SENDER)?;
        let sender_config = fanmail_sender::Config::from_env(&config(&vars)).context(SENDER)?;
        let key = read_unsubscribe_key(sdk, &sender_config.unsubscribe_secret_arn).await.context(SENDER)?;
        let sender = fanmail_sender::Deps::aws(&aws, sender_config, key);
        let vars = env_of(RECORDER)?;
        let recorder =
            fanmail_recorder::Deps::aws(&aws, &fanmail_recorder::Config::from_env(&config(&vars)).context(RECORDER)?);
        Ok(Self { upload_url, api, splitter, trigger, sender, recorder })
    }

    pub async fn http(&self, function: &str, request: ApiGatewayV2httpRequest) -> Result<ApiGatewayV2httpResponse> {
        let event = LambdaEvent::new(request, context(function));
        match function {
            UPLOAD_URL => fanmail_upload_url::handler(&self.upload_url, event).await,
            API => fanmail_api::handler(&self.api, event).await,
            other => return Err(anyhow!("{other} does not serve HTTP routes")),
        }
        .map_err(|e| lambda_error(function, e))
    }

    pub async fn sqs(&self, function: &str, event: SqsEvent) -> Result<SqsBatchResponse> {
        let event = LambdaEvent::new(event, context(function));
        match function {
            SPLITTER => fanmail_splitter::handler(&self.splitter, event).await,
            SENDER => fanmail_sender::handler(&self.sender, event).await,
            other => return Err(anyhow!("{other} does not consume a queue")),
        }
        .map_err(|e| lambda_error(function, e))
    }

    pub async fn scheduled(&self, payload: Value) -> Result<Value> {
        let result = fanmail_trigger::handler(&self.trigger, LambdaEvent::new(payload, context(TRIGGER)))
            .await
            .map_err(|e| lambda_error(TRIGGER, e))?;
        Ok(serde_json::to_value(result)?)
    }

    pub async fn sns(&self, event: SnsEvent) -> Result<Value> {
        let summary = fanmail_recorder::handler(&self.recorder, LambdaEvent::new(event, context(RECORDER)))
            .await
            .map_err(|e| lambda_error(RECORDER, e))?;
        Ok(serde_json::to_value(summary)?)
    }
}
