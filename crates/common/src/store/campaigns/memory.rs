//! In memory, for tests and the simulation.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;

use crate::domain::{Campaign, CampaignId, CampaignStatus, CounterDelta, RequeueProgress, SplitTotals};
use crate::store::campaigns::{check_transition, listing_key, CampaignReader};
use crate::store::{CampaignStore, Page, StoreError};

/// A change made to a campaign once it has been read a number of times more.
type LaterChange = (usize, Box<dyn FnOnce(&mut Campaign) + Send>);

#[derive(Default, Clone)]
pub struct MemoryCampaignStore {
    campaigns: Arc<Mutex<BTreeMap<CampaignId, Campaign>>>,
    after_reads: Arc<Mutex<Option<(CampaignId, LaterChange)>>>,
}

impl std::fmt::Debug for MemoryCampaignStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCampaignStore").field("campaigns", &self.campaigns).finish_non_exhaustive()
    }
}

impl MemoryCampaignStore {
    /// Changes campaign `id` right after it has been read `reads` more times, as another
    /// writer would between two of a caller's reads (a race a test must be able to set up).
    pub fn change_after_reads(
        &self,
        id: &CampaignId,
        reads: usize,
        change: impl FnOnce(&mut Campaign) + Send + 'static,
    ) {
        *self.after_reads.lock().unwrap() = Some((id.clone(), (reads, Box::new(change))));
    }
}

impl CampaignReader for MemoryCampaignStore {
    async fn get(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        let read = all.get(id).cloned();
        let mut pending = self.after_reads.lock().unwrap();
        if let Some((_, (reads, _))) = pending.as_mut().filter(|(target, _)| target == id) {
            *reads = reads.saturating_sub(1);
            if *reads == 0 {
                let (_, (_, change)) = pending.take().expect("just matched");
                if let Some(campaign) = all.get_mut(id) {
                    change(campaign);
                }
            }
        }
        Ok(read)
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
        if let Some(format) = totals.list_format {
            campaign.list_format = Some(format.to_string());
        }
        Ok(())
    }

    async fn set_requeue_progress(&self, id: &CampaignId, progress: &RequeueProgress) -> Result<(), StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        let campaign = all.get_mut(id).ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        campaign.requeue = Some(*progress);
        Ok(())
    }

    async fn add_counters(&self, id: &CampaignId, delta: &CounterDelta) -> Result<(), StoreError> {
        let mut all = self.campaigns.lock().unwrap();
        let campaign = all.get_mut(id).ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        campaign.counters.apply(delta);
        Ok(())
    }
}
