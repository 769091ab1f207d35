//! In memory, for tests and the simulation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::domain::{Campaign, CampaignId, CampaignStatus, CounterDelta, SplitTotals};
use crate::store::campaigns::{check_transition, listing_key, CampaignReader};
use crate::store::{CampaignStore, Page, StoreError};

#[derive(Debug, Default, Clone)]
pub struct MemoryCampaignStore {
    campaigns: Arc<Mutex<BTreeMap<CampaignId, Campaign>>>,
}

impl CampaignReader for MemoryCampaignStore {
    async fn get(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        Ok(self.campaigns.lock().unwrap().get(id).cloned())
    }

    async fn list(
        &self,
        status: Option<CampaignStatus>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Campaign>, StoreError> {
        // The cursor is the listing key of the last campaign answered.
        let after = cursor.map(|c| c.to_string());
        let mut listed: Vec<(String, Campaign)> = self
            .campaigns
            .lock()
            .unwrap()
            .values()
            .filter(|c| status.is_none_or(|s| c.status == s))
            .map(|c| (listing_key(c), c.clone()))
            .filter(|(key, _)| after.as_ref().is_none_or(|after| key < after))
            .collect();
        listed.sort_by(|a, b| b.0.cmp(&a.0));
        let limit = limit.clamp(1, 1000) as usize;
        let next = (listed.len() > limit).then(|| listed[limit - 1].0.clone());
        Ok(Page { items: listed.into_iter().take(limit).map(|(_, c)| c).collect(), next })
    }
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

    async fn transition(
        &self,
        id: &CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        reason: Option<&str>,
        by: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        check_transition(from, to);
        let mut all = self.campaigns.lock().unwrap();
        let campaign = all.get_mut(id).ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        if !from.contains(&campaign.status) {
            return Err(StoreError::Conflict { current: campaign.status.into() });
        }
        campaign.status = to;
        campaign.status_reason = reason.map(str::to_string);
        campaign.updated_at = now;
        if let Some(by) = by {
            campaign.updated_by = Some(by.to_string());
        }
        Ok(campaign.clone())
    }

    async fn reschedule(
        &self,
        id: &CampaignId,
        expected_generation: u32,
        send_at: OffsetDateTime,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        let campaign = all.get_mut(id).ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        if campaign.status != CampaignStatus::Scheduled || campaign.schedule_generation != expected_generation {
            return Err(StoreError::Conflict { current: campaign.status.into() });
        }
        campaign.send_at = Some(send_at);
        campaign.schedule_generation = expected_generation + 1;
        campaign.updated_at = now;
        campaign.updated_by = Some(by.to_string());
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
