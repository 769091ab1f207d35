//! Crash injection: an instance armed for a point of the send path dies there, mid-invocation,
//! as a Lambda process that runs out of memory or is killed would. Its messages are neither
//! acknowledged nor failed; the queue redelivers them after the visibility timeout.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use fanmail_common::domain::{CampaignId, DeliveryResult, Recipient, RecipientId, RecipientStatus, SendOutcome};
use fanmail_common::store::{Page, RecipientStore, StoreError};
use time::OffsetDateTime;
use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CrashPoint {
    /// Messages received, nothing claimed yet.
    BeforeClaim,
    /// Recipients claimed, nothing sent.
    AfterClaim,
    /// SES accepted a mail; its outcome is not written yet (the documented duplicate window).
    AfterAccepted,
    /// Lambda stopped the invocation at its timeout, wherever it was (never armed at random).
    TimedOut,
}

impl CrashPoint {
    pub const ALL: [CrashPoint; 3] = [Self::BeforeClaim, Self::AfterClaim, Self::AfterAccepted];

    pub fn name(self) -> &'static str {
        match self {
            Self::BeforeClaim => "before_claim",
            Self::AfterClaim => "after_claim",
            Self::AfterAccepted => "after_ses_accepted",
            Self::TimedOut => "timed_out",
        }
    }
}

/// One instance's crash switch, armed for at most one point per invocation.
#[derive(Default)]
pub struct Crash {
    armed: Mutex<Option<CrashPoint>>,
    fired: Notify,
    invocation: AtomicU64,
}

impl Crash {
    pub fn arm(&self, invocation: u64, point: Option<CrashPoint>) {
        self.invocation.store(invocation, Ordering::Relaxed);
        *self.armed.lock().unwrap() = point;
    }

    pub fn invocation(&self) -> u64 {
        self.invocation.load(Ordering::Relaxed)
    }

    /// Reached `point`: if armed for it, the instance dies here (this never returns).
    pub async fn at(&self, point: CrashPoint) {
        let hit = {
            let mut armed = self.armed.lock().unwrap();
            let hit = *armed == Some(point);
            if hit {
                *armed = None;
            }
            hit
        };
        if hit {
            self.fired.notify_one();
            std::future::pending::<()>().await;
        }
    }

    /// Resolves once the instance has died.
    pub async fn fired(&self) {
        self.fired.notified().await
    }
}

/// DynamoDB throttling: every `every`-th claim or outcome write is refused (0: none).
#[derive(Default)]
pub struct Throttle {
    pub every: u64,
    calls: AtomicU64,
    throttled: AtomicU64,
}

impl Throttle {
    pub fn every(every: u64) -> Self {
        Self { every, ..Self::default() }
    }

    fn hit(&self) -> bool {
        let hit = self.every > 0 && (self.calls.fetch_add(1, Ordering::Relaxed) + 1) % self.every == 0;
        if hit {
            self.throttled.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}

/// The recipient store as one instance sees it: its crash points around the claim, and
/// DynamoDB throttling of claims and outcome writes.
pub struct CrashingRecipients<R> {
    pub inner: R,
    pub crash: std::sync::Arc<Crash>,
    pub throttle: std::sync::Arc<Throttle>,
}

impl<R: RecipientStore> RecipientStore for CrashingRecipients<R> {
    async fn get(&self, campaign: &CampaignId, id: &RecipientId) -> Result<Option<Recipient>, StoreError> {
        self.inner.get(campaign, id).await
    }
    async fn claim(
        &self,
        recipient: &Recipient,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Recipient, StoreError> {
        self.inner.claim(recipient, now, lease_until).await
    }
    async fn claim_batch(
        &self,
        recipients: &[Recipient],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<Result<Recipient, StoreError>>, StoreError> {
        self.crash.at(CrashPoint::BeforeClaim).await;
        if self.throttle.hit() {
            return Err(StoreError::Throttled);
        }
        let claims = self.inner.claim_batch(recipients, now, lease_until).await;
        self.crash.at(CrashPoint::AfterClaim).await;
        claims
    }
    async fn finish(
        &self,
        campaign: &CampaignId,
        outcome: &SendOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        if self.throttle.hit() {
            return Err(StoreError::Throttled);
        }
        self.inner.finish(campaign, outcome, now).await
    }
    async fn advance(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        to: RecipientStatus,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.advance(campaign, id, to, now).await
    }
    async fn release_failed(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.inner.release_failed(campaign, id, now).await
    }
    async fn note_result(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        result: DeliveryResult,
    ) -> Result<bool, StoreError> {
        self.inner.note_result(campaign, id, result).await
    }
    async fn find_by_message_id(&self, message_id: &str) -> Result<Option<(CampaignId, RecipientId)>, StoreError> {
        self.inner.find_by_message_id(message_id).await
    }
    async fn list_by_status(
        &self,
        campaign: &CampaignId,
        status: RecipientStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Recipient>, StoreError> {
        self.inner.list_by_status(campaign, status, limit, cursor).await
    }
}

/// Invocations that died after SES accepted mails, whose recipients may rightly get a second mail.
#[derive(Default)]
pub struct CrashLog {
    pub in_window: Mutex<HashSet<u64>>,
    pub counts: Mutex<std::collections::BTreeMap<CrashPoint, u64>>,
}

impl CrashLog {
    pub fn record(&self, invocation: u64, point: CrashPoint) {
        *self.counts.lock().unwrap().entry(point).or_default() += 1;
        if matches!(point, CrashPoint::AfterAccepted | CrashPoint::TimedOut) {
            self.in_window.lock().unwrap().insert(invocation);
        }
    }
}
