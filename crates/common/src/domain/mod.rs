//! Pure domain types: no AWS types, no I/O.

mod campaign;
mod email;
mod hours;
mod ids;
mod recipient;
mod suppression;
mod template;
mod zoned;

pub use campaign::{
    rejected_rows_key, Campaign, CampaignCounters, CampaignStatus, CounterDelta, RejectedRow, ScheduledSend, Sender,
    SplitJob, SplitTotals,
};
pub use email::{EmailAddress, EmailError};
pub use hours::{sent_hour_key, sent_hour_keys};
pub use ids::{CampaignId, IdError, RecipientId, TemplateId};
pub use recipient::{Recipient, RecipientJob, RecipientStatus};
pub use suppression::{Suppression, SuppressionReason, SuppressionScope};
pub use template::{Template, TemplateSummary};
pub use zoned::{zoned_to_utc, ZoneError};
