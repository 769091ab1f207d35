use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::io::AsyncRead;

/// A readable object body, streamed: lists can be far larger than memory.
pub type ByteStream = Pin<Box<dyn AsyncRead + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum ObjectStoreError {
    #[error("object not found: {0}")]
    NotFound(String),
    #[error("object store throttled the request")]
    Throttled,
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    #[error("object store refused the request: {0}")]
    Refused(String),
}

impl ObjectStoreError {
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable(_))
    }
}

/// A presigned PUT a browser or script can upload to directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedUpload {
    pub url: String,
    pub method: String,
    /// Headers the client must send exactly as given (they are part of the signature).
    pub headers: Vec<(String, String)>,
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub size: u64,
    pub content_type: Option<String>,
}

/// The upload bucket.
pub trait ObjectStore: Send + Sync {
    /// A presigned PUT for exactly `content_length` bytes of `content_type`: both headers are
    /// signed, so the client cannot upload more than it declared. Signed at `now` (the
    /// caller's clock), valid for `expires_in` from then.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        now: OffsetDateTime,
        expires_in: Duration,
    ) -> impl Future<Output = Result<PresignedUpload, ObjectStoreError>> + Send;

    fn head(&self, key: &str) -> impl Future<Output = Result<Option<ObjectMeta>, ObjectStoreError>> + Send;

    /// Streams the object from byte `from` (a checkpoint) to its end.
    fn open(&self, key: &str, from: u64) -> impl Future<Output = Result<ByteStream, ObjectStoreError>> + Send;

    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), ObjectStoreError>> + Send;
}
