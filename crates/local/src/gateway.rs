//! Plays API Gateway (HTTP API, payload format 2.0): matches the template's routes, builds the
//! same event a function receives in AWS, and turns its response back into HTTP.
//!
//! Local difference: IAM authorization is not checked (requests need no SigV4 signature).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use bytes::Bytes;
use fanmail_common::ports::Clock;
use fanmail_common::system::SystemClock;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

use crate::exchanges::{Exchange, Exchanges};
use crate::functions::Functions;
use crate::invoke::InvokeError;
use crate::template::HttpRoute;

/// A route and the path parameters it captured.
pub fn match_route<'a>(
    routes: &'a [HttpRoute],
    method: &str,
    path: &str,
) -> Option<(&'a HttpRoute, BTreeMap<String, String>)> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    routes.iter().filter(|r| r.method == method || r.method == "ANY").find_map(|route| {
        let pattern: Vec<&str> = route.path.trim_end_matches('/').split('/').collect();
        if pattern.len() != segments.len() {
            return None;
        }
        let mut params = BTreeMap::new();
        for (p, s) in pattern.iter().zip(&segments) {
            if let Some(name) = p.strip_prefix('{').and_then(|n| n.strip_suffix('}')) {
                if s.is_empty() {
                    return None;
                }
                params.insert(name.to_string(), percent_decode(s));
            } else if p != s {
                return None;
            }
        }
        Some((route, params))
    })
}

/// Decodes `%XX` escapes (API Gateway hands path and query parameters over decoded).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP request as it reached the gateway.
#[derive(Debug, Clone)]
pub struct IncomingRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub host: String,
    pub peer: SocketAddr,
}

/// The payload-2.0 event API Gateway would send for this request on `route`.
pub fn build_event(
    route: &HttpRoute,
    params: BTreeMap<String, String>,
    request: &IncomingRequest,
) -> Result<ApiGatewayV2httpRequest> {
    let IncomingRequest { method, path, query, headers, body, host, peer } = request;
    let mut header_map = Map::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        let joined = match header_map.get(&name).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{value}"),
            None => value.clone(),
        };
        header_map.insert(name, Value::String(joined));
    }
    let mut query_map = Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        let joined = match query_map.get(&k).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{v}"),
            None => v,
        };
        query_map.insert(k, Value::String(joined));
    }
    let now = SystemClock.now();
    let (body_text, is_base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (None, false),
        Ok(text) => (Some(text.to_string()), false),
        Err(_) => (Some(base64::engine::general_purpose::STANDARD.encode(body)), true),
    };
    let route_key = route.route_key();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": header_map,
        "requestContext": {
            "accountId": crate::resolve::ACCOUNT_ID,
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or(host.as_str()),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": header_map.get("user-agent").cloned().unwrap_or(Value::String(String::new())),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format(&time::format_description::well_known::Rfc2822).unwrap_or_default(),
            "timeEpoch": now.unix_timestamp() * 1000,
        },
        "isBase64Encoded": is_base64,
    });
    if !route.public {
        // What API Gateway's IAM authorizer adds; locally nobody signs, so the caller is "local".
        event["requestContext"]["authorizer"] =
            json!({"iam": {"accountId": crate::resolve::ACCOUNT_ID, "userArn": "local", "userId": "local"}});
    }
    if !query_map.is_empty() {
        event["queryStringParameters"] = Value::Object(query_map);
    }
    if !params.is_empty() {
        event["pathParameters"] = serde_json::to_value(params)?;
    }
    if let Some(text) = body_text {
        event["body"] = Value::String(text);
    }
    Ok(serde_json::from_value(event)?)
}

fn body_bytes(response: &ApiGatewayV2httpResponse) -> Vec<u8> {
    match &response.body {
        Some(Body::Text(text)) if response.is_base64_encoded => {
            base64::engine::general_purpose::STANDARD.decode(text).unwrap_or_default()
        }
        Some(Body::Text(text)) => text.clone().into_bytes(),
        Some(Body::Binary(bytes)) => bytes.clone(),
        _ => Vec::new(),
    }
}

fn to_http(response: ApiGatewayV2httpResponse) -> Response<Full<Bytes>> {
    let body = body_bytes(&response);
    let mut builder = Response::builder().status(u16::try_from(response.status_code).unwrap_or(502));
    for (name, value) in response.headers.iter() {
        builder = builder.header(name, value);
    }
    for cookie in response.cookies {
        builder = builder.header("set-cookie", cookie);
    }
    builder.body(Full::new(Bytes::from(body))).expect("valid response parts")
}

fn plain(status: u16, message: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(json!({ "message": message }).to_string())))
        .expect("valid response parts")
}

struct Gateway {
    functions: Arc<Functions>,
    routes: Vec<HttpRoute>,
    exchanges: Option<Exchanges>,
}

impl Gateway {
    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        let method = request.method().as_str().to_string();
        let path = request.uri().path().to_string();
        let Some((route, params)) = match_route(&self.routes, &method, &path) else {
            // API Gateway's own answer to an unmatched route.
            return plain(404, "Not Found");
        };
        let mut incoming = IncomingRequest {
            method,
            path,
            query: request.uri().query().unwrap_or_default().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: Vec::new(),
            host: request.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("localhost").to_string(),
            peer,
        };
        incoming.body = match request.into_body().collect().await {
            Ok(collected) => collected.to_bytes().to_vec(),
            Err(_) => return plain(400, "could not read the request body"),
        };
        if incoming.body.len() > 10 * 1024 * 1024 {
            return plain(413, "Request Entity Too Large");
        }
        let event = match build_event(route, params, &incoming) {
            Ok(event) => event,
            Err(e) => return plain(400, &format!("bad request: {e}")),
        };
        match self.functions.http(&route.function, event).await {
            Ok(response) => {
                if let Some(exchanges) = &self.exchanges {
                    let request_type =
                        incoming.headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str());
                    exchanges.record(&Exchange {
                        method: &incoming.method,
                        path: &incoming.path,
                        route_key: &route.route_key(),
                        query: &incoming.query,
                        request_content_type: request_type,
                        request_body: &incoming.body,
                        status: u16::try_from(response.status_code).unwrap_or(502),
                        response_content_type: response.headers.get("content-type").and_then(|v| v.to_str().ok()),
                        response_body: &body_bytes(&response),
                    });
                }
                to_http(response)
            }
            // HTTP APIs answer an integration that runs out of time with 503.
            Err(InvokeError::TimedOut { .. }) => plain(503, "Service Unavailable"),
            Err(e) => {
                tracing::error!(function = %route.function, error = %e, "function failed");
                plain(500, "Internal Server Error")
            }
        }
    }
}

/// Serves the routes on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, functions: Arc<Functions>, routes: Vec<HttpRoute>) -> Result<()> {
    let exchanges = Exchanges::from_env(listener.local_addr()?.port());
    let gateway = Arc::new(Gateway { functions, routes, exchanges });
    loop {
        let (stream, peer) = listener.accept().await?;
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let gateway = gateway.clone();
                async move { Ok::<_, Infallible>(gateway.handle(request, peer).await) }
            });
            if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Vec<HttpRoute> {
        vec![
            HttpRoute { function: "Api".into(), method: "GET".into(), path: "/campaigns/{id}".into(), public: false },
            HttpRoute {
                function: "Api".into(),
                method: "GET".into(),
                path: "/campaigns/{id}/recipients".into(),
                public: false,
            },
            HttpRoute { function: "Api".into(), method: "GET".into(), path: "/health".into(), public: true },
        ]
    }

    #[test]
    fn routes_match_with_their_path_parameters() {
        let routes = routes();
        let (route, params) = match_route(&routes, "GET", "/campaigns/c%2D1/recipients").unwrap();
        assert_eq!(route.route_key(), "GET /campaigns/{id}/recipients");
        assert_eq!(params["id"], "c-1");
        assert!(match_route(&routes, "POST", "/health").is_none());
        assert!(match_route(&routes, "GET", "/campaigns/").is_none());
        assert!(match_route(&routes, "GET", "/nope").is_none());
    }

    #[test]
    fn the_event_has_api_gateways_shape() {
        let routes = routes();
        let (route, params) = match_route(&routes, "GET", "/campaigns/c1").unwrap();
        let request = IncomingRequest {
            method: "GET".into(),
            path: "/campaigns/c1".into(),
            query: "status=sent&x=%20y".into(),
            headers: vec![("X-Thing".to_string(), "a".to_string()), ("x-thing".to_string(), "b".to_string())],
            body: Vec::new(),
            host: "127.0.0.1:3000".into(),
            peer: "127.0.0.1:5000".parse().unwrap(),
        };
        let event = build_event(route, params, &request).unwrap();
        assert_eq!(event.route_key.as_deref(), Some("GET /campaigns/{id}"));
        assert_eq!(event.request_context.http.method, http::Method::GET);
        assert_eq!(event.path_parameters["id"], "c1");
        assert_eq!(event.query_string_parameters.first("x"), Some(" y"));
        assert_eq!(event.headers["x-thing"], "a,b");
        assert!(event.body.is_none());
    }
}
