//! `POST /campaigns` with `"dryRun": true`: the whole list read and every recipient's mail
//! rendered exactly as the splitter and the sender would, without storing or queueing anything.
//! The answer counts what the campaign would do (recipients, rejected rows with the first
//! reasons, duplicates, suppressed addresses, mails that fail to render) and estimates the send
//! time at the account's current quota.
//!
//! API Gateway answers within 30 s, so a list too long to read in [`BUDGET`] is reported as far
//! as it was read, with `complete: false` and the row reached.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use fanmail_common::api_gateway::ApiError;
use fanmail_common::compose::{compose, Envelope, MailInput};
use fanmail_common::domain::{CampaignId, EmailAddress, RecipientJob, RejectedRow, Sender, Template};
use fanmail_common::ports::{Clock, Mailer, ObjectStore, ObjectStoreError, SendQuota};
use fanmail_common::recipient_list::{is_workbook, AddressFoundBy, ListError, ListRow, RecipientList};
use fanmail_common::render::MailTemplate;
use fanmail_common::store::SuppressionStore;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::preview::quoted;
use crate::{Deps, Ports};

/// How long a dry run reads before it answers with what it has.
pub const BUDGET: time::Duration = time::Duration::seconds(20);
/// Rows read between two checks of the budget (and one suppression lookup).
const CHUNK_ROWS: usize = 1_000;
/// Chunks whose suppression lookups run at once.
const LOOKUPS_AT_ONCE: usize = 8;
/// How many rejected rows and render failures the answer lists (all are counted).
const SHOWN: usize = 20;

/// What a campaign would be made of.
pub struct Plan<'a> {
    pub template: &'a Template,
    pub sender: &'a Sender,
    pub shared_vars: &'a BTreeMap<String, String>,
    pub list_key: &'a str,
    pub max_rate: Option<u32>,
    /// The address column the user named, if any.
    pub email_column: Option<&'a str>,
    /// How long to read before answering with what was read ([`BUDGET`]).
    pub budget: time::Duration,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RowProblem {
    pub row: u64,
    pub reason: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Estimate {
    /// Mails a second the campaign would be sent at (the account's rate, the deployment's
    /// `MaxSendRate` and the campaign's `maxRate`, whichever is lowest), alone on the account.
    pub send_rate: f64,
    pub seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<QuotaView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaView {
    pub max_send_rate: f64,
    pub max_24_hour_send: f64,
    pub sent_last_24_hours: f64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DryRunReport {
    pub dry_run: bool,
    /// Whether every row was read; when not, the counts cover rows up to `lastRow`.
    pub complete: bool,
    pub last_row: u64,
    pub template_id: String,
    pub template_version: u32,
    /// The column the addresses were read from, and how it was found.
    pub address_column: Option<AddressColumn>,
    /// Data rows read.
    pub rows: u64,
    /// Mails that would be sent.
    pub recipients: u64,
    pub rejected_rows: u64,
    pub rejected: Vec<RejectedRow>,
    pub duplicates: u64,
    pub suppressed: u64,
    /// Mails that would not be sent because they do not render (the reason is the sender's).
    pub render_failures: u64,
    pub render_failed: Vec<RowProblem>,
    /// Mails that would be sent with a blank where the template shows a variable (`{{name}}`
    /// outside any `{{#if}}`) because the row's value is empty.
    pub blank_rows: u64,
    pub blank: Vec<RowProblem>,
    pub estimate: Estimate,
}

/// The list's address column: its header (or `column N`), and whether it was found by that
/// name, by its values, or named by the user.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AddressColumn {
    pub name: String,
    pub found_by: AddressFoundBy,
}

/// A row that would be mailed, and why its mail would not render, if it would not.
struct Candidate {
    row: u64,
    address: EmailAddress,
    render_error: Option<String>,
    /// Variables the mail would show blank.
    blank: Vec<String>,
}

#[derive(Default)]
struct Chunk {
    rows: u64,
    last_row: u64,
    duplicates: u64,
    rejected: Vec<RejectedRow>,
    candidates: Vec<Candidate>,
}

enum Read {
    Header {
        unmatched: Vec<String>,
        columns: Vec<String>,
        address: AddressColumn,
    },
    Chunk(Chunk),
    /// A chunk and its suppressed addresses.
    Looked(Chunk, HashSet<EmailAddress>),
    Invalid(ListError),
}

/// Reads and renders the plan's whole list (or as much as [`BUDGET`] allows).
pub async fn report<P: Ports>(deps: &Deps<P>, plan: &Plan<'_>) -> Result<DryRunReport, ApiError> {
    let template = plan.template;
    let compiled = MailTemplate::compile(&template.subject, &template.html, &template.text)
        .map_err(|e| ApiError::new(422, "template_syntax", e.to_string()))?;
    let body = match deps.objects.open(plan.list_key, 0).await {
        Ok(body) => body,
        Err(ObjectStoreError::NotFound(_)) => {
            return Err(ApiError::new(422, "list_not_found", format!("no list was uploaded at '{}'", plan.list_key)))
        }
        Err(e) => return Err(e.into()),
    };
    let started = deps.clock.now();
    let (tx, mut rx) = mpsc::channel::<Read>(LOOKUPS_AT_ONCE);
    let renderer = Renderer {
        template: Arc::new(compiled),
        sender: plan.sender.clone(),
        shared: plan.shared_vars.clone(),
        unsubscribe_base: format!("{}/unsubscribe?token=", deps.config.public_base_url),
        key: deps.unsubscribe_key().await?.bytes().to_vec(),
    };
    let workbook = is_workbook(plan.list_key);
    let email_column = plan.email_column.map(str::to_string);
    let reader = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new(body);
        let chosen = email_column.as_deref();
        let opened = if workbook {
            RecipientList::open_workbook_choosing(bridge, chosen)
        } else {
            RecipientList::open_choosing(bridge, chosen)
        };
        match opened {
            Ok(list) => renderer.read_all(list, &tx),
            Err(e) => {
                let _ = tx.blocking_send(Read::Invalid(e));
            }
        }
    });

    let mut report = DryRunReport {
        dry_run: true,
        complete: true,
        last_row: 0,
        template_id: template.id.to_string(),
        template_version: template.version,
        address_column: None,
        rows: 0,
        recipients: 0,
        rejected_rows: 0,
        rejected: Vec::new(),
        duplicates: 0,
        suppressed: 0,
        render_failures: 0,
        render_failed: Vec::new(),
        blank_rows: 0,
        blank: Vec::new(),
        estimate: Estimate { send_rate: 0.0, seconds: 0, quota: None, notes: Vec::new() },
    };
    // Suppression lookups of several chunks at once: DynamoDB's latency, not the reading,
    // bounds a long list.
    let sender = plan.sender;
    let lookups = futures::stream::poll_fn(|cx| rx.poll_recv(cx))
        .map(|read| async move {
            match read {
                Read::Chunk(chunk) => {
                    let suppressed = suppressed_in(deps, sender, &chunk).await?;
                    Ok(Read::Looked(chunk, suppressed))
                }
                other => Ok::<_, ApiError>(other),
            }
        })
        .buffered(LOOKUPS_AT_ONCE);
    futures::pin_mut!(lookups);
    while let Some(read) = lookups.next().await {
        match read? {
            Read::Invalid(ListError::Io(e)) => return Err(ApiError::unavailable(format!("reading the list: {e}"))),
            Read::Invalid(e) => {
                return Err(ApiError::new(422, "invalid_list", format!("the list cannot be read: {e}")));
            }
            Read::Header { unmatched, columns, address } => {
                report.address_column = Some(address);
                let missing: Vec<&String> = unmatched.iter().filter(|v| !plan.shared_vars.contains_key(*v)).collect();
                if !missing.is_empty() {
                    return Err(ApiError::new(
                        422,
                        "missing_variables",
                        format!(
                            "the list has no column for {}, which the template uses (the list's columns: {}); \
                             give a column or a shared variable of that name",
                            quoted(missing.into_iter()),
                            quoted(columns.iter())
                        ),
                    ));
                }
            }
            Read::Chunk(_) => unreachable!("every chunk is looked up first"),
            Read::Looked(chunk, suppressed) => {
                add(&mut report, chunk, &suppressed);
                if deps.clock.now() - started >= plan.budget {
                    report.complete = false;
                    break;
                }
            }
        }
    }
    if report.complete {
        reader.await.map_err(ApiError::internal)?;
    }
    report.estimate = estimate(deps, plan.max_rate, report.recipients).await;
    if !report.complete {
        report.estimate.notes.push(format!(
            "the list was read up to row {} in {} s; the counts and the estimate cover those rows only",
            report.last_row,
            plan.budget.whole_seconds()
        ));
    }
    Ok(report)
}

/// The chunk's addresses that are on the suppression list for the sender.
async fn suppressed_in<P: Ports>(
    deps: &Deps<P>,
    sender: &Sender,
    chunk: &Chunk,
) -> Result<HashSet<EmailAddress>, ApiError> {
    let addresses: Vec<EmailAddress> = chunk.candidates.iter().map(|c| c.address.clone()).collect();
    if addresses.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(deps.suppressions.suppressed_among(&addresses, &sender.address).await?)
}

/// Counts one chunk.
fn add(report: &mut DryRunReport, chunk: Chunk, suppressed: &HashSet<EmailAddress>) {
    report.rows += chunk.rows;
    report.last_row = chunk.last_row;
    report.duplicates += chunk.duplicates;
    report.rejected_rows += chunk.rejected.len() as u64;
    let room = SHOWN.saturating_sub(report.rejected.len());
    report.rejected.extend(chunk.rejected.into_iter().take(room));
    for candidate in chunk.candidates {
        if suppressed.contains(&candidate.address) {
            report.suppressed += 1;
        } else if let Some(reason) = candidate.render_error {
            report.render_failures += 1;
            if report.render_failed.len() < SHOWN {
                report.render_failed.push(RowProblem { row: candidate.row, reason });
            }
        } else {
            report.recipients += 1;
            if !candidate.blank.is_empty() {
                report.blank_rows += 1;
                if report.blank.len() < SHOWN {
                    let names = quoted(candidate.blank.iter());
                    let reason = format!("{names} empty: the mail would show a blank where the template prints it");
                    report.blank.push(RowProblem { row: candidate.row, reason });
                }
            }
        }
    }
}

/// How long `recipients` mails would take at the account's quota.
async fn estimate<P: Ports>(deps: &Deps<P>, max_rate: Option<u32>, recipients: u64) -> Estimate {
    let mut notes = Vec::new();
    let quota = match deps.mailer.quota().await {
        Ok(quota) => Some(quota),
        Err(e) => {
            notes.push(format!("the account's quota could not be read ({e}); the deployment's MaxSendRate is assumed"));
            None
        }
    };
    let mut rate = deps.config.max_send_rate;
    if let Some(account) = quota.map(|q| q.max_send_rate).filter(|r| *r > 0.0) {
        rate = rate.min(account);
    }
    if let Some(own) = max_rate {
        rate = rate.min(f64::from(own));
    }
    if let Some(SendQuota { max_24_hour_send, sent_last_24_hours, .. }) = quota {
        // SES answers -1 for an unlimited daily quota.
        let left = (max_24_hour_send - sent_last_24_hours).max(0.0);
        if max_24_hour_send >= 0.0 && recipients as f64 > left {
            notes.push(format!(
                "the account may send {left:.0} more mails in the last 24 hours' window; the campaign would \
                 pause when the daily quota is used up, to be resumed later"
            ));
        }
    }
    Estimate {
        send_rate: rate,
        seconds: (recipients as f64 / rate).ceil() as u64,
        quota: quota.map(|q| QuotaView {
            max_send_rate: q.max_send_rate,
            max_24_hour_send: q.max_24_hour_send,
            sent_last_24_hours: q.sent_last_24_hours,
        }),
        notes,
    }
}

/// Renders every row on the reading thread (rendering is the CPU-heavy part).
struct Renderer {
    template: Arc<MailTemplate>,
    sender: Sender,
    shared: BTreeMap<String, String>,
    unsubscribe_base: String,
    key: Vec<u8>,
}

impl Renderer {
    fn read_all(&self, mut list: RecipientList<'_>, tx: &mpsc::Sender<Read>) {
        let wanted: Vec<String> = self.template.required_columns(&BTreeSet::new()).cloned().collect();
        let unmatched = list.match_variables(wanted.iter().map(String::as_str));
        let (name, found_by) = list.address_column();
        let header =
            Read::Header { unmatched, columns: list.headers().to_vec(), address: AddressColumn { name, found_by } };
        if tx.blocking_send(header).is_err() {
            return;
        }
        let campaign = CampaignId::parse("dry-run").expect("a valid id");
        let mut chunk = Chunk::default();
        while let Some(row) = list.next_row() {
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    let _ = tx.blocking_send(Read::Invalid(e));
                    return;
                }
            };
            chunk.rows += 1;
            match row {
                ListRow::Duplicate { row } => {
                    chunk.last_row = row;
                    chunk.duplicates += 1;
                }
                ListRow::Rejected(rejected) => {
                    chunk.last_row = rejected.row;
                    chunk.rejected.push(rejected);
                }
                ListRow::Recipient { row, id, address, vars } => {
                    chunk.last_row = row;
                    let job = RecipientJob {
                        campaign_id: campaign.clone(),
                        recipient_id: id.clone(),
                        address: address.clone(),
                        vars,
                        row,
                    };
                    let size = serde_json::to_string(&job).map_or(0, |body| body.len());
                    if size > RecipientJob::MAX_BYTES {
                        let reason =
                            format!("the row is {size} bytes; at most {} fit in a message", RecipientJob::MAX_BYTES);
                        chunk.rejected.push(RejectedRow { row, reason, value: None });
                        continue;
                    }
                    let envelope = Envelope { sender: &self.sender, campaign: &campaign, recipient: &id, to: &address };
                    let input = MailInput {
                        envelope,
                        shared: &self.shared,
                        vars: &job.vars,
                        unsubscribe_base: &self.unsubscribe_base,
                        unsubscribe_key: &self.key,
                    };
                    let render_error = compose(&self.template, &input).err().map(|e| e.to_string());
                    let blank =
                        self.template.blank_in(&self.shared, &job.vars).into_iter().map(str::to_string).collect();
                    chunk.candidates.push(Candidate { row, address, render_error, blank });
                }
            }
            if chunk.rows as usize >= CHUNK_ROWS && tx.blocking_send(Read::Chunk(std::mem::take(&mut chunk))).is_err() {
                return;
            }
        }
        if chunk.rows > 0 {
            let _ = tx.blocking_send(Read::Chunk(chunk));
        }
    }
}
