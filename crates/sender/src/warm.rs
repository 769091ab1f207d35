//! What a warm instance keeps between invocations: the campaigns it read (for two seconds),
//! the templates it compiled, its pacer at its share of the account's rate, and one at its
//! share of each campaign's own `maxRate`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fanmail_common::domain::{Campaign, CampaignId, TemplateId};
use fanmail_common::pacing::Pacer;
use fanmail_common::ports::{Clock, Mailer};
use fanmail_common::render::MailTemplate;
use fanmail_common::store::campaigns::complete_if_done;
use fanmail_common::store::{CampaignReader, StoreError, TemplateStore};
use fanmail_common::wiring::Ports;

use crate::*;

/// State a warm instance keeps between invocations.
pub struct Warm {
    pub(crate) campaigns: Mutex<HashMap<CampaignId, (tokio::time::Instant, Arc<Campaign>)>>,
    pub(crate) templates: Mutex<HashMap<(TemplateId, u32), Arc<MailTemplate>>>,
    pub(crate) pacer: Pacer,
    /// Campaigns with a `maxRate`: this instance's share of it.
    campaign_pacers: Mutex<HashMap<CampaignId, Arc<Pacer>>>,
    pub(crate) quota_read_at: Mutex<Option<tokio::time::Instant>>,
    /// Why the account cannot send, from its last quota read (its daily quota used up).
    pub(crate) quota_used_up: Mutex<Option<String>>,
}

impl Warm {
    pub fn new(config: &Config) -> Self {
        let rate = config.instance_rate(None);
        Self {
            campaigns: Mutex::default(),
            templates: Mutex::default(),
            pacer: Pacer::new(rate, rate.ceil().max(1.0) as u32),
            campaign_pacers: Mutex::default(),
            quota_read_at: Mutex::default(),
            quota_used_up: Mutex::default(),
        }
    }

    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    pub(crate) fn blocked(&self) -> Option<String> {
        self.quota_used_up.lock().unwrap().clone()
    }

    /// The pacer for this instance's share of the campaign's `maxRate`, if it has one.
    pub(crate) fn campaign_pacer(&self, campaign: &Campaign, sender_concurrency: u32) -> Option<Arc<Pacer>> {
        let rate = f64::from(campaign.max_rate?) / f64::from(sender_concurrency.max(1));
        let mut pacers = self.campaign_pacers.lock().unwrap();
        let pacer = pacers
            .entry(campaign.id.clone())
            .or_insert_with(|| Arc::new(Pacer::new(rate, rate.ceil().max(1.0) as u32)));
        pacer.set_rate(rate);
        Some(pacer.clone())
    }
}

impl<P: Ports> Deps<P> {
    /// The campaign, from this instance's short-lived cache.
    pub(crate) async fn campaign(&self, id: &CampaignId) -> Result<Option<Arc<Campaign>>, StoreError> {
        let now = tokio::time::Instant::now();
        if let Some((read_at, campaign)) = self.warm.campaigns.lock().unwrap().get(id) {
            if now.duration_since(*read_at) < CAMPAIGN_CACHE_TTL {
                return Ok(Some(campaign.clone()));
            }
        }
        let Some(campaign) = self.campaigns.get(id).await? else { return Ok(None) };
        let campaign = Arc::new(campaign);
        self.warm.campaigns.lock().unwrap().insert(id.clone(), (now, campaign.clone()));
        Ok(Some(campaign))
    }

    /// Reads the campaign afresh after this instance recorded outcomes, and completes it if
    /// they were its last.
    pub(crate) async fn complete_if_done(&self, id: &CampaignId) -> Result<(), StoreError> {
        let read_at = tokio::time::Instant::now();
        let Some(campaign) = self.campaigns.get(id).await? else { return Ok(()) };
        let campaign = complete_if_done(&self.campaigns, campaign, self.clock.now()).await?;
        self.warm.campaigns.lock().unwrap().insert(id.clone(), (read_at, Arc::new(campaign)));
        Ok(())
    }

    /// The pinned template, compiled once per instance.
    pub(crate) async fn template(&self, campaign: &Campaign) -> Result<Option<Arc<MailTemplate>>, StoreError> {
        let key = (campaign.template_id.clone(), campaign.template_version);
        if let Some(compiled) = self.warm.templates.lock().unwrap().get(&key) {
            return Ok(Some(compiled.clone()));
        }
        let Some(template) = self.templates.get(&key.0, Some(key.1)).await? else { return Ok(None) };
        let Ok(compiled) = MailTemplate::compile(&template.subject, &template.html, &template.text) else {
            return Ok(None);
        };
        let compiled = Arc::new(compiled);
        self.warm.templates.lock().unwrap().insert(key, compiled.clone());
        Ok(Some(compiled))
    }

    /// Reads the account's rate now and then, and paces this instance to its share.
    pub(crate) async fn refresh_rate(&self) {
        let now = tokio::time::Instant::now();
        {
            let mut read_at = self.warm.quota_read_at.lock().unwrap();
            if read_at.is_some_and(|at| now.duration_since(at) < QUOTA_REFRESH) {
                return;
            }
            *read_at = Some(now);
        }
        let account_rate = match self.mailer.quota().await {
            Ok(quota) => {
                // The daily quota is checked before sending, not discovered one refusal at a time.
                *self.warm.quota_used_up.lock().unwrap() = (quota.max_24_hour_send > 0.0
                    && quota.sent_last_24_hours >= quota.max_24_hour_send)
                    .then(|| format!("the daily quota of {} mails is used up", quota.max_24_hour_send));
                Some(quota.max_send_rate)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the account's send quota; using MAX_SEND_RATE");
                None
            }
        };
        self.warm.pacer.set_rate(self.config.instance_rate(account_rate));
    }
}
