//! In memory, for tests and the simulation.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::domain::{CampaignId, DeliveryResult, EmailAddress, Recipient, RecipientId, RecipientStatus, SendOutcome};
use crate::store::{Page, RecipientStore, StoreError};

/// One stored recipient, kept compact so a simulated campaign of a million recipients fits in
/// memory: the ids live in the keys, the list row's columns as one JSON string.
#[derive(Debug, Clone)]
struct RecipientRow {
    address: EmailAddress,
    vars: Box<str>,
    status: RecipientStatus,
    row: u64,
    attempts: u32,
    retryable: bool,
    message_id: Option<Box<str>>,
    last_error: Option<Box<str>>,
    updated_at: OffsetDateTime,
    lease_until: Option<OffsetDateTime>,
    /// The delivery results noted, one bit each.
    results: u8,
}

impl RecipientRow {
    fn claimed(recipient: &Recipient, attempts: u32, now: OffsetDateTime, lease_until: OffsetDateTime) -> Self {
        Self {
            address: recipient.address.clone(),
            vars: serde_json::to_string(&recipient.vars).expect("string maps serialise").into_boxed_str(),
            status: RecipientStatus::Sending,
            row: recipient.row,
            attempts,
            retryable: false,
            message_id: None,
            last_error: None,
            updated_at: now,
            lease_until: Some(lease_until),
            results: 0,
        }
    }

    fn recipient(&self, campaign: &CampaignId, id: &RecipientId) -> Recipient {
        Recipient {
            campaign_id: campaign.clone(),
            recipient_id: id.clone(),
            address: self.address.clone(),
            vars: serde_json::from_str(&self.vars).expect("stored as JSON"),
            status: self.status,
            row: self.row,
            attempts: self.attempts,
            message_id: self.message_id.as_deref().map(str::to_string),
            last_error: self.last_error.as_deref().map(str::to_string),
            retryable: self.retryable,
            updated_at: self.updated_at,
        }
    }
}

type Rows = BTreeMap<CampaignId, BTreeMap<RecipientId, RecipientRow>>;

#[derive(Debug, Default, Clone)]
pub struct MemoryRecipientStore {
    rows: Arc<Mutex<Rows>>,
    /// Outcome writes still to refuse as throttled, as DynamoDB does under load.
    throttled_finishes: Arc<std::sync::atomic::AtomicU32>,
    /// Claims still to refuse as throttled.
    throttled_claims: Arc<std::sync::atomic::AtomicU32>,
}

impl MemoryRecipientStore {
    /// Refuses the next `n` outcome writes ([`RecipientStore::finish`]) as throttled.
    pub fn throttle_next_finishes(&self, n: u32) {
        self.throttled_finishes.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Refuses the next `n` claims ([`RecipientStore::claim`]) as throttled.
    pub fn throttle_next_claims(&self, n: u32) {
        self.throttled_claims.store(n, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn all(&self) -> Vec<Recipient> {
        let rows = self.rows.lock().unwrap();
        rows.iter().flat_map(|(c, recipients)| recipients.iter().map(move |(id, row)| row.recipient(c, id))).collect()
    }

    /// How many recipients of a campaign are in each status.
    pub fn count_by_status(&self, campaign: &CampaignId) -> BTreeMap<RecipientStatus, u64> {
        let mut counts = BTreeMap::new();
        for row in self.rows.lock().unwrap().get(campaign).into_iter().flat_map(|r| r.values()) {
            *counts.entry(row.status).or_default() += 1;
        }
        counts
    }
}

fn missing(campaign: &CampaignId, id: &RecipientId) -> StoreError {
    StoreError::NotFound(format!("recipient {campaign}/{id}"))
}

fn row_mut<'a>(
    rows: &'a mut Rows,
    campaign: &CampaignId,
    id: &RecipientId,
) -> Result<&'a mut RecipientRow, StoreError> {
    rows.get_mut(campaign).and_then(|r| r.get_mut(id)).ok_or_else(|| missing(campaign, id))
}

/// The row of a sent recipient (`None` if it ended unsent); `Conflict` while it is in flight.
fn sent_row<'a>(
    rows: &'a mut Rows,
    campaign: &CampaignId,
    id: &RecipientId,
) -> Result<Option<&'a mut RecipientRow>, StoreError> {
    let row = row_mut(rows, campaign, id)?;
    let status = row.status;
    if status.in_flight() {
        return Err(StoreError::Conflict { current: status.into() });
    }
    Ok(status.was_sent().then_some(row))
}

impl RecipientStore for MemoryRecipientStore {
    async fn get(&self, campaign: &CampaignId, id: &RecipientId) -> Result<Option<Recipient>, StoreError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.get(campaign).and_then(|r| r.get(id)).map(|row| row.recipient(campaign, id)))
    }

    async fn claim(
        &self,
        recipient: &Recipient,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Recipient, StoreError> {
        if self.throttled_claims.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::Throttled);
        }
        let mut rows = self.rows.lock().unwrap();
        let campaign = rows.entry(recipient.campaign_id.clone()).or_default();
        let attempts = match campaign.get(&recipient.recipient_id) {
            None => 0,
            Some(current) => {
                let lease_expired = current.lease_until.is_some_and(|until| until < now);
                let claimable = matches!(current.status, RecipientStatus::Queued | RecipientStatus::Paused)
                    || (current.status == RecipientStatus::Sending && lease_expired)
                    || (current.status == RecipientStatus::Failed && current.retryable);
                if !claimable {
                    return Err(StoreError::Conflict { current: current.status.into() });
                }
                current.attempts
            }
        };
        let row = RecipientRow::claimed(recipient, attempts + 1, now, lease_until);
        let claimed = row.recipient(&recipient.campaign_id, &recipient.recipient_id);
        campaign.insert(recipient.recipient_id.clone(), row);
        Ok(claimed)
    }

    async fn finish(
        &self,
        campaign: &CampaignId,
        outcome: &SendOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let throttled = &self.throttled_finishes;
        if throttled.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(StoreError::Throttled);
        }
        let mut rows = self.rows.lock().unwrap();
        let row = row_mut(&mut rows, campaign, &outcome.recipient_id)?;
        if row.status != RecipientStatus::Sending {
            return Err(StoreError::Conflict { current: row.status.into() });
        }
        row.status = outcome.status;
        row.updated_at = now;
        row.retryable = outcome.retryable;
        row.lease_until = None;
        if let Some(message_id) = &outcome.message_id {
            row.message_id = Some(message_id.as_str().into());
        }
        if let Some(error) = &outcome.error {
            row.last_error = Some(error.as_str().into());
        }
        Ok(())
    }

    async fn release_failed(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let row = row_mut(&mut rows, campaign, id)?;
        if row.status != RecipientStatus::Failed || !row.retryable {
            return Ok(false);
        }
        row.status = RecipientStatus::Queued;
        row.updated_at = now;
        Ok(true)
    }

    async fn advance(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        to: RecipientStatus,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = sent_row(&mut rows, campaign, id)? else { return Ok(false) };
        if row.status.rank() >= to.rank() {
            return Ok(false);
        }
        row.status = to;
        row.updated_at = now;
        Ok(true)
    }

    async fn note_result(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        result: DeliveryResult,
    ) -> Result<bool, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = sent_row(&mut rows, campaign, id)? else { return Ok(false) };
        let bit = 1u8 << result as u8;
        let first = row.results & bit == 0;
        row.results |= bit;
        Ok(first)
    }

    async fn find_by_message_id(&self, message_id: &str) -> Result<Option<(CampaignId, RecipientId)>, StoreError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows.iter().find_map(|(campaign, recipients)| {
            recipients
                .iter()
                .find(|(_, row)| row.message_id.as_deref() == Some(message_id))
                .map(|(id, _)| (campaign.clone(), id.clone()))
        }))
    }

    async fn list_by_status(
        &self,
        campaign: &CampaignId,
        status: RecipientStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Recipient>, StoreError> {
        // The cursor is the last id of the page, as DynamoDB's is its last key: a page is right
        // even when recipients of an earlier one have changed status since.
        let after = match cursor {
            None => None,
            Some(c) => Some(RecipientId::parse(c).map_err(|_| StoreError::BadCursor)?),
        };
        let limit = limit.clamp(1, 1000) as usize;
        let rows = self.rows.lock().unwrap();
        let mut items: Vec<Recipient> = rows
            .get(campaign)
            .into_iter()
            .flat_map(|r| match &after {
                Some(after) => r.range::<RecipientId, _>((Bound::Excluded(after), Bound::Unbounded)),
                None => r.range::<RecipientId, _>(..),
            })
            .filter(|(_, row)| row.status == status)
            .take(limit + 1)
            .map(|(id, row)| row.recipient(campaign, id))
            .collect();
        let more = items.len() > limit;
        items.truncate(limit);
        let next = more.then(|| items.last().map(|r| r.recipient_id.to_string())).flatten();
        Ok(Page { items, next })
    }
}
