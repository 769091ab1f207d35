//! JSON shapes of API answers (camelCase; storage keeps its own names).

use std::collections::{BTreeMap, BTreeSet};

use fanmail_common::domain::{
    Campaign, CampaignCounters, Recipient, RequeueKind, RequeueProgress, Suppression, SuppressionScope, Template,
    TemplateSummary,
};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateView<'a> {
    pub id: &'a str,
    pub version: u32,
    pub name: &'a str,
    pub subject: &'a str,
    pub html: &'a str,
    pub text: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<&'a str>,
    /// The fields the template reads (list columns, shared variables, built-ins).
    pub variables: &'a BTreeSet<String>,
}

impl<'a> TemplateView<'a> {
    pub fn new(t: &'a Template, variables: &'a BTreeSet<String>) -> Self {
        Self {
            id: t.id.as_str(),
            version: t.version,
            name: &t.name,
            subject: &t.subject,
            html: &t.html,
            text: &t.text,
            created_at: t.created_at,
            created_by: t.created_by.as_deref(),
            variables,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateSummaryView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub latest_version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<&'a str>,
}

impl<'a> From<&'a TemplateSummary> for TemplateSummaryView<'a> {
    fn from(t: &'a TemplateSummary) -> Self {
        Self {
            id: t.id.as_str(),
            name: &t.name,
            latest_version: t.latest_version,
            updated_at: t.updated_at,
            updated_by: t.updated_by.as_deref(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageView<T: Serialize> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SenderView<'a> {
    pub address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CounterView {
    pub total: u64,
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    pub stopped: u64,
    pub duplicates: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub complained: u64,
    pub soft_bounced: u64,
    pub opened: u64,
    pub clicked: u64,
    pub unsubscribed: u64,
}

impl From<&CampaignCounters> for CounterView {
    fn from(c: &CampaignCounters) -> Self {
        Self {
            total: c.total,
            queued: c.queued,
            sent: c.sent,
            failed: c.failed,
            skipped: c.skipped,
            stopped: c.stopped,
            duplicates: c.duplicates,
            delivered: c.delivered,
            bounced: c.bounced,
            complained: c.complained,
            soft_bounced: c.soft_bounced,
            opened: c.opened,
            clicked: c.clicked,
            unsubscribed: c.unsubscribed,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignView<'a> {
    pub id: &'a str,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<&'a str>,
    pub template_id: &'a str,
    pub template_version: u32,
    pub list_key: &'a str,
    pub from: SenderView<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<&'a str>,
    pub vars: &'a BTreeMap<String, String>,
    pub counters: CounterView,
    pub rejected_rows: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub send_at: Option<OffsetDateTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_rate: Option<u32>,
    pub priority: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<&'a str>,
    /// How the list was read: its text encoding (`UTF-8`, `UTF-16LE`, `EUC-KR`, ...) or
    /// `xlsx`, once the split has begun.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_format: Option<&'a str>,
    /// The list's address column as the user named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_column: Option<&'a str>,
    /// How far its latest resume or retry has got re-queueing recipients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requeue: Option<RequeueView>,
}

/// A resume's or retry's background re-queueing, as far as it has got.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequeueView {
    pub kind: RequeueKind,
    pub requeued: u64,
    pub released: u64,
    pub finished: bool,
    /// It failed three times: run the same command again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dead_lettered: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<&RequeueProgress> for RequeueView {
    fn from(p: &RequeueProgress) -> Self {
        Self {
            kind: p.kind,
            requeued: p.requeued,
            released: p.released,
            finished: p.finished,
            dead_lettered: p.dead_lettered,
            updated_at: p.updated_at,
        }
    }
}

impl<'a> From<&'a Campaign> for CampaignView<'a> {
    fn from(c: &'a Campaign) -> Self {
        Self {
            id: c.id.as_str(),
            status: c.status.as_str(),
            status_reason: c.status_reason.as_deref(),
            template_id: c.template_id.as_str(),
            template_version: c.template_version,
            list_key: &c.list_key,
            from: SenderView { address: c.sender.address.as_str(), name: c.sender.name.as_deref() },
            reply_to: c.sender.reply_to.as_ref().map(|a| a.as_str()),
            vars: &c.shared_vars,
            counters: CounterView::from(&c.counters),
            rejected_rows: c.counters.rejected_rows,
            created_at: c.created_at,
            updated_at: c.updated_at,
            send_at: c.send_at,
            max_rate: c.max_rate,
            priority: c.priority.as_str(),
            created_by: c.created_by.as_deref(),
            updated_by: c.updated_by.as_deref(),
            list_format: c.list_format.as_deref(),
            email_column: c.email_column.as_deref(),
            requeue: c.requeue.as_ref().map(RequeueView::from),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientView<'a> {
    pub recipient_id: &'a str,
    pub address: &'a str,
    pub status: &'static str,
    pub row: u64,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl<'a> From<&'a Recipient> for RecipientView<'a> {
    fn from(r: &'a Recipient) -> Self {
        Self {
            recipient_id: r.recipient_id.as_str(),
            address: r.address.as_str(),
            status: r.status.as_str(),
            row: r.row,
            attempts: r.attempts,
            message_id: r.message_id.as_deref(),
            last_error: r.last_error.as_deref(),
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionView {
    pub address: String,
    /// `all` (bounces, complaints, manual), `domain` (an unsubscribe from a sending domain)
    /// or `sender` (an unsubscribe from one address, as they were once scoped).
    pub scope: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Suppression> for SuppressionView {
    fn from(s: &Suppression) -> Self {
        let (scope, domain, sender) = match &s.scope {
            SuppressionScope::All => ("all", None, None),
            SuppressionScope::Domain(domain) => ("domain", Some(domain.clone()), None),
            SuppressionScope::Sender(sender) => ("sender", None, Some(sender.clone())),
        };
        Self {
            address: s.address.to_string(),
            scope,
            domain,
            sender,
            reason: s.reason.to_string(),
            campaign_id: s.campaign_id.as_ref().map(ToString::to_string),
            created_at: s.created_at,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuppressionList {
    pub items: Vec<SuppressionView>,
    pub next_cursor: Option<String>,
}
