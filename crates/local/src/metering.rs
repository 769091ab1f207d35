//! Counts the AWS API calls a run makes, by service and operation, by wrapping the SDK's HTTP
//! client: every client built from the metered `SdkConfig` (all the functions' clients) goes
//! through it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// Calls seen so far, keyed by (service, operation).
#[derive(Debug, Clone, Default)]
pub struct CallCounts(Arc<Mutex<BTreeMap<(String, String), u64>>>);

impl CallCounts {
    pub fn snapshot(&self) -> BTreeMap<(String, String), u64> {
        self.0.lock().unwrap().clone()
    }

    pub fn by_service(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((service, _), n) in self.snapshot() {
            *out.entry(service).or_default() += n;
        }
        out
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    pub fn reset(&self) {
        self.0.lock().unwrap().clear();
    }

    fn record(&self, request: &HttpRequest) {
        let key = classify(request);
        *self.0.lock().unwrap().entry(key).or_default() += 1;
    }
}

/// The service a request is signed for, from its SigV4 credential scope (`unsigned` if none).
pub fn signing_service(request: &HttpRequest) -> String {
    request
        .headers()
        .get("authorization")
        .and_then(|auth| auth.split("Credential=").nth(1))
        .and_then(|credential| credential.split('/').nth(3))
        .unwrap_or("unsigned")
        .to_string()
}

/// (service, operation) of a signed request: the service from the SigV4 credential scope, the
/// operation from `x-amz-target` (JSON protocols) or the method and path (REST protocols).
fn classify(request: &HttpRequest) -> (String, String) {
    let headers = request.headers();
    let service = signing_service(request);
    let operation = match headers.get("x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_string(),
        None => {
            let path = request.uri().split("://").nth(1).and_then(|rest| rest.split_once('/')).map_or("", |(_, p)| p);
            let path = path.split('?').next().unwrap_or_default();
            let shape: Vec<&str> = path.split('/').take(3).collect();
            format!("{} /{}", request.method(), shape.join("/"))
        }
    };
    (service, operation)
}

/// Shown every request an SDK client sends, before it is sent: true lets it go, false fails
/// it as a dropped connection would (the SDK's own retries see the same answer).
pub type Gate = Arc<dyn Fn(&HttpRequest) -> bool + Send + Sync>;

/// Something shown every request an SDK client sends.
pub type Observer = Arc<dyn Fn(&HttpRequest) + Send + Sync>;

struct GatedClient {
    inner: SharedHttpClient,
    gate: Gate,
}

impl std::fmt::Debug for GatedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedClient").finish_non_exhaustive()
    }
}

impl HttpClient for GatedClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(GatedConnector {
            inner: self.inner.http_connector(settings, components),
            gate: self.gate.clone(),
        })
    }
}

struct GatedConnector {
    inner: SharedHttpConnector,
    gate: Gate,
}

impl std::fmt::Debug for GatedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedConnector").finish_non_exhaustive()
    }
}

impl HttpConnector for GatedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if !(self.gate)(&request) {
            let dropped = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection dropped by the test");
            return HttpConnectorFuture::ready(Err(ConnectorError::io(dropped.into())));
        }
        self.inner.call(request)
    }
}

/// The same configuration, every request made through it shown to `gate` first. The local
/// endpoints are plain HTTP on loopback, so the client needs no TLS.
pub fn gated(sdk: &SdkConfig, gate: Gate) -> SdkConfig {
    let inner = sdk.http_client().unwrap_or_else(|| aws_smithy_http_client::Builder::new().build_http());
    sdk.to_builder().http_client(GatedClient { inner, gate }).build()
}

/// The same configuration, showing `observer` every request made through it before it is sent.
pub fn observed(sdk: &SdkConfig, observer: Observer) -> SdkConfig {
    gated(
        sdk,
        Arc::new(move |request| {
            observer(request);
            true
        }),
    )
}

/// The same configuration, counting every call made through it.
pub fn metered(sdk: &SdkConfig) -> Result<(SdkConfig, CallCounts)> {
    let counts = CallCounts::default();
    let recorder = counts.clone();
    Ok((observed(sdk, Arc::new(move |request| recorder.record(request))), counts))
}
