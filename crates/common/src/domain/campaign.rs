//! Campaigns: what is sent, to whom, and how far it has got.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CampaignCounters, CampaignId, EmailAddress, TemplateId};

/// Where a campaign is in its life. Every change is a conditional write from an expected status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Waiting for its EventBridge schedule.
    Scheduled,
    /// Accepted; a split job is on the queue.
    Queued,
    /// The splitter is fanning the list out.
    Splitting,
    /// Every recipient is queued; the senders are working.
    Sending,
    Paused,
    Cancelled,
    /// Every recipient reached a final state.
    Completed,
    /// Could not start (bad list, missing template variables, ...); nothing was sent.
    Failed,
    /// The schedule fired far too late; recorded instead of sending hours after the time.
    Missed,
}

impl CampaignStatus {
    pub const ALL: [CampaignStatus; 9] = [
        Self::Scheduled,
        Self::Queued,
        Self::Splitting,
        Self::Sending,
        Self::Paused,
        Self::Cancelled,
        Self::Completed,
        Self::Failed,
        Self::Missed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Queued => "queued",
            Self::Splitting => "splitting",
            Self::Sending => "sending",
            Self::Paused => "paused",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Missed => "missed",
        }
    }

    /// A campaign on its way to its recipients: the ones a pause applies to.
    pub const RUNNING: [CampaignStatus; 3] =
        [CampaignStatus::Queued, CampaignStatus::Splitting, CampaignStatus::Sending];

    /// Whether [`TRANSITIONS`] lets a campaign go from this status to `to`.
    pub fn may_become(self, to: CampaignStatus) -> bool {
        TRANSITIONS.contains(&(self, to))
    }

    /// No transition leaves a final status (a completed campaign is not final: its failed
    /// recipients can be retried).
    pub fn is_final(self) -> bool {
        !TRANSITIONS.iter().any(|(from, _)| *from == self)
    }
}

/// Every change of status a campaign may make, `(from, to)`; the stores refuse any other.
pub const TRANSITIONS: [(CampaignStatus, CampaignStatus); 20] = {
    use CampaignStatus::*;
    [
        (Scheduled, Queued),    // its schedule fired
        (Scheduled, Missed),    // ... far too late
        (Scheduled, Failed),    // its schedule could not be created
        (Scheduled, Cancelled), //
        (Queued, Splitting),    // the splitter took its job
        (Queued, Failed),       // its split job could not be queued
        (Queued, Paused),       //
        (Queued, Cancelled),    //
        (Splitting, Sending),   // every recipient is queued
        (Splitting, Completed), // the list has no valid recipient
        (Splitting, Failed),    // the list or the template cannot be used
        (Splitting, Paused),    //
        (Splitting, Cancelled), //
        (Sending, Completed),   // every recipient reached a final state
        (Sending, Paused),      // by hand, or at a harmful bounce or complaint rate
        (Sending, Cancelled),   //
        (Paused, Splitting),    // resumed before the split finished
        (Paused, Sending),      // resumed after it
        (Paused, Cancelled),    //
        (Completed, Sending),   // its failed recipients are retried
    ]
};

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CampaignStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown campaign status '{s}'"))
    }
}

/// The sender of a campaign's mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub address: EmailAddress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<EmailAddress>,
}

impl Sender {
    /// The From header: the address with its display name, RFC 2047-encoded when not ASCII.
    pub fn from_header(&self) -> String {
        let address = self.address.as_str();
        match self.name.as_deref() {
            None => address.to_string(),
            Some(name) if name.is_ascii() => {
                let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
                format!("\"{escaped}\" <{address}>")
            }
            Some(name) => {
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
                format!("=?UTF-8?B?{encoded}?= <{address}>")
            }
        }
    }
}

/// A campaign as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub template_id: TemplateId,
    /// The template version pinned when the campaign was created.
    pub template_version: u32,
    /// Object key of the recipient CSV in the upload bucket.
    pub list_key: String,
    pub sender: Sender,
    /// Variables shared by every recipient (recipient columns win on a clash).
    #[serde(default)]
    pub shared_vars: BTreeMap<String, String>,
    pub status: CampaignStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    #[serde(default)]
    pub counters: CampaignCounters,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When a scheduled campaign is due.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub send_at: Option<OffsetDateTime>,
    /// Bumped on every reschedule so a superseded schedule's invocation is recognised as stale.
    #[serde(default)]
    pub schedule_generation: u32,
    /// The client's idempotency key, if it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Rejected-row report parts the splitter wrote (one or more a split run, at most
    /// 10,000 rows each), see [`rejected_rows_key`].
    #[serde(default)]
    pub report_parts: u32,
    /// Data rows of the list fanned out so far.
    #[serde(default)]
    pub split_rows: u64,
    /// The splitter read the whole list.
    #[serde(default)]
    pub split_finished: bool,
    /// The campaign's own ceiling on its send rate (mails a second), within the account's;
    /// none: as fast as the account allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<u32>,
    /// Which recipients queue the campaign's mails wait on.
    #[serde(default, skip_serializing_if = "Priority::is_bulk")]
    pub priority: Priority,
    /// Who created it (the caller's IAM principal ARN; `local` under the local runner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who last changed it through the API (cancel, pause, resume, retry, reschedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// How the splitter read the list: its text encoding, or `xlsx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_format: Option<String>,
    /// The list's address column as the user named it (a header or a 1-based number); none:
    /// found by its header name, else by its values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_column: Option<String>,
    /// How far its latest resume or retry has got re-queueing its recipients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue: Option<super::RequeueProgress>,
}

/// A campaign's place in line. Bulk campaigns share the recipients queue fairly (one message
/// group each); a `high` one (a test, a transactional send) has a queue of its own, which no
/// bulk backlog ever fills, so its mails go ahead of every bulk campaign's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    Bulk,
    High,
}

impl Priority {
    pub fn is_bulk(&self) -> bool {
        *self == Self::Bulk
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "bulk" => Some(Self::Bulk),
            "high" => Some(Self::High),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bulk => "bulk",
            Self::High => "high",
        }
    }
}

impl Campaign {
    /// Name of the campaign's one-time EventBridge schedule (ids are 32 characters, names may
    /// have 64).
    pub fn schedule_name(&self) -> String {
        format!("campaign-{}", self.id)
    }

    /// Every recipient reached a final state (the split is over and the counts add up).
    pub fn all_recipients_done(&self) -> bool {
        let c = &self.counters;
        self.status == CampaignStatus::Sending && c.sent + c.failed + c.skipped + c.stopped >= c.total
    }

    /// The From header of the campaign's mail.
    pub fn from_header(&self) -> String {
        self.sender.from_header()
    }
}

/// Object key of part `part` of a campaign's rejected-row report.
pub fn rejected_rows_key(campaign: &CampaignId, part: u32) -> String {
    format!("reports/{campaign}/rejected-{part:05}.jsonl")
}

/// A list row that is not a recipient, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedRow {
    /// 1-based line of the data row (the header is row 1, the first recipient row 2).
    pub row: u64,
    pub reason: String,
    /// The offending value, shortened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// What a split run found, written over the campaign's split counters (absolute values, so a
/// re-run of the same split never counts twice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SplitTotals {
    pub total: u64,
    pub queued: u64,
    pub rejected_rows: u64,
    pub duplicates: u64,
    pub report_parts: u32,
    /// Data rows fanned out so far (where a paused split resumes).
    pub rows_done: u64,
    /// The whole list was read.
    pub finished: bool,
    /// How the list was read: its text encoding (`UTF-8`, `EUC-KR`, `windows-1252`, ...) or
    /// `xlsx`; none: not known (written over nothing).
    pub list_format: Option<&'static str>,
}

/// Body of a split-job queue message: fan out one campaign's list. Unknown fields are refused:
/// a requeue job the splitter cannot read goes to the dead-letter queue, never runs as a split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SplitJob {
    pub campaign_id: CampaignId,
    /// Data rows (counted from the first after the header) an earlier run already fanned out;
    /// a continuation re-reads them, to rebuild duplicate detection and counts, without sending.
    #[serde(default)]
    pub resume_after_row: u64,
    /// The first rejected-row report part this run writes (0 for the first run); a run writes
    /// one part or more, and its continuation starts at the next.
    #[serde(default)]
    pub run: u32,
}

impl SplitJob {
    /// The first split run of a campaign.
    pub fn start(campaign_id: CampaignId) -> Self {
        Self { campaign_id, resume_after_row: 0, run: 0 }
    }
}

/// Payload the EventBridge schedule delivers to the trigger function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledSend {
    pub campaign_id: CampaignId,
    pub generation: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_its_name() {
        for status in CampaignStatus::ALL {
            assert_eq!(status.as_str().parse::<CampaignStatus>(), Ok(status));
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{}\"", status.as_str()));
        }
        assert!("nope".parse::<CampaignStatus>().is_err());
    }

    #[test]
    fn the_transition_table_ends_in_final_statuses_and_reaches_every_status() {
        use CampaignStatus::*;
        assert_eq!(
            CampaignStatus::ALL.into_iter().filter(|s| s.is_final()).collect::<Vec<_>>(),
            [Cancelled, Failed, Missed]
        );
        for (from, to) in TRANSITIONS {
            assert_ne!(from, to, "a transition changes the status");
            assert!(from.may_become(to));
        }
        // A new campaign starts scheduled or queued; every other status is reached by a transition.
        for status in CampaignStatus::ALL.into_iter().filter(|s| !matches!(s, Scheduled | Queued)) {
            assert!(TRANSITIONS.iter().any(|(_, to)| *to == status), "{status} is never reached");
        }
        assert!(!Sending.may_become(Queued), "a campaign never goes back to its queue");
        assert!(!Cancelled.may_become(Sending), "a cancelled campaign stays cancelled");
    }

    #[test]
    fn from_headers_quote_ascii_names_and_encode_the_rest() {
        let mut c = crate::domain::tests_support::campaign();
        assert_eq!(c.from_header(), "news@example.com");
        c.sender.name = Some("Fan \"Mail\"".into());
        assert_eq!(c.from_header(), "\"Fan \\\"Mail\\\"\" <news@example.com>");
        c.sender.name = Some("팬메일".into());
        assert_eq!(c.from_header(), "=?UTF-8?B?7Yys66mU7J28?= <news@example.com>");
    }

    #[test]
    fn a_campaign_is_done_when_the_outcomes_reach_the_total() {
        let mut c = crate::domain::tests_support::campaign();
        c.status = CampaignStatus::Sending;
        c.counters.total = 3;
        c.counters.sent = 1;
        c.counters.skipped = 1;
        assert!(!c.all_recipients_done());
        c.counters.failed = 1;
        assert!(c.all_recipients_done());
        c.status = CampaignStatus::Splitting;
        assert!(!c.all_recipients_done(), "not while the list is still being split");
    }

    #[test]
    fn split_job_reads_the_minimal_body() {
        let job: SplitJob = serde_json::from_str(r#"{"campaignId":"c1"}"#).unwrap();
        assert_eq!(job.resume_after_row, 0);
        assert!(serde_json::from_str::<SplitJob>(r#"{"campaignId":""}"#).is_err());
    }
}
