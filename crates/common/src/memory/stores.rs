use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use time::OffsetDateTime;

use super::paginate;
use crate::domain::{
    Campaign, CampaignId, CampaignStatus, CounterDelta, DeliveryResult, EmailAddress, Recipient, RecipientId,
    RecipientStatus, SendOutcome, SplitTotals, Suppression, SuppressionScope, Template, TemplateId, TemplateSummary,
};
use crate::ports::{CampaignStore, Ledger, Page, RecipientStore, StoreError, SuppressionStore, TemplateStore};

#[derive(Debug, Default)]
pub struct MemoryTemplateStore {
    versions: Mutex<BTreeMap<(TemplateId, u32), Template>>,
    heads: Mutex<BTreeMap<TemplateId, TemplateSummary>>,
}

impl TemplateStore for MemoryTemplateStore {
    async fn put_version(&self, template: &Template) -> Result<(), StoreError> {
        let mut versions = self.versions.lock().unwrap();
        let mut heads = self.heads.lock().unwrap();
        let key = (template.id.clone(), template.version);
        let head_newer = heads.get(&template.id).is_some_and(|h| h.latest_version >= template.version);
        if versions.contains_key(&key) || head_newer {
            return Err(StoreError::AlreadyExists(format!("template {} version {}", template.id, template.version)));
        }
        versions.insert(key, template.clone());
        heads.insert(
            template.id.clone(),
            TemplateSummary {
                id: template.id.clone(),
                name: template.name.clone(),
                latest_version: template.version,
                updated_at: template.created_at,
            },
        );
        Ok(())
    }

    async fn get(&self, id: &TemplateId, version: Option<u32>) -> Result<Option<Template>, StoreError> {
        let version = match version {
            Some(v) => v,
            None => match self.heads.lock().unwrap().get(id) {
                Some(head) => head.latest_version,
                None => return Ok(None),
            },
        };
        Ok(self.versions.lock().unwrap().get(&(id.clone(), version)).cloned())
    }

    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<TemplateSummary>, StoreError> {
        let heads = self.heads.lock().unwrap();
        paginate(heads.values().cloned(), limit, cursor)
    }

    async fn delete(&self, id: &TemplateId) -> Result<bool, StoreError> {
        Ok(self.heads.lock().unwrap().remove(id).is_some())
    }
}

#[derive(Debug, Default)]
pub struct MemoryCampaignStore {
    campaigns: Mutex<BTreeMap<CampaignId, Campaign>>,
}

impl CampaignStore for MemoryCampaignStore {
    async fn create(&self, campaign: &Campaign) -> Result<(), StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        if all.contains_key(&campaign.id) {
            return Err(StoreError::AlreadyExists(format!("campaign {}", campaign.id)));
        }
        all.insert(campaign.id.clone(), campaign.clone());
        Ok(())
    }

    async fn get(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        Ok(self.campaigns.lock().unwrap().get(id).cloned())
    }

    async fn transition(
        &self,
        id: &CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        let campaign = all.get_mut(id).ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        if !from.contains(&campaign.status) {
            return Err(StoreError::Conflict { current: campaign.status.to_string() });
        }
        campaign.status = to;
        campaign.status_reason = reason.map(str::to_string);
        campaign.updated_at = now;
        Ok(campaign.clone())
    }

    async fn reschedule(
        &self,
        id: &CampaignId,
        expected_generation: u32,
        send_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        let campaign = all.get_mut(id).ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        if campaign.status != CampaignStatus::Scheduled || campaign.schedule_generation != expected_generation {
            return Err(StoreError::Conflict { current: campaign.status.to_string() });
        }
        campaign.send_at = Some(send_at);
        campaign.schedule_generation = expected_generation + 1;
        campaign.updated_at = now;
        Ok(campaign.clone())
    }

    async fn set_split_totals(&self, id: &CampaignId, totals: &SplitTotals) -> Result<(), StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        let campaign = all.get_mut(id).ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        campaign.counters.total = totals.total;
        campaign.counters.queued = totals.queued;
        campaign.counters.rejected_rows = totals.rejected_rows;
        campaign.counters.duplicates = totals.duplicates;
        campaign.report_parts = totals.report_parts;
        campaign.split_rows = totals.rows_done;
        campaign.split_finished = totals.finished;
        Ok(())
    }

    async fn add_counters(&self, id: &CampaignId, delta: &CounterDelta) -> Result<(), StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        let campaign = all.get_mut(id).ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        campaign.counters.apply(delta);
        Ok(())
    }
}

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

#[derive(Debug, Default)]
pub struct MemoryRecipientStore {
    rows: Mutex<Rows>,
}

impl MemoryRecipientStore {
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
        return Err(StoreError::Conflict { current: status.to_string() });
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
                    return Err(StoreError::Conflict { current: current.status.to_string() });
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
        let mut rows = self.rows.lock().unwrap();
        let row = row_mut(&mut rows, campaign, &outcome.recipient_id)?;
        if row.status != RecipientStatus::Sending {
            return Err(StoreError::Conflict { current: row.status.to_string() });
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
        let rows = self.rows.lock().unwrap();
        let matching = rows
            .get(campaign)
            .into_iter()
            .flat_map(|r| r.iter())
            .filter(|(_, row)| row.status == status)
            .map(|(id, row)| row.recipient(campaign, id));
        paginate(matching, limit, cursor)
    }
}

#[derive(Debug, Default)]
pub struct MemorySuppressionStore {
    entries: Mutex<BTreeMap<(EmailAddress, SuppressionScope), Suppression>>,
}

impl SuppressionStore for MemorySuppressionStore {
    async fn suppressed_among(
        &self,
        addresses: &[EmailAddress],
        sender: &EmailAddress,
    ) -> Result<HashSet<EmailAddress>, StoreError> {
        let entries = self.entries.lock().unwrap();
        let scopes = [SuppressionScope::All, SuppressionScope::Sender(sender.to_string())];
        Ok(addresses
            .iter()
            .filter(|a| scopes.iter().any(|scope| entries.contains_key(&((*a).clone(), scope.clone()))))
            .cloned()
            .collect())
    }

    async fn put(&self, suppression: &Suppression) -> Result<(), StoreError> {
        self.entries
            .lock()
            .unwrap()
            .insert((suppression.address.clone(), suppression.scope.clone()), suppression.clone());
        Ok(())
    }

    async fn find(&self, address: &EmailAddress) -> Result<Vec<Suppression>, StoreError> {
        Ok(self.entries.lock().unwrap().values().filter(|s| &s.address == address).cloned().collect())
    }

    async fn remove(&self, address: &EmailAddress, scope: &SuppressionScope) -> Result<bool, StoreError> {
        Ok(self.entries.lock().unwrap().remove(&(address.clone(), scope.clone())).is_some())
    }

    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<Suppression>, StoreError> {
        let entries = self.entries.lock().unwrap();
        paginate(entries.values().cloned(), limit, cursor)
    }
}

#[derive(Debug, Default)]
pub struct MemoryLedger {
    once: Mutex<BTreeMap<String, (String, OffsetDateTime)>>,
    sent: Mutex<BTreeMap<String, u64>>,
}

impl Ledger for MemoryLedger {
    async fn record_once(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
        lifetime: time::Duration,
    ) -> Result<Option<String>, StoreError> {
        let mut once = self.once.lock().unwrap();
        match once.get(key) {
            Some((first, until)) if *until >= now => Ok(Some(first.clone())),
            _ => {
                once.insert(key.to_string(), (value.to_string(), now + lifetime));
                Ok(None)
            }
        }
    }

    async fn add_sent(&self, at: OffsetDateTime, count: u64) -> Result<(), StoreError> {
        *self.sent.lock().unwrap().entry(crate::domain::sent_hour_key(at)).or_default() += count;
        Ok(())
    }

    async fn sent_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<u64, StoreError> {
        let sent = self.sent.lock().unwrap();
        Ok(crate::domain::sent_hour_keys(from, to).iter().filter_map(|k| sent.get(k)).sum())
    }
}
