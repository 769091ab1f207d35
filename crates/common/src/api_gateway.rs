//! HTTP API (payload v2) requests and responses: JSON bodies, and the one place where errors
//! become status codes. Error bodies are `{"error":{"code","message"}}`; internal details are
//! logged, never returned.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use http::header::{HeaderValue, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::ports::{ObjectStoreError, QueueError, SchedulerError};
use crate::store::StoreError;

/// An error answered to an API client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, code: code.into(), message: message.into() }
    }
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }
    /// A fault of ours or of a dependency: logged in full, answered without detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(500, "internal", "internal error; see the function's logs")
    }
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "dependency unavailable");
        Self::new(503, "unavailable", "a dependency is busy or unavailable; retry shortly")
    }

    pub fn into_response(self) -> ApiGatewayV2httpResponse {
        json_response(self.status, &serde_json::json!({ "error": { "code": self.code, "message": self.message } }))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Self::not_found(format!("{what} does not exist")),
            StoreError::AlreadyExists(what) => Self::conflict(format!("{what} already exists")),
            StoreError::Conflict { current } => Self::new(409, "conflict", format!("current status is '{current}'")),
            StoreError::BadCursor => {
                Self::bad_request("bad_cursor", "the 'cursor' parameter is not one this API issued")
            }
            e @ (StoreError::Throttled | StoreError::Unavailable(_)) => Self::unavailable(e),
            e @ (StoreError::Corrupt(_) | StoreError::Refused(_)) => Self::internal(e),
        }
    }
}

/// Only a fault that may pass is a 503 ("retry shortly"); one that will not is a 500.
impl From<QueueError> for ApiError {
    fn from(err: QueueError) -> Self {
        if err.retryable() {
            Self::unavailable(err)
        } else {
            Self::internal(err)
        }
    }
}

impl From<SchedulerError> for ApiError {
    fn from(err: SchedulerError) -> Self {
        match err {
            SchedulerError::NotFound(name) => Self::not_found(format!("schedule {name} does not exist")),
            SchedulerError::AlreadyExists(name) => Self::conflict(format!("schedule {name} already exists")),
            e if e.retryable() => Self::unavailable(e),
            e => Self::internal(e),
        }
    }
}

impl From<ObjectStoreError> for ApiError {
    fn from(err: ObjectStoreError) -> Self {
        match err {
            ObjectStoreError::NotFound(key) => Self::not_found(format!("{key} does not exist")),
            e if e.retryable() => Self::unavailable(e),
            e => Self::internal(e),
        }
    }
}

/// A JSON response.
pub fn json_response<T: Serialize>(status: u16, body: &T) -> ApiGatewayV2httpResponse {
    let text = serde_json::to_string(body).expect("API bodies serialise");
    response(status, "application/json", text)
}

/// A response without a body (204 No Content).
pub fn empty_response(status: u16) -> ApiGatewayV2httpResponse {
    let mut res = ApiGatewayV2httpResponse::default();
    res.status_code = i64::from(status);
    res
}

/// A response with any content type.
pub fn response(status: u16, content_type: &str, body: String) -> ApiGatewayV2httpResponse {
    let mut res = ApiGatewayV2httpResponse::default();
    res.status_code = i64::from(status);
    res.headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).expect("static content types are valid"));
    res.body = Some(Body::Text(body));
    res
}

/// The largest request body an API route reads (API Gateway's own limit is 10 MB).
pub const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// Read-side helpers over the API Gateway request.
pub trait RequestExt {
    /// `METHOD /path/{param}` as API Gateway matched it.
    fn route(&self) -> &str;
    fn path_param(&self, name: &str) -> Option<&str>;
    fn query(&self, name: &str) -> Option<&str>;
    fn header(&self, name: &str) -> Option<&str>;
    fn body_bytes(&self) -> Result<Vec<u8>, ApiError>;
    fn json_body<T: DeserializeOwned>(&self) -> Result<T, ApiError>;
    /// Who is calling: the IAM principal ARN API Gateway's IAM authorizer verified (`local`
    /// under the local runner), or `unknown` on a route without authorization.
    fn caller(&self) -> String;
}

impl RequestExt for ApiGatewayV2httpRequest {
    fn route(&self) -> &str {
        self.route_key.as_deref().or(self.request_context.route_key.as_deref()).unwrap_or_default()
    }

    fn path_param(&self, name: &str) -> Option<&str> {
        self.path_parameters.get(name).map(String::as_str)
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query_string_parameters.first(name)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn body_bytes(&self) -> Result<Vec<u8>, ApiError> {
        let Some(body) = self.body.as_deref() else {
            return Ok(Vec::new());
        };
        let bytes = if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .map_err(|_| ApiError::bad_request("bad_body", "the body is marked base64 but does not decode"))?
        } else {
            body.as_bytes().to_vec()
        };
        if bytes.len() > MAX_REQUEST_BODY {
            return Err(ApiError::new(413, "body_too_large", format!("the body is over {MAX_REQUEST_BODY} bytes")));
        }
        Ok(bytes)
    }

    fn json_body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        let bytes = self.body_bytes()?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request("missing_body", "this route needs a JSON body"));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request("invalid_json", format!("the JSON body is not valid: {e}")))
    }

    fn caller(&self) -> String {
        self.request_context
            .authorizer
            .as_ref()
            .and_then(|a| a.iam.as_ref())
            .and_then(|iam| iam.user_arn.clone())
            .filter(|arn| !arn.is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: Option<&str>, base64: bool) -> ApiGatewayV2httpRequest {
        let mut req = ApiGatewayV2httpRequest::default();
        req.body = body.map(str::to_string);
        req.is_base64_encoded = base64;
        req
    }

    #[test]
    fn errors_have_the_documented_json_shape() {
        let res = ApiError::bad_request("missing_field", "field 'x' is required").into_response();
        assert_eq!(res.status_code, 400);
        let Some(Body::Text(text)) = res.body else { panic!("text body") };
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["error"]["code"], "missing_field");
        assert_eq!(json["error"]["message"], "field 'x' is required");
    }

    #[test]
    fn store_errors_map_to_status_codes() {
        assert_eq!(ApiError::from(StoreError::NotFound("campaign c1".into())).status, 404);
        assert_eq!(
            ApiError::from(StoreError::Conflict { current: crate::domain::RecipientStatus::Sending.into() }).status,
            409
        );
        assert_eq!(ApiError::from(StoreError::BadCursor).status, 400);
        assert_eq!(ApiError::from(StoreError::Throttled).status, 503);
        assert_eq!(ApiError::from(StoreError::Corrupt("x".into())).status, 500);
    }

    #[test]
    fn queue_scheduler_and_object_store_errors_map_by_their_kind() {
        let too_large = QueueError::TooLarge { id: "m".into(), size: 300_000, limit: 262_144 };
        assert_eq!(ApiError::from(too_large).status, 500, "a message that will never fit is no reason to retry");
        assert_eq!(ApiError::from(QueueError::Throttled).status, 503);
        assert_eq!(
            ApiError::from(QueueError::Partial { failed_ids: vec!["m".into()], reason: "x".into() }).status,
            503
        );
        assert_eq!(ApiError::from(SchedulerError::Invalid("bad role".into())).status, 500);
        assert_eq!(ApiError::from(SchedulerError::Unavailable("x".into())).status, 503);
        assert_eq!(ApiError::from(SchedulerError::NotFound("s".into())).status, 404);
        assert_eq!(ApiError::from(SchedulerError::AlreadyExists("s".into())).status, 409);
        assert_eq!(ApiError::from(ObjectStoreError::NotFound("lists/x.csv".into())).status, 404);
        assert_eq!(ApiError::from(ObjectStoreError::Refused("AccessDenied".into())).status, 500);
        assert_eq!(ApiError::from(ObjectStoreError::Throttled).status, 503);
    }

    #[test]
    fn json_bodies_are_decoded_plain_or_base64_and_bad_ones_named() {
        #[derive(serde::Deserialize)]
        struct Body {
            a: u32,
        }
        assert_eq!(request(Some(r#"{"a":1}"#), false).json_body::<Body>().unwrap().a, 1);
        assert_eq!(request(Some("eyJhIjoyfQ=="), true).json_body::<Body>().unwrap().a, 2);
        let err = request(Some(r#"{"b":1}"#), false).json_body::<Body>().err().unwrap();
        assert_eq!(err.code, "invalid_json");
        assert!(err.message.contains("missing field `a`"), "{}", err.message);
        assert_eq!(request(None, false).json_body::<Body>().err().unwrap().code, "missing_body");
    }
}
