//! Recipients of one campaign and their send state.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CampaignId, Counter, EmailAddress, RecipientId};

/// A recipient's state. Delivery results only move forward in [`RecipientStatus::rank`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientStatus {
    /// Written by the splitter, message queued.
    Queued,
    /// Claimed by a sender; the claim expires so a crashed sender's recipient is retried.
    Sending,
    /// SES accepted the mail.
    Sent,
    /// Failed permanently or exhausted its retries.
    Failed,
    /// On the suppression list or unsubscribed; not sent.
    Suppressed,
    /// The campaign was cancelled before this recipient was sent.
    Stopped,
    /// Held while the campaign is paused.
    Paused,
    Delivered,
    Bounced,
    Complained,
}

impl RecipientStatus {
    pub const ALL: [RecipientStatus; 10] = [
        Self::Queued,
        Self::Sending,
        Self::Sent,
        Self::Failed,
        Self::Suppressed,
        Self::Stopped,
        Self::Paused,
        Self::Delivered,
        Self::Bounced,
        Self::Complained,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Suppressed => "suppressed",
            Self::Stopped => "stopped",
            Self::Paused => "paused",
            Self::Delivered => "delivered",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
        }
    }

    /// Order of delivery outcomes: a later event may only raise the rank (a late Delivery never
    /// overwrites a Bounce or Complaint).
    pub fn rank(self) -> u8 {
        match self {
            Self::Queued | Self::Paused => 0,
            Self::Sending => 1,
            Self::Failed | Self::Suppressed | Self::Stopped => 2,
            Self::Sent => 3,
            Self::Delivered => 4,
            Self::Bounced => 5,
            Self::Complained => 6,
        }
    }

    /// SES accepted the mail (it may have delivery results since).
    pub fn was_sent(self) -> bool {
        self.rank() >= Self::Sent.rank()
    }

    /// Not yet sent, and still on its way (a delivery result for it would be early).
    pub fn in_flight(self) -> bool {
        matches!(self, Self::Queued | Self::Sending | Self::Paused)
    }
}

impl fmt::Display for RecipientStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecipientStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown recipient status '{s}'"))
    }
}

/// A recipient as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    pub campaign_id: CampaignId,
    pub recipient_id: RecipientId,
    pub address: EmailAddress,
    /// The list row's columns, by header name.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    pub status: RecipientStatus,
    /// 1-based row of the list this recipient came from.
    pub row: u64,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// For a failed recipient: whether sending again may succeed (a transient fault rather
    /// than a rejection). `POST /campaigns/{id}/retry-failed` re-queues only these.
    #[serde(default)]
    pub retryable: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Recipient {
    /// A recipient as a sender claims it from its queue message.
    pub fn from_job(job: &RecipientJob, now: OffsetDateTime) -> Self {
        Self {
            campaign_id: job.campaign_id.clone(),
            recipient_id: job.recipient_id.clone(),
            address: job.address.clone(),
            vars: job.vars.clone(),
            status: RecipientStatus::Sending,
            row: job.row,
            attempts: 0,
            message_id: None,
            last_error: None,
            retryable: false,
            updated_at: now,
        }
    }
}

impl From<&Recipient> for RecipientJob {
    /// The queue message that sends a stored recipient again (retry, resume).
    fn from(r: &Recipient) -> Self {
        Self {
            campaign_id: r.campaign_id.clone(),
            recipient_id: r.recipient_id.clone(),
            address: r.address.clone(),
            vars: r.vars.clone(),
            row: r.row,
        }
    }
}

/// How a claimed recipient's send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub recipient_id: RecipientId,
    /// `Sent`, `Failed`, `Suppressed`, `Stopped`, or `Queued` to give the claim back unsent.
    pub status: RecipientStatus,
    pub message_id: Option<String>,
    pub error: Option<String>,
    pub retryable: bool,
}

impl SendOutcome {
    pub fn new(recipient_id: RecipientId, status: RecipientStatus) -> Self {
        Self { recipient_id, status, message_id: None, error: None, retryable: false }
    }

    /// The campaign counter this outcome adds one to (none for a claim given back).
    pub fn counter(&self) -> Option<Counter> {
        match self.status {
            RecipientStatus::Sent => Some(Counter::Sent),
            RecipientStatus::Failed => Some(Counter::Failed),
            RecipientStatus::Suppressed => Some(Counter::Skipped),
            RecipientStatus::Stopped => Some(Counter::Stopped),
            _ => None,
        }
    }
}

/// Body of a recipient queue message: everything the sender needs to render and send, so a
/// send costs no extra read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientJob {
    pub campaign_id: CampaignId,
    pub recipient_id: RecipientId,
    pub address: EmailAddress,
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// The list row it came from.
    #[serde(default)]
    pub row: u64,
}

impl RecipientJob {
    /// The largest message body a recipient's job may have (SQS takes 256 KiB, less room for
    /// attributes); a larger row is rejected when the list is split.
    pub const MAX_BYTES: usize = 250 * 1024;
}

/// Ledger key of SES's word that it accepted a recipient's mail (its `Send` event), which a
/// sender reads before mailing a recipient whose earlier attempt has no recorded outcome.
pub fn accepted_key(campaign: &CampaignId, recipient: &RecipientId) -> String {
    format!("accepted#{campaign}#{recipient}")
}

/// How long SES's acceptance of a mail is kept: longer than any message stays on a queue.
pub const ACCEPTED_LIFETIME: time::Duration = time::Duration::days(15);

/// How long a recipient's item (address, list columns, status) is kept after its latest claim,
/// before DynamoDB's TTL deletes it; counters and the suppression list live elsewhere and stay.
/// At least [`ACCEPTED_LIFETIME`]: until then a redelivered message must still find the
/// recipient sent, so nobody is mailed twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecipientRetention {
    days: u32,
}

impl RecipientRetention {
    pub const DEFAULT_DAYS: u32 = 30;

    pub fn days(days: u32) -> Result<Self, String> {
        let least = ACCEPTED_LIFETIME.whole_days();
        if i64::from(days) < least {
            return Err(format!("must be at least {least} days (longer than any message stays on a queue)"));
        }
        Ok(Self { days })
    }

    pub fn duration(self) -> time::Duration {
        time::Duration::days(i64::from(self.days))
    }
}

/// Whole days, as the `RECIPIENT_RETENTION_DAYS` setting gives them.
impl FromStr for RecipientRetention {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::days(s.trim().parse().map_err(|_| format!("'{s}' is not a whole number of days"))?)
    }
}

impl Default for RecipientRetention {
    fn default() -> Self {
        Self { days: Self::DEFAULT_DAYS }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_whole_days_and_outlives_any_queued_message() {
        assert_eq!("30".parse::<RecipientRetention>().unwrap().duration(), time::Duration::days(30));
        assert_eq!(RecipientRetention::default().duration(), time::Duration::days(30));
        assert!("14".parse::<RecipientRetention>().unwrap_err().contains("at least 15 days"));
        assert!("a month".parse::<RecipientRetention>().is_err());
    }

    #[test]
    fn complaints_outrank_bounces_outrank_deliveries() {
        use RecipientStatus::*;
        assert!(Complained.rank() > Bounced.rank());
        assert!(Bounced.rank() > Delivered.rank());
        assert!(Delivered.rank() > Sent.rank());
        assert!(Sent.rank() > Sending.rank());
        for status in RecipientStatus::ALL {
            assert_eq!(status.as_str().parse::<RecipientStatus>(), Ok(status));
        }
    }
}
