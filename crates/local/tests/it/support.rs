//! Shared set-up: a freshly provisioned stack per test, and a small HTTP client.

use aws_config::SdkConfig;
use bytes::Bytes;
use fanmail_local::provision::Stack;
use fanmail_local::{load_template, LocalEndpoints};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub fn endpoints() -> LocalEndpoints {
    // Logs show up in the output of a failing test.
    fanmail_common::telemetry::init_local();
    LocalEndpoints::from_env().expect("run integration tests with `make test`, which starts the local AWS stack")
}

/// A stack name no other test uses (physical names are prefixed with it).
pub fn unique_name() -> String {
    format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Provisions a fresh stack from template.yaml.
pub async fn stack() -> (SdkConfig, Stack) {
    let sdk = endpoints().sdk_config().await;
    let stack = Stack::provision(&sdk, load_template().unwrap(), &unique_name()).await.unwrap();
    (sdk, stack)
}

/// A provisioned stack and its functions, with no pollers running (the test drives them).
pub async fn functions_only() -> (SdkConfig, Stack, fanmail_local::functions::Functions) {
    let (sdk, stack) = stack().await;
    let overrides = fanmail_local::local_overrides(&stack, &endpoints(), "http://127.0.0.1:3000").unwrap();
    let functions = fanmail_local::functions::Functions::build(&sdk, &stack, &overrides).await.unwrap();
    (sdk, stack, functions)
}

/// `sdk`, counting the messages sent to each queue named (by logical id, as the stack's
/// physical names end): one counter per name, in order.
pub fn counting_sends(
    sdk: &SdkConfig,
    queues: &[&'static str],
) -> (SdkConfig, Vec<std::sync::Arc<std::sync::atomic::AtomicUsize>>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let counters: Vec<Arc<AtomicUsize>> = queues.iter().map(|_| Arc::new(AtomicUsize::new(0))).collect();
    let (names, counts) = (queues.to_vec(), counters.clone());
    let sdk = fanmail_local::metering::observed(
        sdk,
        Arc::new(move |request| {
            let target = request.headers().get("x-amz-target").unwrap_or_default();
            if !target.starts_with("AmazonSQS.SendMessage") {
                return;
            }
            let body = request.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
            for (name, count) in names.iter().zip(&counts) {
                if body.contains(&format!("-{name}\"")) {
                    count.fetch_add(body.matches("\"MessageBody\"").count(), Ordering::Relaxed);
                }
            }
        }),
    );
    (sdk, counters)
}

pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

pub async fn http(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> HttpResponse {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = client.request(request.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
    HttpResponse { status, body }
}
