//! Plays the SQS event source mappings of `template.yaml`: batch size, batching window,
//! maximum concurrency, partial batch responses. Visibility timeout and redrive to the DLQ
//! are the queue's own (provisioned from the template), exactly as in AWS.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use aws_lambda_events::sqs::SqsEvent;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{json, Value};

use crate::functions::Functions;
use crate::provision::Stack;
use crate::template::SqsEventSource;

/// The pollers' SQS client. Its calls may take far longer than a function's: a receive that
/// the client gives up on is still served by the queue, and the messages it took stay
/// invisible for the whole visibility timeout (minutes), as if a consumer had died holding
/// them. Lambda's own pollers do not give up on a slow queue, so neither does the runner.
pub fn client(sdk: &aws_config::SdkConfig) -> aws_sdk_sqs::Client {
    let patient = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(120))
        .operation_timeout(Duration::from_secs(120))
        .build();
    aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(sdk).timeout_config(patient).build())
}

/// One event source, resolved against the stack.
#[derive(Debug, Clone)]
pub struct Poller {
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub batch_size: i32,
    pub wait_seconds: i32,
    pub concurrency: usize,
    pub report_batch_item_failures: bool,
}

impl Poller {
    pub fn resolve(stack: &Stack, source: &SqsEventSource) -> Result<Self> {
        let concurrency: usize = stack.scope.resolve(&source.maximum_concurrency, &stack.name)?.parse()?;
        Ok(Self {
            function: source.function.clone(),
            queue_url: stack.reference(&source.queue)?.to_string(),
            queue_arn: stack.attribute(&source.queue, "Arn")?.to_string(),
            batch_size: source.batch_size.clamp(1, 10),
            // Long-poll at least a second so an idle runner does not spin.
            wait_seconds: source.batching_window_seconds.clamp(1, 20),
            concurrency: concurrency.max(1),
            report_batch_item_failures: source.report_batch_item_failures,
        })
    }
}

/// The SQS event Lambda would deliver for these messages.
pub fn sqs_event(messages: &[Message], queue_arn: &str) -> Result<SqsEvent> {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes()
                .map(|a| a.iter().map(|(k, v)| (k.as_str().to_string(), Value::String(v.clone()))).collect())
                .unwrap_or_default();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "md5OfBody": m.md5_of_body(),
                "attributes": attributes,
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": crate::resolve::REGION,
            })
        })
        .collect();
    Ok(serde_json::from_value(json!({ "Records": records }))?)
}

/// Receives and dispatches one batch; returns how many messages were handled.
pub async fn poll_once(sqs: &aws_sdk_sqs::Client, functions: &Functions, poller: &Poller) -> Result<usize> {
    let received = sqs
        .receive_message()
        .queue_url(&poller.queue_url)
        .max_number_of_messages(poller.batch_size)
        .wait_time_seconds(poller.wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    let messages = received.messages();
    if messages.is_empty() {
        return Ok(0);
    }
    let event = sqs_event(messages, &poller.queue_arn)?;
    let failed: Vec<String> = match functions.sqs(&poller.function, event).await {
        Ok(response) if poller.report_batch_item_failures => {
            response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
        }
        Ok(_) => Vec::new(),
        // A failed invocation returns the whole batch to the queue, as in AWS.
        Err(e) => {
            tracing::error!(function = %poller.function, error = %e, "invocation failed; batch returns to the queue");
            messages.iter().filter_map(|m| m.message_id().map(str::to_string)).collect()
        }
    };
    let done: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .filter(|m| !failed.iter().any(|f| Some(f.as_str()) == m.message_id()))
        .enumerate()
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(m.receipt_handle()?).build().ok()
        })
        .collect();
    if !done.is_empty() {
        let out =
            sqs.delete_message_batch().queue_url(&poller.queue_url).set_entries(Some(done.clone())).send().await?;
        if !out.failed().is_empty() {
            // A handled message that stays on the queue comes back after the visibility timeout.
            for failure in out.failed() {
                tracing::warn!(function = %poller.function, id = failure.id(), code = failure.code(), message = ?failure.message(), "a handled message was not deleted");
            }
        }
    }
    Ok(messages.len())
}

/// Runs one polling loop per instance (`poller.concurrency` of them) until the task is dropped.
/// Lambda runs each concurrent invocation in an execution environment of its own, with its own
/// warm state (the sender's pacer and caches), so each loop has its own functions.
pub async fn run(sqs: aws_sdk_sqs::Client, instances: Vec<Arc<Functions>>, poller: Poller) {
    let mut loops = Vec::new();
    for functions in instances {
        let (sqs, poller) = (sqs.clone(), poller.clone());
        loops.push(tokio::spawn(async move {
            loop {
                if let Err(e) = poll_once(&sqs, &functions, &poller).await {
                    tracing::warn!(function = %poller.function, error = %e, "polling failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }));
    }
    futures::future::join_all(loops).await;
}
