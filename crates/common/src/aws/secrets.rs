//! The unsubscribe keys, read from Secrets Manager at a cold start (and again by the API when a
//! link names a key it does not hold): the secret's current version, and its previous one
//! (`AWSPREVIOUS`, after a rotation) for links already sent.

use std::future::Future;
use std::pin::Pin;

use crate::domain::UnsubscribeKey;
use crate::ports::{KeyError, KeySource};

/// The secret the keys are read from.
pub struct SecretKeySource {
    sdk: aws_config::SdkConfig,
    secret_id: String,
}

impl SecretKeySource {
    pub fn new(sdk: &aws_config::SdkConfig, secret_id: impl Into<String>) -> Self {
        Self { sdk: sdk.clone(), secret_id: secret_id.into() }
    }
}

impl KeySource for SecretKeySource {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<UnsubscribeKey, KeyError>> + Send + '_>> {
        Box::pin(
            async move { read_unsubscribe_key(&self.sdk, &self.secret_id).await.map_err(|e| KeyError(e.to_string())) },
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {id} could not be read: {reason}")]
    Unreadable { id: String, reason: String },
    #[error("secret {id} has no string value")]
    Empty { id: String },
    #[error("secret {id} is not a usable key: {reason}")]
    Unusable { id: String, reason: String },
}

/// Reads the keys from the secret named (or ARN'd) `secret_id`.
pub async fn read_unsubscribe_key(sdk: &aws_config::SdkConfig, secret_id: &str) -> Result<UnsubscribeKey, SecretError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| SecretError::Unreadable { id: secret_id.to_string(), reason: super::describe(&e) })?;
    let value = out
        .secret_string()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SecretError::Empty { id: secret_id.to_string() })?;
    let key = UnsubscribeKey::new(value.as_bytes().to_vec())
        .map_err(|e| SecretError::Unusable { id: secret_id.to_string(), reason: e.to_string() })?;
    // A secret never rotated has no previous version; one that cannot be read only means
    // links made before the last rotation are refused as expired.
    let previous = client.get_secret_value().secret_id(secret_id).version_stage("AWSPREVIOUS").send().await;
    match previous.as_ref().ok().and_then(|out| out.secret_string()).filter(|v| !v.is_empty()) {
        Some(previous) => Ok(key.clone().with_previous(previous.as_bytes().to_vec()).unwrap_or(key)),
        None => Ok(key),
    }
}
