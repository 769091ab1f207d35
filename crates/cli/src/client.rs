//! The API as a user's own code reaches it: JSON over HTTPS (HTTP locally), each request
//! signed with SigV4 when the API is in AWS.

use std::path::Path;
use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use bytes::Bytes;
use futures::TryStreamExt;
use http::{Method, Request, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use indicatif::ProgressBar;
use serde_json::Value;

use fanmail_common::aws::describe;
use fanmail_common::ports::Clock;
use fanmail_common::system::SystemClock;

use crate::sigv4::{sign_request, EXECUTE_API};
use crate::CliError;

type Body = BoxBody<Bytes, std::io::Error>;

/// Signs requests for an API in AWS.
#[derive(Clone)]
pub struct Signer {
    pub credentials: aws_credential_types::provider::SharedCredentialsProvider,
    pub region: String,
}

#[derive(Clone)]
pub struct Api {
    base: String,
    http: Client<HttpsConnector<HttpConnector>, Body>,
    signer: Option<Signer>,
}

impl Api {
    pub fn new(base: &str, signer: Option<Signer>) -> Result<Self, CliError> {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| CliError::Input(format!("no TLS root certificates: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let http = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { base: base.trim_end_matches('/').to_string(), http, signer })
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// One JSON request; the API's JSON answer, or its error as [`CliError::Api`].
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let url = format!("{}{path}", self.base);
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let mut request = Request::builder().method(method).uri(&url);
        if body.is_some() {
            request = request.header(http::header::CONTENT_TYPE, "application/json");
        }
        let mut request = request.body(bytes).map_err(|e| CliError::Input(format!("'{url}' is not a URL: {e}")))?;
        if let Some(signer) = &self.signer {
            let credentials = signer
                .credentials
                .provide_credentials()
                .await
                .map_err(|e| CliError::Input(format!("no AWS credentials to sign the request with: {e}")))?;
            sign(&mut request, &credentials, &signer.region)?;
        }
        let request = request.map(|b| Full::new(b).map_err(|never| match never {}).boxed());
        let response = self
            .http
            .request(request)
            .await
            .map_err(|e| CliError::Unreachable { url: self.base.clone(), reason: describe(&e) })?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| CliError::Unreachable { url: self.base.clone(), reason: e.to_string() })?
            .to_bytes();
        answer(status, &body)
    }

    /// Uploads `file` to a presigned URL, the bar counting bytes.
    pub async fn upload(
        &self,
        url: &str,
        headers: &serde_json::Map<String, Value>,
        file: &Path,
        bar: &ProgressBar,
    ) -> Result<(), CliError> {
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|e| CliError::Input(format!("cannot read {}: {e}", file.display())))?;
        let size = opened.metadata().await.map_err(|e| CliError::Input(e.to_string()))?.len();
        let progress = bar.clone();
        let stream = tokio_util::io::ReaderStream::with_capacity(opened, 64 * 1024).map_ok(move |chunk| {
            progress.inc(chunk.len() as u64);
            Frame::data(chunk)
        });
        let mut request = Request::builder().method(Method::PUT).uri(url).header(http::header::CONTENT_LENGTH, size);
        for (name, value) in headers {
            if let Some(value) = value.as_str() {
                request = request.header(name.as_str(), value);
            }
        }
        let request = request
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .map_err(|e| CliError::Input(format!("the upload URL is not valid: {e}")))?;
        let response = self.http.request(request).await.map_err(|e| CliError::Unreachable {
            url: url.split('?').next().unwrap_or(url).into(),
            reason: describe(&e),
        })?;
        let status = response.status();
        if !status.is_success() {
            let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(CliError::Failed(format!(
                "the upload was refused (HTTP {status}): {}",
                String::from_utf8_lossy(&body).chars().take(300).collect::<String>()
            )));
        }
        Ok(())
    }
}

fn sign(request: &mut Request<Bytes>, credentials: &Credentials, region: &str) -> Result<(), CliError> {
    // Signatures carry the time; it comes through the Clock port like every other read of it.
    let now = SystemTime::from(SystemClock.now());
    sign_request(request, credentials, region, EXECUTE_API, now)
        .map_err(|e| CliError::Input(format!("the request cannot be signed: {e}")))
}

/// The API's JSON, or its `{"error": {"code", "message"}}` as an error.
fn answer(status: StatusCode, body: &[u8]) -> Result<Value, CliError> {
    let json: Value = if body.is_empty() { Value::Null } else { serde_json::from_slice(body).unwrap_or(Value::Null) };
    if status.is_success() {
        return Ok(json);
    }
    let code = json["error"]["code"].as_str().unwrap_or("http_error").to_string();
    let message = json["error"]["message"]
        .as_str()
        .map(str::to_string)
        .or_else(|| json["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect());
    Err(CliError::Api { status: status.as_u16(), code, message })
}
