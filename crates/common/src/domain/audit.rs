//! The audit trail: who changed what, and when. One entry per state change that matters,
//! written by the API after the change is made.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CampaignId, EmailAddress, TemplateId};

/// Who asked for a change: the caller's IAM principal ARN as API Gateway verified it, `local`
/// under the local runner, `unsubscribe-link` for a recipient's one-click unsubscribe, or
/// `ses-events` for a suppression a bounce or complaint made.
pub type Actor = String;

/// The actor of a recipient's own unsubscribe (the link is the credential).
pub const UNSUBSCRIBE_LINK: &str = "unsubscribe-link";

/// The actor of a suppression SES's bounce or complaint notice made.
pub const SES_EVENTS: &str = "ses-events";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuditAction {
    CampaignCreated,
    CampaignCancelled,
    CampaignPaused,
    CampaignResumed,
    CampaignRetried,
    CampaignRescheduled,
    TemplateSaved,
    TemplateDeleted,
    SuppressionAdded,
    SuppressionLifted,
}

impl AuditAction {
    pub const ALL: [AuditAction; 10] = [
        Self::CampaignCreated,
        Self::CampaignCancelled,
        Self::CampaignPaused,
        Self::CampaignResumed,
        Self::CampaignRetried,
        Self::CampaignRescheduled,
        Self::TemplateSaved,
        Self::TemplateDeleted,
        Self::SuppressionAdded,
        Self::SuppressionLifted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CampaignCreated => "campaign.created",
            Self::CampaignCancelled => "campaign.cancelled",
            Self::CampaignPaused => "campaign.paused",
            Self::CampaignResumed => "campaign.resumed",
            Self::CampaignRetried => "campaign.retried",
            Self::CampaignRescheduled => "campaign.rescheduled",
            Self::TemplateSaved => "template.saved",
            Self::TemplateDeleted => "template.deleted",
            Self::SuppressionAdded => "suppression.added",
            Self::SuppressionLifted => "suppression.lifted",
        }
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|a| a.as_str() == s).ok_or_else(|| format!("unknown audit action '{s}'"))
    }
}

impl Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditAction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What a change was made to, as one key: `campaign/<id>`, `template/<id>`,
/// `suppression/<address>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuditSubject(String);

impl AuditSubject {
    pub fn campaign(id: &CampaignId) -> Self {
        Self(format!("campaign/{id}"))
    }

    pub fn template(id: &TemplateId) -> Self {
        Self(format!("template/{id}"))
    }

    pub fn suppression(address: &EmailAddress) -> Self {
        Self(format!("suppression/{address}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AuditSubject {
    type Error = String;

    fn try_from(value: String) -> Result<Self, String> {
        let (kind, id) = value.split_once('/').ok_or_else(|| format!("'{value}' is not kind/id"))?;
        let valid = match kind {
            "campaign" => CampaignId::parse(id).is_ok(),
            "template" => TemplateId::parse(id).is_ok(),
            "suppression" => EmailAddress::parse(id).is_ok(),
            _ => false,
        };
        if !valid {
            return Err(format!("'{value}' is not campaign/<id>, template/<id> or suppression/<address>"));
        }
        Ok(Self(value))
    }
}

impl From<AuditSubject> for String {
    fn from(subject: AuditSubject) -> String {
        subject.0
    }
}

impl fmt::Display for AuditSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One change: when, by whom, what, to what, and the few facts that say more (a template's
/// version, the reasons a suppression had, whether its lift was forced, a new send time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Actor,
    pub action: AuditAction,
    pub subject: AuditSubject,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub detail: BTreeMap<String, String>,
}

impl AuditEntry {
    pub fn new(at: OffsetDateTime, actor: &str, action: AuditAction, subject: AuditSubject) -> Self {
        Self { at, actor: actor.to_string(), action, subject, detail: BTreeMap::new() }
    }

    pub fn with(mut self, key: &str, value: impl ToString) -> Self {
        self.detail.insert(key.to_string(), value.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_subjects_round_trip_and_bad_ones_are_named() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
        }
        assert!("campaign.exploded".parse::<AuditAction>().is_err());
        let campaign = AuditSubject::campaign(&CampaignId::parse("c1").unwrap());
        assert_eq!(AuditSubject::try_from("campaign/c1".to_string()), Ok(campaign));
        let kim = AuditSubject::suppression(&EmailAddress::parse("kim@example.com").unwrap());
        assert_eq!(kim.as_str(), "suppression/kim@example.com");
        for bad in ["campaign", "campaign/", "suppression/not-an-address", "user/1"] {
            assert!(AuditSubject::try_from(bad.to_string()).is_err(), "{bad}");
        }
    }
}
