//! A store behind an `Arc` is the same store: one in-memory store can serve several parts of
//! a function (the sender's claims and its send log share the recipients).

use std::collections::HashSet;
use std::sync::Arc;

use time::OffsetDateTime;

use super::{Clock, MailError, Mailer, OutgoingMail, OutgoingMessage, Queue, QueueError, SendQuota};
use crate::domain::{
    Campaign, CampaignId, CampaignStatus, CounterDelta, DeliveryResult, EmailAddress, Recipient, RecipientId,
    RecipientStatus, SendOutcome, SplitTotals, Suppression, SuppressionScope, Template, TemplateId, TemplateSummary,
};
use crate::store::{CampaignStore, Ledger, Page, RecipientStore, StoreError, SuppressionStore, TemplateStore};

impl<T: CampaignStore> CampaignStore for Arc<T> {
    async fn create(&self, campaign: &Campaign) -> Result<(), StoreError> {
        (**self).create(campaign).await
    }
    async fn get(&self, id: &CampaignId) -> Result<Option<Campaign>, StoreError> {
        (**self).get(id).await
    }
    async fn transition(
        &self,
        id: &CampaignId,
        from: &[CampaignStatus],
        to: CampaignStatus,
        reason: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        (**self).transition(id, from, to, reason, now).await
    }
    async fn reschedule(
        &self,
        id: &CampaignId,
        expected_generation: u32,
        send_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Campaign, StoreError> {
        (**self).reschedule(id, expected_generation, send_at, now).await
    }
    async fn set_split_totals(&self, id: &CampaignId, totals: &SplitTotals) -> Result<(), StoreError> {
        (**self).set_split_totals(id, totals).await
    }
    async fn add_counters(&self, id: &CampaignId, delta: &CounterDelta) -> Result<(), StoreError> {
        (**self).add_counters(id, delta).await
    }
}

impl<T: RecipientStore> RecipientStore for Arc<T> {
    async fn get(&self, campaign: &CampaignId, id: &RecipientId) -> Result<Option<Recipient>, StoreError> {
        (**self).get(campaign, id).await
    }
    async fn claim(
        &self,
        recipient: &Recipient,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Recipient, StoreError> {
        (**self).claim(recipient, now, lease_until).await
    }
    async fn claim_batch(
        &self,
        recipients: &[Recipient],
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Vec<Result<Recipient, StoreError>>, StoreError> {
        (**self).claim_batch(recipients, now, lease_until).await
    }
    async fn finish(
        &self,
        campaign: &CampaignId,
        outcome: &SendOutcome,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        (**self).finish(campaign, outcome, now).await
    }
    async fn advance(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        to: RecipientStatus,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        (**self).advance(campaign, id, to, now).await
    }
    async fn note_result(
        &self,
        campaign: &CampaignId,
        id: &RecipientId,
        result: DeliveryResult,
    ) -> Result<bool, StoreError> {
        (**self).note_result(campaign, id, result).await
    }
    async fn find_by_message_id(&self, message_id: &str) -> Result<Option<(CampaignId, RecipientId)>, StoreError> {
        (**self).find_by_message_id(message_id).await
    }
    async fn list_by_status(
        &self,
        campaign: &CampaignId,
        status: RecipientStatus,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Recipient>, StoreError> {
        (**self).list_by_status(campaign, status, limit, cursor).await
    }
}

impl<T: SuppressionStore> SuppressionStore for Arc<T> {
    async fn suppressed_among(
        &self,
        addresses: &[EmailAddress],
        sender: &EmailAddress,
    ) -> Result<HashSet<EmailAddress>, StoreError> {
        (**self).suppressed_among(addresses, sender).await
    }
    async fn put(&self, suppression: &Suppression) -> Result<(), StoreError> {
        (**self).put(suppression).await
    }
    async fn find(&self, address: &EmailAddress) -> Result<Vec<Suppression>, StoreError> {
        (**self).find(address).await
    }
    async fn remove(&self, address: &EmailAddress, scope: &SuppressionScope) -> Result<bool, StoreError> {
        (**self).remove(address, scope).await
    }
    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<Suppression>, StoreError> {
        (**self).list(limit, cursor).await
    }
}

impl<T: Ledger> Ledger for Arc<T> {
    async fn record_once(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
        lifetime: time::Duration,
    ) -> Result<Option<String>, StoreError> {
        (**self).record_once(key, value, now, lifetime).await
    }
    async fn add_sent(&self, at: OffsetDateTime, count: u64) -> Result<(), StoreError> {
        (**self).add_sent(at, count).await
    }
    async fn sent_between(&self, from: OffsetDateTime, to: OffsetDateTime) -> Result<u64, StoreError> {
        (**self).sent_between(from, to).await
    }
}

impl<T: TemplateStore> TemplateStore for Arc<T> {
    async fn put_version(&self, template: &Template) -> Result<(), StoreError> {
        (**self).put_version(template).await
    }
    async fn get(&self, id: &TemplateId, version: Option<u32>) -> Result<Option<Template>, StoreError> {
        (**self).get(id, version).await
    }
    async fn list(&self, limit: u32, cursor: Option<&str>) -> Result<Page<TemplateSummary>, StoreError> {
        (**self).list(limit, cursor).await
    }
    async fn delete(&self, id: &TemplateId) -> Result<bool, StoreError> {
        (**self).delete(id).await
    }
}

impl<T: Mailer> Mailer for Arc<T> {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        (**self).send(mail).await
    }
    async fn quota(&self) -> Result<SendQuota, MailError> {
        (**self).quota().await
    }
}

impl<T: Queue> Queue for Arc<T> {
    async fn send_all(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        (**self).send_all(messages).await
    }
}

impl<T: Clock> Clock for Arc<T> {
    fn now(&self) -> OffsetDateTime {
        (**self).now()
    }
}
