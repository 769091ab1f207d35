//! The items the store contracts write: fixed instants, so no contract depends on the date.

use std::collections::BTreeMap;

use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::domain::*;

pub const T0: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

pub fn campaign(id: &str) -> Campaign {
    Campaign {
        id: CampaignId::parse(id).unwrap(),
        template_id: TemplateId::parse("welcome").unwrap(),
        template_version: 2,
        list_key: "lists/l.csv".into(),
        sender: Sender {
            address: EmailAddress::parse("news@example.com").unwrap(),
            name: Some("News".into()),
            reply_to: None,
        },
        shared_vars: BTreeMap::from([("brand".into(), "fanmail".into())]),
        status: CampaignStatus::Queued,
        status_reason: None,
        counters: CampaignCounters::default(),
        created_at: T0,
        updated_at: T0,
        send_at: None,
        schedule_generation: 0,
        idempotency_key: Some("k1".into()),
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

pub fn template(id: &str, version: u32) -> Template {
    Template {
        id: TemplateId::parse(id).unwrap(),
        version,
        name: format!("{id} v{version}"),
        subject: "Hi {{name}}".into(),
        html: "<p>Hi {{name}}</p>".into(),
        text: "Hi {{name}}".into(),
        created_at: T0 + Duration::minutes(version as i64),
        created_by: None,
    }
}

pub fn recipient(campaign: &str, n: u32, status: RecipientStatus) -> Recipient {
    Recipient {
        campaign_id: CampaignId::parse(campaign).unwrap(),
        recipient_id: RecipientId::parse(format!("r{n:04}")).unwrap(),
        address: EmailAddress::parse(&format!("user{n}@example.com")).unwrap(),
        vars: BTreeMap::from([("name".into(), format!("User {n}"))]),
        status,
        row: n as u64 + 1,
        attempts: 0,
        message_id: None,
        last_error: None,
        retryable: false,
        updated_at: T0,
    }
}

/// A send SES accepted with `message_id`.
pub fn sent(id: &RecipientId, message_id: &str) -> SendOutcome {
    let mut outcome = SendOutcome::new(id.clone(), RecipientStatus::Sent);
    outcome.message_id = Some(message_id.into());
    outcome
}
