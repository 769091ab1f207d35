//! A record of every request the local gateway routed and what it answered, one JSON line
//! each, when `FANMAIL_RECORD_EXCHANGES` names a directory: `make test` checks every recorded
//! request and response against the OpenAPI description (`scripts/check-openapi.py`).

use std::io::Write;
use std::sync::Mutex;

use serde_json::json;

/// The environment variable naming the directory.
pub const RECORD_EXCHANGES: &str = "FANMAIL_RECORD_EXCHANGES";

pub struct Exchanges {
    file: Mutex<std::fs::File>,
}

/// One routed request and its answer.
pub struct Exchange<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub route_key: &'a str,
    pub query: &'a str,
    pub request_content_type: Option<&'a str>,
    pub request_body: &'a [u8],
    pub status: u16,
    pub response_content_type: Option<&'a str>,
    pub response_body: &'a [u8],
}

impl Exchanges {
    /// A file of its own in the directory the environment names (each test process runs
    /// gateways of its own), or `None` when it names none.
    pub fn from_env(port: u16) -> Option<Self> {
        let dir = std::env::var_os(RECORD_EXCHANGES)?;
        std::fs::create_dir_all(&dir).ok()?;
        let name = format!("exchanges-{}-{port}.jsonl", std::process::id());
        let file = std::fs::OpenOptions::new().create(true).append(true).open(std::path::Path::new(&dir).join(name));
        match file {
            Ok(file) => Some(Self { file: Mutex::new(file) }),
            Err(e) => {
                tracing::warn!(error = %e, "exchanges are not recorded");
                None
            }
        }
    }

    pub fn record(&self, exchange: &Exchange<'_>) {
        let line = json!({
            "method": exchange.method,
            "path": exchange.path,
            "routeKey": exchange.route_key,
            "query": exchange.query,
            "requestContentType": exchange.request_content_type,
            "requestBody": String::from_utf8_lossy(exchange.request_body),
            "status": exchange.status,
            "responseContentType": exchange.response_content_type,
            "responseBody": String::from_utf8_lossy(exchange.response_body),
        });
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "{line}");
    }
}
