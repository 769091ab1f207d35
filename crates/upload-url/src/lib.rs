//! `POST /uploads`: presigned S3 uploads for recipient lists (CSV, TSV, Excel `.xlsx`) and
//! images.
//!
//! The client names what it uploads (`kind`, `contentType`, `size`); the key is random and
//! namespaced (`lists/<id>.csv|.tsv|.xlsx`, `images/<id>.<ext>`) so a client's filename never becomes a
//! path. Content type and length are part of the signature, so the upload cannot be larger or
//! of another type than declared.

use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::ports::{Clock, IdGenerator, ObjectStore};
use fanmail_common::recipient_list::XLSX_CONTENT_TYPE;
use fanmail_common::system::{RandomIds, SystemClock};
use fanmail_common::wiring::{AwsAdapters, AwsPorts, MemoryAdapters, MemoryPorts, Ports};
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};

/// How long a presigned upload stays valid.
pub const UPLOAD_EXPIRY: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub bucket: String,
    pub max_csv_bytes: u64,
    pub max_image_bytes: u64,
    /// Public base URL images are served from (CloudFront in AWS).
    pub images_base_url: String,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            bucket: env.required(vars::UPLOAD_BUCKET)?,
            max_csv_bytes: env.parsed(vars::UPLOAD_MAX_CSV_BYTES, 512 * 1024 * 1024)?,
            max_image_bytes: env.parsed(vars::UPLOAD_MAX_IMAGE_BYTES, 5 * 1024 * 1024)?,
            images_base_url: env.required(vars::IMAGES_BASE_URL)?.trim_end_matches('/').to_string(),
        })
    }
}

pub struct Deps<P: Ports> {
    pub store: P::Objects,
    pub ids: P::Ids,
    /// When the upload URL is signed, and so when it expires.
    pub clock: P::Clock,
    pub config: Config,
}

impl Deps<AwsPorts> {
    /// The production wiring, shared by `main.rs` and the local runner.
    pub fn aws(aws: &AwsAdapters, config: Config) -> Self {
        Self { store: aws.objects(&config.bucket), ids: RandomIds, clock: SystemClock, config }
    }
}

impl Deps<MemoryPorts> {
    /// Wired to one in-memory world.
    pub fn memory(world: &MemoryAdapters, config: Config) -> Self {
        Self { store: world.objects.clone(), ids: world.ids.clone(), clock: world.clock.clone(), config }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum UploadKind {
    List,
    Image,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UploadRequest {
    kind: UploadKind,
    content_type: String,
    /// Exact size in bytes of the file to upload.
    size: u64,
    /// Informational only; never used in the key.
    #[serde(default)]
    #[allow(dead_code)]
    filename: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UploadResponse {
    key: String,
    upload_url: String,
    method: String,
    /// Headers to send with the upload exactly as given.
    headers: std::collections::BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: time::OffsetDateTime,
    max_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
}

/// The key extension of a list by its content type: it tells the splitter how to read it.
fn list_extension(content_type: &str) -> Option<&'static str> {
    match content_type {
        // Windows browsers name a .csv file after the program that opens it.
        "text/csv" | "application/csv" | "application/vnd.ms-excel" => Some("csv"),
        "text/tab-separated-values" => Some("tsv"),
        XLSX_CONTENT_TYPE => Some("xlsx"),
        _ => None,
    }
}

fn image_extension(content_type: &str) -> Option<&'static str> {
    match content_type {
        "image/png" => Some("png"),
        "image/jpeg" => Some("jpg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

pub async fn handler<P: Ports>(
    deps: &Deps<P>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    let request = event.payload;
    let result = match request.route() {
        "POST /uploads" => create_upload(deps, &request).await,
        other => Err(ApiError::not_found(format!("no route '{other}'"))),
    };
    Ok(result.unwrap_or_else(ApiError::into_response))
}

async fn create_upload<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let body: UploadRequest = request.json_body()?;
    let content_type = body.content_type.trim().to_ascii_lowercase();
    let id = deps.ids.new_id();
    let (key, max_bytes) = match body.kind {
        UploadKind::List => {
            let ext = list_extension(&content_type).ok_or_else(|| {
                ApiError::bad_request(
                    "unsupported_content_type",
                    format!(
                        "a recipient list must be text/csv, text/tab-separated-values or an Excel workbook \
                         ({XLSX_CONTENT_TYPE}), not '{content_type}'"
                    ),
                )
            })?;
            (format!("lists/{id}.{ext}"), deps.config.max_csv_bytes)
        }
        UploadKind::Image => {
            let ext = image_extension(&content_type).ok_or_else(|| {
                ApiError::bad_request(
                    "unsupported_content_type",
                    format!("an image must be image/png, image/jpeg, image/gif or image/webp, not '{content_type}'"),
                )
            })?;
            (format!("images/{id}.{ext}"), deps.config.max_image_bytes)
        }
    };
    if body.size == 0 {
        return Err(ApiError::bad_request("empty_upload", "'size' must be the file's size in bytes, above 0"));
    }
    if body.size > max_bytes {
        return Err(ApiError::new(
            413,
            "upload_too_large",
            format!("{} bytes is over the limit of {max_bytes} bytes for this kind of upload", body.size),
        ));
    }
    let presigned = deps.store.presign_put(&key, &content_type, body.size, deps.clock.now(), UPLOAD_EXPIRY).await?;
    let image_url = matches!(body.kind, UploadKind::Image).then(|| format!("{}/{key}", deps.config.images_base_url));
    tracing::info!(key = %key, size = body.size, "presigned upload issued");
    Ok(json_response(
        201,
        &UploadResponse {
            key,
            upload_url: presigned.url,
            method: presigned.method,
            headers: presigned.headers.into_iter().filter(|(k, _)| k != "host").collect(),
            expires_at: presigned.expires_at,
            max_bytes,
            image_url,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::encodings::Body;
    use fanmail_common::memory::SequentialIds;
    use time::macros::datetime;

    fn deps() -> Deps<MemoryPorts> {
        let world = MemoryAdapters {
            ids: SequentialIds::with_prefix("u"),
            ..MemoryAdapters::at(datetime!(2026-11-23 09:00 UTC))
        };
        let config = Config {
            bucket: "b".into(),
            max_csv_bytes: 1000,
            max_image_bytes: 100,
            images_base_url: "https://img.example.com".into(),
        };
        Deps::memory(&world, config)
    }

    async fn call(body: &str) -> (i64, serde_json::Value) {
        let mut req = ApiGatewayV2httpRequest::default();
        req.route_key = Some("POST /uploads".into());
        req.body = Some(body.into());
        let res = handler(&deps(), LambdaEvent::new(req, Default::default())).await.unwrap();
        let Some(Body::Text(text)) = res.body else { panic!("text body") };
        (res.status_code, serde_json::from_str(&text).unwrap())
    }

    #[tokio::test]
    async fn a_list_upload_gets_a_random_key_and_a_signed_length() {
        let (status, json) =
            call(r#"{"kind":"list","contentType":"text/csv","size":500,"filename":"../../x.csv"}"#).await;
        assert_eq!(status, 201);
        assert_eq!(json["key"], "lists/u1.csv");
        assert_eq!(json["headers"]["content-length"], "500");
        assert_eq!(json["expiresAt"], "2026-11-23T09:15:00Z", "15 minutes after the injected clock");
        assert!(json.get("imageUrl").is_none());
    }

    #[tokio::test]
    async fn a_tsv_or_excel_list_gets_a_key_the_splitter_reads_it_by() {
        for (content_type, key) in [
            ("text/tab-separated-values", "lists/u1.tsv"),
            ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "lists/u1.xlsx"),
            ("application/vnd.ms-excel", "lists/u1.csv"),
        ] {
            let (status, json) = call(&format!(r#"{{"kind":"list","contentType":"{content_type}","size":5}}"#)).await;
            assert_eq!((status, json["key"].as_str()), (201, Some(key)), "{content_type}");
        }
    }

    #[tokio::test]
    async fn an_image_upload_returns_the_url_a_mail_can_embed() {
        let (status, json) = call(r#"{"kind":"image","contentType":"image/png","size":50}"#).await;
        assert_eq!(status, 201);
        assert_eq!(json["imageUrl"], "https://img.example.com/images/u1.png");
    }

    #[tokio::test]
    async fn wrong_type_size_or_shape_is_a_4xx_naming_the_problem() {
        let (status, json) = call(r#"{"kind":"list","contentType":"application/pdf","size":5}"#).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some("unsupported_content_type")));
        let (status, json) = call(r#"{"kind":"image","contentType":"image/png","size":101}"#).await;
        assert_eq!((status, json["error"]["code"].as_str()), (413, Some("upload_too_large")));
        let (status, json) = call(r#"{"kind":"list","contentType":"text/csv","size":0}"#).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some("empty_upload")));
        let (status, json) = call(r#"{"kind":"video","contentType":"text/csv","size":5}"#).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_json")));
    }
}
