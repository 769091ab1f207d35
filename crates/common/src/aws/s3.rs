use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::Client;
use time::OffsetDateTime;

use super::{classify, Fault};
use crate::ports::{ByteStream, ObjectMeta, ObjectStore, ObjectStoreError, PresignedUpload};

/// Builds the S3 client. With a custom endpoint (the local stack on `http://127.0.0.1`) virtual-
/// hosted bucket names cannot resolve, so path-style addressing is switched on.
pub fn s3_client(config: &SdkConfig) -> Client {
    let mut builder = aws_sdk_s3::config::Builder::from(config);
    if config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some() {
        builder = builder.force_path_style(true);
    }
    Client::from_conf(builder.build())
}

/// The upload bucket on S3.
#[derive(Clone)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

fn fault_to_error(fault: Fault, key: &str) -> ObjectStoreError {
    match fault {
        Fault::Throttled => ObjectStoreError::Throttled,
        Fault::Transient(m) => ObjectStoreError::Unavailable(m),
        Fault::Service { code, message } if code == "NoSuchKey" || code == "NotFound" => {
            let _ = message;
            ObjectStoreError::NotFound(key.to_string())
        }
        Fault::Service { code, message } => ObjectStoreError::Refused(format!("{code}: {message}")),
    }
}

impl ObjectStore for S3ObjectStore {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        now: OffsetDateTime,
        expires_in: Duration,
    ) -> Result<PresignedUpload, ObjectStoreError> {
        let presigning = PresigningConfig::builder()
            .start_time(now.into())
            .expires_in(expires_in)
            .build()
            .map_err(|e| ObjectStoreError::Refused(format!("bad presign expiry: {e}")))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .content_length(content_length as i64)
            .presigned(presigning)
            .await
            .map_err(|e| fault_to_error(classify(&e), key))?;
        Ok(PresignedUpload {
            url: request.uri().to_string(),
            method: request.method().to_string(),
            headers: request.headers().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            expires_at: now + expires_in,
        })
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, ObjectStoreError> {
        match self.client.head_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => Ok(Some(ObjectMeta {
                size: out.content_length().unwrap_or_default().max(0) as u64,
                content_type: out.content_type().map(str::to_string),
            })),
            Err(e) if matches!(e.as_service_error(), Some(HeadObjectError::NotFound(_))) => Ok(None),
            Err(e) => Err(fault_to_error(classify(&e), key)),
        }
    }

    async fn open(&self, key: &str, from: u64) -> Result<ByteStream, ObjectStoreError> {
        let mut request = self.client.get_object().bucket(&self.bucket).key(key);
        if from > 0 {
            request = request.range(format!("bytes={from}-"));
        }
        match request.send().await {
            Ok(out) => Ok(Box::pin(out.body.into_async_read())),
            Err(e) if matches!(e.as_service_error(), Some(GetObjectError::NoSuchKey(_))) => {
                Err(ObjectStoreError::NotFound(key.to_string()))
            }
            Err(e) => Err(fault_to_error(classify(&e), key)),
        }
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), ObjectStoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body.into())
            .send()
            .await
            .map_err(|e| fault_to_error(classify(&e), key))?;
        Ok(())
    }
}
