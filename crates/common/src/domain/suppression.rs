//! Addresses fanmail must not mail.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CampaignId, EmailAddress};

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    HardBounce,
    RepeatedSoftBounce,
    Complaint,
    Unsubscribed,
    Manual,
}

impl fmt::Display for SuppressionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HardBounce => "hard_bounce",
            Self::RepeatedSoftBounce => "repeated_soft_bounce",
            Self::Complaint => "complaint",
            Self::Unsubscribed => "unsubscribed",
            Self::Manual => "manual",
        })
    }
}

/// Scope of a suppression: bounces and complaints hold for every mail; an unsubscribe holds for
/// the sender (list) it was given for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SuppressionScope {
    All,
    Sender(String),
}

impl SuppressionScope {
    pub fn key(&self) -> String {
        match self {
            Self::All => "*".to_string(),
            Self::Sender(s) => format!("sender#{s}"),
        }
    }
}

impl TryFrom<String> for SuppressionScope {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value == "*" {
            Ok(Self::All)
        } else if let Some(sender) = value.strip_prefix("sender#") {
            Ok(Self::Sender(sender.to_string()))
        } else {
            Err(format!("unknown suppression scope '{value}'"))
        }
    }
}

impl From<SuppressionScope> for String {
    fn from(value: SuppressionScope) -> Self {
        value.key()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suppression {
    pub address: EmailAddress,
    pub scope: SuppressionScope,
    pub reason: SuppressionReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_round_trip() {
        for scope in [SuppressionScope::All, SuppressionScope::Sender("news@example.com".into())] {
            assert_eq!(SuppressionScope::try_from(scope.key()), Ok(scope));
        }
        assert!(SuppressionScope::try_from("bogus".to_string()).is_err());
    }
}
