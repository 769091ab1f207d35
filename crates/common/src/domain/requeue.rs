//! Putting a campaign's waiting recipients back on its recipients queue (a resume, a retry of
//! its failed recipients) as background work: a page at a time, with a cursor, in runs that
//! each end well before their deadline and hand the rest to a continuation.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CampaignId, RecipientStatus};

/// What a requeue run goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequeueStep {
    /// A resume: every recipient parked as `paused` is queued again.
    Parked,
    /// A retry, first half: each failed recipient whose failure was transient is released
    /// (`failed` → `queued`, its count lowered once).
    ReleaseFailed,
    /// A retry, second half: every `queued` recipient is queued again (a released one, or one
    /// given back unsent); a recipient queued twice is sent once, as its claim decides.
    Queued,
}

impl RequeueStep {
    /// The recipients this step pages through.
    pub fn reads(self) -> RecipientStatus {
        match self {
            Self::Parked => RecipientStatus::Paused,
            Self::ReleaseFailed => RecipientStatus::Failed,
            Self::Queued => RecipientStatus::Queued,
        }
    }

    /// The step after this one's last page, if any.
    pub fn next(self) -> Option<Self> {
        match self {
            Self::ReleaseFailed => Some(Self::Queued),
            Self::Parked | Self::Queued => None,
        }
    }
}

/// Body of a split-jobs queue message that re-queues recipients; told from a split job by its
/// `requeue` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequeueJob {
    pub campaign_id: CampaignId,
    pub requeue: RequeueStep,
    /// Where the step's paging stopped (the store's own cursor); none: at its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Counts so far, carried from run to run.
    #[serde(default)]
    pub requeued: u64,
    #[serde(default)]
    pub released: u64,
    /// The resume's second look, a while after the first: a recipient parked just before the
    /// resume may reach the status index after the first pass read it.
    #[serde(default)]
    pub second_look: bool,
}

impl RequeueJob {
    pub fn resume(campaign_id: CampaignId) -> Self {
        Self::start(campaign_id, RequeueStep::Parked)
    }

    pub fn retry_failed(campaign_id: CampaignId) -> Self {
        Self::start(campaign_id, RequeueStep::ReleaseFailed)
    }

    fn start(campaign_id: CampaignId, requeue: RequeueStep) -> Self {
        Self { campaign_id, requeue, cursor: None, requeued: 0, released: 0, second_look: false }
    }

    /// Where the work stands, as the campaign shows it.
    pub fn progress(&self, finished: bool, at: OffsetDateTime) -> RequeueProgress {
        let kind = match self.requeue {
            RequeueStep::Parked => RequeueKind::Resume,
            RequeueStep::ReleaseFailed | RequeueStep::Queued => RequeueKind::RetryFailed,
        };
        RequeueProgress {
            kind,
            requeued: self.requeued,
            released: self.released,
            finished,
            dead_lettered: false,
            updated_at: at,
        }
    }
}

/// Which change started a requeue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequeueKind {
    Resume,
    RetryFailed,
}

/// How far a campaign's latest requeue has got, kept on the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequeueProgress {
    pub kind: RequeueKind,
    pub requeued: u64,
    pub released: u64,
    pub finished: bool,
    /// Its job failed three times and reached the dead-letter queue: what it had not done yet
    /// is left undone, and the same command (resume, retry-failed) starts it again.
    #[serde(default)]
    pub dead_lettered: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A message on the split-jobs queue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CampaignJob {
    Requeue(super::RequeueJob),
    Split(super::SplitJob),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_job_and_a_requeue_job_are_told_apart_by_their_requeue_field() {
        let split: CampaignJob = serde_json::from_str(r#"{"campaignId":"c1","resumeAfterRow":5}"#).unwrap();
        assert!(matches!(split, CampaignJob::Split(job) if job.resume_after_row == 5));
        let job = RequeueJob {
            cursor: Some("k".into()),
            requeued: 7,
            ..RequeueJob::resume(CampaignId::parse("c1").unwrap())
        };
        let body = serde_json::to_string(&job).unwrap();
        assert_eq!(serde_json::from_str::<CampaignJob>(&body).unwrap(), CampaignJob::Requeue(job));
        // A requeue job this splitter cannot read is refused, not run as a split from row 0.
        let unreadable = r#"{"campaignId":"c1","requeue":"parked","startedBy":"a later version"}"#;
        assert!(serde_json::from_str::<CampaignJob>(unreadable).is_err());
    }

    #[test]
    fn a_retry_releases_then_requeues_and_a_resume_requeues_the_parked() {
        assert_eq!(RequeueStep::ReleaseFailed.reads(), RecipientStatus::Failed);
        assert_eq!(RequeueStep::ReleaseFailed.next(), Some(RequeueStep::Queued));
        assert_eq!((RequeueStep::Queued.next(), RequeueStep::Parked.next()), (None, None));
        assert_eq!(RequeueStep::Parked.reads(), RecipientStatus::Paused);
    }
}
