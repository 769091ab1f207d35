//! SES events as SNS carries them: the JSON document in `Records[].Sns.Message`, from
//! configuration-set event publishing (`eventType`) or the older identity notifications
//! (`notificationType`).

use std::collections::HashMap;

use fanmail_common::domain::{CampaignId, EmailAddress, RecipientId};
use serde::Deserialize;

/// Message tags the sender puts on every mail; SES echoes them in `mail.tags`.
pub const CAMPAIGN_TAG: &str = "campaign";
pub const RECIPIENT_TAG: &str = "recipient";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceType {
    Permanent,
    Transient,
    Undetermined,
}

/// What happened, with what fanmail needs of each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Send,
    Delivery,
    Bounce {
        bounce_type: BounceType,
        sub_type: String,
        recipients: Vec<EmailAddress>,
    },
    Complaint {
        recipients: Vec<EmailAddress>,
        feedback_type: Option<String>,
    },
    Reject {
        reason: String,
    },
    DeliveryDelay {
        delay_type: String,
    },
    Open,
    Click {
        link: String,
    },
    RenderingFailure {
        error: String,
    },
    /// SES list management: the recipient changed their subscription.
    Subscription {
        unsubscribe_all: bool,
    },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Send => "Send",
            Self::Delivery => "Delivery",
            Self::Bounce { .. } => "Bounce",
            Self::Complaint { .. } => "Complaint",
            Self::Reject { .. } => "Reject",
            Self::DeliveryDelay { .. } => "DeliveryDelay",
            Self::Open => "Open",
            Self::Click { .. } => "Click",
            Self::RenderingFailure { .. } => "Rendering Failure",
            Self::Subscription { .. } => "Subscription",
        }
    }
}

/// One SES event, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesEvent {
    pub kind: EventKind,
    /// SES's id of the mail.
    pub message_id: String,
    /// The sending address (the list a recipient leaves).
    pub source: Option<EmailAddress>,
    pub destination: Vec<EmailAddress>,
    /// From the message tags, when the event carries them.
    pub campaign: Option<CampaignId>,
    pub recipient: Option<RecipientId>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("message is not an SES event: {0}")]
    Malformed(String),
    #[error("unknown SES event type '{0}'")]
    Unknown(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    event_type: Option<String>,
    notification_type: Option<String>,
    mail: Option<RawMail>,
    bounce: Option<RawBounce>,
    complaint: Option<RawComplaint>,
    reject: Option<RawReject>,
    delivery_delay: Option<RawDelay>,
    click: Option<RawClick>,
    failure: Option<RawFailure>,
    subscription: Option<RawSubscription>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMail {
    message_id: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    destination: Vec<String>,
    #[serde(default)]
    tags: HashMap<String, Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBounce {
    bounce_type: String,
    #[serde(default)]
    bounce_sub_type: String,
    #[serde(default)]
    bounced_recipients: Vec<RawRecipient>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawComplaint {
    #[serde(default)]
    complained_recipients: Vec<RawRecipient>,
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecipient {
    email_address: String,
}

#[derive(Deserialize)]
struct RawReject {
    #[serde(default)]
    reason: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDelay {
    #[serde(default)]
    delay_type: String,
}

#[derive(Deserialize)]
struct RawClick {
    #[serde(default)]
    link: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawFailure {
    #[serde(default)]
    error_message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSubscription {
    new_topic_preferences: Option<RawPreferences>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPreferences {
    #[serde(default)]
    unsubscribe_all: bool,
}

/// An address as SES lists it, perhaps with a display name (`"Jane" <jane@example.com>`).
pub fn address(text: &str) -> Option<EmailAddress> {
    let bare = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    EmailAddress::parse(bare.trim()).ok()
}

fn addresses(listed: &[RawRecipient]) -> Vec<EmailAddress> {
    listed.iter().filter_map(|r| address(&r.email_address)).collect()
}

fn tag<T>(tags: &HashMap<String, Vec<String>>, name: &str, parse: impl Fn(&str) -> Option<T>) -> Option<T> {
    tags.get(name).and_then(|values| values.first()).and_then(|v| parse(v))
}

fn missing(part: &str, kind: &str) -> ParseError {
    ParseError::Malformed(format!("a {kind} event without its '{part}' object"))
}

impl SesEvent {
    /// Parses the SNS message text.
    pub fn parse(message: &str) -> Result<Self, ParseError> {
        let raw: RawEvent = serde_json::from_str(message.trim()).map_err(|e| ParseError::Malformed(e.to_string()))?;
        let kind_name = raw
            .event_type
            .or(raw.notification_type)
            .ok_or_else(|| ParseError::Malformed("neither eventType nor notificationType".into()))?;
        let kind = match kind_name.as_str() {
            "Send" => EventKind::Send,
            "Delivery" => EventKind::Delivery,
            "Bounce" => {
                let bounce = raw.bounce.ok_or_else(|| missing("bounce", "Bounce"))?;
                let bounce_type = match bounce.bounce_type.as_str() {
                    "Permanent" => BounceType::Permanent,
                    "Transient" => BounceType::Transient,
                    // SES could not tell; treated like a soft bounce.
                    _ => BounceType::Undetermined,
                };
                EventKind::Bounce {
                    bounce_type,
                    sub_type: bounce.bounce_sub_type,
                    recipients: addresses(&bounce.bounced_recipients),
                }
            }
            "Complaint" => {
                let complaint = raw.complaint.ok_or_else(|| missing("complaint", "Complaint"))?;
                EventKind::Complaint {
                    recipients: addresses(&complaint.complained_recipients),
                    feedback_type: complaint.complaint_feedback_type,
                }
            }
            "Reject" => EventKind::Reject { reason: raw.reject.map(|r| r.reason).unwrap_or_default() },
            "DeliveryDelay" => {
                EventKind::DeliveryDelay { delay_type: raw.delivery_delay.map(|d| d.delay_type).unwrap_or_default() }
            }
            "Open" => EventKind::Open,
            "Click" => EventKind::Click { link: raw.click.map(|c| c.link).unwrap_or_default() },
            "Rendering Failure" => {
                EventKind::RenderingFailure { error: raw.failure.map(|f| f.error_message).unwrap_or_default() }
            }
            "Subscription" => EventKind::Subscription {
                unsubscribe_all: raw
                    .subscription
                    .and_then(|s| s.new_topic_preferences)
                    .is_some_and(|p| p.unsubscribe_all),
            },
            other => return Err(ParseError::Unknown(other.to_string())),
        };
        let mail = raw.mail.ok_or_else(|| missing("mail", &kind_name))?;
        Ok(Self {
            kind,
            source: address(&mail.source),
            destination: mail.destination.iter().filter_map(|d| address(d)).collect(),
            campaign: tag(&mail.tags, CAMPAIGN_TAG, |v| CampaignId::parse(v).ok()),
            recipient: tag(&mail.tags, RECIPIENT_TAG, |v| RecipientId::parse(v).ok()),
            message_id: mail.message_id,
        })
    }
}
