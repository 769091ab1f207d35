//! A small client for the local API and presigned uploads, used by the end-to-end tests and the
//! bench to drive fanmail the way a user's script would.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub struct ApiClient {
    base: String,
    http: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl ApiClient {
    pub fn new(base: impl Into<String>) -> Self {
        Self { base: base.into(), http: Client::builder(TokioExecutor::new()).build_http() }
    }

    /// The base URL calls go to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Any HTTP request; returns status and body.
    pub async fn raw(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>)> {
        let mut request = http::Request::builder().method(method).uri(url);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .http
            .request(request.body(Full::new(Bytes::from(body)))?)
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status().as_u16();
        Ok((status, response.into_body().collect().await?.to_bytes().to_vec()))
    }

    /// A JSON call to the API; returns status and JSON (Null for an empty body).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<(u16, Value)> {
        let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let (status, bytes) =
            self.raw(method, &format!("{}{path}", self.base), &[("content-type", "application/json")], body).await?;
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).context("API answered non-JSON")?
        };
        Ok((status, json))
    }

    /// Asks for a presigned upload of a CSV list and PUTs `bytes` to it; returns the object key.
    pub async fn upload_list(&self, bytes: &[u8]) -> Result<String> {
        self.upload_list_as(bytes, "text/csv").await
    }

    /// The same for a list of another content type (TSV, an Excel workbook).
    pub async fn upload_list_as(&self, bytes: &[u8], content_type: &str) -> Result<String> {
        let request = serde_json::json!({"kind": "list", "contentType": content_type, "size": bytes.len()});
        let (status, upload) = self.call("POST", "/uploads", Some(request)).await?;
        if status != 201 {
            bail!("POST /uploads answered {status}: {upload}");
        }
        let headers: Vec<(String, String)> = upload["headers"]
            .as_object()
            .context("upload headers")?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let url = upload["uploadUrl"].as_str().context("upload URL")?;
        let (status, body) = self.raw("PUT", url, &headers, bytes.to_vec()).await?;
        if status != 200 {
            bail!("PUT to the presigned URL answered {status}: {}", String::from_utf8_lossy(&body));
        }
        Ok(upload["key"].as_str().context("upload key")?.to_string())
    }

    /// Polls a campaign until it reaches a final status; returns its last state.
    pub async fn wait_for_campaign(&self, id: &str, timeout: Duration) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, campaign) = self.call("GET", &format!("/campaigns/{id}"), None).await?;
            if status != 200 {
                bail!("GET /campaigns/{id} answered {status}: {campaign}");
            }
            if matches!(campaign["status"].as_str(), Some("completed" | "failed" | "cancelled" | "missed")) {
                return Ok(campaign);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("campaign {id} did not finish in {timeout:?}: {campaign}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every item of a paginated listing.
    pub async fn all_pages(&self, path: &str) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let separator = if path.contains('?') { '&' } else { '?' };
            let page_path = match &cursor {
                Some(c) => format!("{path}{separator}limit=500&cursor={c}"),
                None => format!("{path}{separator}limit=500"),
            };
            let (status, page) = self.call("GET", &page_path, None).await?;
            if status != 200 {
                bail!("GET {page_path} answered {status}: {page}");
            }
            items.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["nextCursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(items),
            }
        }
    }
}
