//! The unsubscribe signing key, read from Secrets Manager once per cold start.

use crate::domain::UnsubscribeKey;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {id} could not be read: {reason}")]
    Unreadable { id: String, reason: String },
    #[error("secret {id} has no string value")]
    Empty { id: String },
    #[error("secret {id} is not a usable key: {reason}")]
    Unusable { id: String, reason: String },
}

/// Reads the key from the secret named (or ARN'd) `secret_id`.
pub async fn read_unsubscribe_key(sdk: &aws_config::SdkConfig, secret_id: &str) -> Result<UnsubscribeKey, SecretError> {
    let out = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| SecretError::Unreadable { id: secret_id.to_string(), reason: super::describe(&e) })?;
    let value = out
        .secret_string()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SecretError::Empty { id: secret_id.to_string() })?;
    UnsubscribeKey::new(value.as_bytes().to_vec())
        .map_err(|e| SecretError::Unusable { id: secret_id.to_string(), reason: e.to_string() })
}
