//! Pure domain types: no AWS types, no I/O.

mod audit;
mod campaign;
mod counters;
mod delivery;
mod email;
mod hours;
mod ids;
mod recipient;
mod requeue;
mod send_at;
mod suppression;
mod template;
mod unsubscribe;
mod zoned;

pub use audit::{Actor, AuditAction, AuditEntry, AuditSubject, SES_EVENTS, UNSUBSCRIBE_LINK};
pub use campaign::{
    rejected_rows_key, Campaign, CampaignStatus, Priority, RejectedRow, ScheduledSend, Sender, SplitJob, SplitTotals,
    TRANSITIONS,
};
pub use counters::{CampaignCounters, Counter, CounterDelta};
pub use delivery::{
    auto_pause_reason, DeliveryResult, PAUSE_BOUNCE_RATE, PAUSE_COMPLAINT_RATE, PAUSE_MIN_SENT, SOFT_BOUNCE_LIMIT,
    SOFT_BOUNCE_WINDOW,
};
pub use email::{redact_addresses, EmailAddress, EmailError};
pub use hours::{sent_hour_key, sent_hour_keys};
pub use ids::{CampaignId, IdError, RecipientId, TemplateId};
pub use recipient::{
    accepted_key, Recipient, RecipientJob, RecipientRetention, RecipientStatus, SendOutcome, ACCEPTED_LIFETIME,
};
pub use requeue::{CampaignJob, RequeueJob, RequeueKind, RequeueProgress, RequeueStep};
pub use send_at::{SendAt, SendAtError};
pub use suppression::{Suppression, SuppressionReason, SuppressionScope};
pub use template::{Template, TemplateSummary};
pub use unsubscribe::{TokenError, UnsubscribeKey, UnsubscribeToken};
pub use zoned::{zoned_to_utc, ZoneError};

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub fn campaign() -> Campaign {
        let at = time::macros::datetime!(2026-11-23 09:00 UTC);
        Campaign {
            id: CampaignId::parse("c1").unwrap(),
            template_id: TemplateId::parse("t1").unwrap(),
            template_version: 1,
            list_key: "lists/l.csv".into(),
            sender: Sender { address: EmailAddress::parse("news@example.com").unwrap(), name: None, reply_to: None },
            shared_vars: Default::default(),
            status: CampaignStatus::Queued,
            status_reason: None,
            counters: Default::default(),
            created_at: at,
            updated_at: at,
            send_at: None,
            schedule_generation: 0,
            idempotency_key: None,
            report_parts: 0,
            split_rows: 0,
            split_finished: false,
            max_rate: None,
            priority: Default::default(),
            created_by: None,
            updated_by: None,
            list_format: None,
            email_column: None,
            requeue: None,
        }
    }
}
