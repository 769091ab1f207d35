//! Typed configuration from the environment.
//!
//! Each function's `Config::from_lookup` reads its variables through an [`Env`] so that tests
//! (and the template check that every variable a function reads is set by `template.yaml`) can
//! feed any map instead of the process environment.

use std::str::FromStr;

/// Names of the environment variables the template sets. One list, so the functions, the
/// template and the local runner agree.
pub mod vars {
    pub const TEMPLATES_TABLE: &str = "TEMPLATES_TABLE";
    pub const CAMPAIGNS_TABLE: &str = "CAMPAIGNS_TABLE";
    pub const RECIPIENTS_TABLE: &str = "RECIPIENTS_TABLE";
    pub const RECIPIENT_RETENTION_DAYS: &str = "RECIPIENT_RETENTION_DAYS";
    pub const SUPPRESSIONS_TABLE: &str = "SUPPRESSIONS_TABLE";
    pub const LEDGER_TABLE: &str = "LEDGER_TABLE";
    pub const AUDIT_TABLE: &str = "AUDIT_TABLE";
    pub const UPLOAD_BUCKET: &str = "UPLOAD_BUCKET";
    pub const SPLIT_JOBS_QUEUE_URL: &str = "SPLIT_JOBS_QUEUE_URL";
    pub const RECIPIENTS_QUEUE_URL: &str = "RECIPIENTS_QUEUE_URL";
    pub const PRIORITY_QUEUE_URL: &str = "PRIORITY_QUEUE_URL";
    pub const RECIPIENTS_DLQ_ARN: &str = "RECIPIENTS_DLQ_ARN";
    pub const SPLIT_JOBS_DLQ_ARN: &str = "SPLIT_JOBS_DLQ_ARN";
    pub const SES_CONFIGURATION_SET: &str = "SES_CONFIGURATION_SET";
    pub const SENDER_DOMAIN: &str = "SENDER_DOMAIN";
    pub const MAX_SEND_RATE: &str = "MAX_SEND_RATE";
    pub const SCHEDULE_GROUP: &str = "SCHEDULE_GROUP";
    pub const SCHEDULE_TARGET_ARN: &str = "SCHEDULE_TARGET_ARN";
    pub const SCHEDULE_ROLE_ARN: &str = "SCHEDULE_ROLE_ARN";
    pub const SCHEDULE_DLQ_ARN: &str = "SCHEDULE_DLQ_ARN";
    pub const PUBLIC_BASE_URL: &str = "PUBLIC_BASE_URL";
    pub const UNSUBSCRIBE_SECRET_ARN: &str = "UNSUBSCRIBE_SECRET_ARN";
    pub const UPLOAD_MAX_CSV_BYTES: &str = "UPLOAD_MAX_CSV_BYTES";
    pub const UPLOAD_MAX_IMAGE_BYTES: &str = "UPLOAD_MAX_IMAGE_BYTES";
    pub const IMAGES_BASE_URL: &str = "IMAGES_BASE_URL";
    pub const SENDER_CONCURRENCY: &str = "SENDER_CONCURRENCY";
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(String),
    #[error("environment variable {key}='{value}' is not valid: {reason}")]
    Invalid { key: String, value: String, reason: String },
}

type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// A source of configuration values.
pub struct Env<'a> {
    lookup: Lookup<'a>,
}

impl<'a> Env<'a> {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self { lookup: Box::new(lookup) }
    }

    pub fn process() -> Env<'static> {
        Env::from_lookup(|key| std::env::var(key).ok())
    }

    /// A set, non-blank value.
    pub fn required(&self, key: &str) -> Result<String, ConfigError> {
        self.optional(key).ok_or_else(|| ConfigError::Missing(key.to_string()))
    }

    /// A value if set and non-blank.
    pub fn optional(&self, key: &str) -> Option<String> {
        (self.lookup)(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    /// A parsed value, or `default` when unset.
    pub fn parsed<T>(&self, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.optional(key) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|e: T::Err| ConfigError::Invalid {
                key: key.to_string(),
                value,
                reason: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reads_required_optional_and_parsed_values() {
        let map = HashMap::from([("A", "x"), ("BLANK", "  "), ("N", "14.5"), ("BAD", "fast")]);
        let env = Env::from_lookup(|k| map.get(k).map(|v| v.to_string()));
        assert_eq!(env.required("A"), Ok("x".into()));
        assert_eq!(env.required("BLANK"), Err(ConfigError::Missing("BLANK".into())));
        assert_eq!(env.optional("NOPE"), None);
        assert_eq!(env.parsed("N", 1.0f64), Ok(14.5));
        assert_eq!(env.parsed("NOPE", 7u32), Ok(7));
        assert!(matches!(env.parsed("BAD", 1.0f64), Err(ConfigError::Invalid { .. })));
    }
}
