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

#[derive(Debug, Clone)]
struct RecipientRow {
    recipient: Recipient,
    lease_until: Option<OffsetDateTime>,
    results: HashSet<DeliveryResult>,
}

#[derive(Debug, Default)]
pub struct MemoryRecipientStore {
    rows: Mutex<BTreeMap<(CampaignId, RecipientId), RecipientRow>>,
}

impl MemoryRecipientStore {
    pub fn all(&self) -> Vec<Recipient> {
        self.rows.lock().unwrap().values().map(|r| r.recipient.clone()).collect()
    }
}

fn missing(campaign: &CampaignId, id: &RecipientId) -> StoreError {
    StoreError::NotFound(format!("recipient {campaign}/{id}"))
}

/// The row of a sent recipient (`None` if it ended unsent); `Conflict` while it is in flight.
fn sent_row<'a>(
    rows: &'a mut BTreeMap<(CampaignId, RecipientId), RecipientRow>,
    campaign: &CampaignId,
    id: &RecipientId,
) -> Result<Option<&'a mut RecipientRow>, StoreError> {
    let row = rows.get_mut(&(campaign.clone(), id.clone())).ok_or_else(|| missing(campaign, id))?;
    let status = row.recipient.status;
    if status.in_flight() {
        return Err(StoreError::Conflict { current: status.to_string() });
    }
    Ok(status.was_sent().then_some(row))
}

impl RecipientStore for MemoryRecipientStore {
    async fn get(&self, campaign: &CampaignId, id: &RecipientId) -> Result<Option<Recipient>, StoreError> {
        Ok(self.rows.lock().unwrap().get(&(campaign.clone(), id.clone())).map(|r| r.recipient.clone()))
    }

    async fn claim(
        &self,
        recipient: &Recipient,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Recipient, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let key = (recipient.campaign_id.clone(), recipient.recipient_id.clone());
        let attempts = match rows.get(&key) {
            None => 0,
            Some(row) => {
                let current = &row.recipient;
                let lease_expired = row.lease_until.is_some_and(|until| until < now);
                let claimable = matches!(current.status, RecipientStatus::Queued | RecipientStatus::Paused)
                    || (current.status == RecipientStatus::Sending && lease_expired)
                    || (current.status == RecipientStatus::Failed && current.retryable);
                if !claimable {
                    return Err(StoreError::Conflict { current: current.status.to_string() });
                }
                current.attempts
            }
        };
        let mut claimed = recipient.clone();
        claimed.status = RecipientStatus::Sending;
        claimed.attempts = attempts + 1;
        claimed.retryable = false;
        claimed.updated_at = now;
        rows.insert(
            key,
            RecipientRow { recipient: claimed.clone(), lease_until: Some(lease_until), results: HashSet::new() },
        );
        Ok(claimed)
    }

    async fn finish(
        &self,
        campaign: &CampaignId,
        outcome: &SendOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut rows = self.rows.lock().unwrap();
        let row = rows
            .get_mut(&(campaign.clone(), outcome.recipient_id.clone()))
            .ok_or_else(|| missing(campaign, &outcome.recipient_id))?;
        if row.recipient.status != RecipientStatus::Sending {
            return Err(StoreError::Conflict { current: row.recipient.status.to_string() });
        }
        let r = &mut row.recipient;
        r.status = outcome.status;
        r.updated_at = now;
        r.retryable = outcome.retryable;
        row.lease_until = None;
        if let Some(message_id) = &outcome.message_id {
            r.message_id = Some(message_id.clone());
        }
        if let Some(error) = &outcome.error {
            r.last_error = Some(error.clone());
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
        let row = sent_row(&mut rows, campaign, id)?;
        let Some(row) = row else { return Ok(false) };
        if row.recipient.status.rank() >= to.rank() {
            return Ok(false);
        }
        row.recipient.status = to;
        row.recipient.updated_at = now;
        Ok(true)
    }

    async fn note_result(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        result: DeliveryResult,
    ) -> Result<bool, StoreError> {
        let mut rows = self.rows.lock().unwrap();
        match sent_row(&mut rows, campaign, id)? {
            Some(row) => Ok(row.results.insert(result)),
            None => Ok(false),
        }
    }

    async fn find_by_message_id(&self, message_id: &str) -> Result<Option<(CampaignId, RecipientId)>, StoreError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .values()
            .find(|row| row.recipient.message_id.as_deref() == Some(message_id))
            .map(|row| (row.recipient.campaign_id.clone(), row.recipient.recipient_id.clone())))
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
            .values()
            .filter(|r| &r.recipient.campaign_id == campaign && r.recipient.status == status)
            .map(|r| r.recipient.clone());
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
        expires_at: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let mut once = self.once.lock().unwrap();
        let now = OffsetDateTime::now_utc();
        match once.get(key) {
            Some((first, until)) if *until >= now => Ok(Some(first.clone())),
            _ => {
                once.insert(key.to_string(), (value.to_string(), expires_at));
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
