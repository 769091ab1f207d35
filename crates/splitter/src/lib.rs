//! The list splitter: consumes split jobs and fans a campaign's recipient list (CSV, TSV or an
//! Excel workbook) out into one recipient message each. The same queue carries requeue jobs (a
//! resume's parked recipients, a retry's failed ones), which `requeue` pages through.
//!
//! A run streams the list from S3 (parsed on a blocking thread, a bounded channel away; a
//! workbook is first copied to `/tmp`, as a zip archive is read from its end), so a list of
//! any length needs the same memory: the addresses seen beyond a fixed number go to a
//! temporary file (`recipient_list::seen`), and rejected rows to the report in parts of
//! `REPORT_PART_ROWS` as they come. Before anything is queued it checks that the list's columns
//! (plus the campaign's shared variables) cover every variable the pinned template reads, a
//! column matching a variable whatever its case, spaces, `-` and `_`; a list that does not
//! fails the campaign with the missing names and the columns it has.
//! Recipient ids are derived from addresses, so a re-delivered or re-run split queues the same
//! ids again and the sender's claim turns the repeats away. Counts are written as absolute
//! totals for the same reason. A run that nears the Lambda deadline queues a continuation
//! (`resume_after_row`) and stops; the continuation re-reads the skipped rows to rebuild
//! duplicate detection and the counts, without queueing them again.
//!
//! Addresses on the suppression list (bounced, complained, unsubscribed from this sender) are
//! not queued: each is recorded as a `suppressed` recipient and counted as skipped, through the
//! same claim and send log the sender uses, so a re-run never counts one twice. The sender
//! checks again at send time, for suppressions that arrive while the campaign runs.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::domain::{
    rejected_rows_key, Campaign, CampaignJob, CampaignStatus, EmailAddress, Recipient, RecipientJob,
    RecipientRetention, RecipientStatus, RejectedRow, SendOutcome, SplitJob, SplitTotals,
};
use fanmail_common::ports::{Clock, ObjectStore, ObjectStoreError, OutgoingMessage, Queue, RecipientQueues};
use fanmail_common::recipient_list::{is_workbook, ListError, ListRow, RecipientList};
use fanmail_common::render::MailTemplate;
use fanmail_common::sqs_batch::{decode, process, RecordOutcome};
use fanmail_common::store::campaigns::complete_if_done;
use fanmail_common::store::iam::{Port, Uses};
use fanmail_common::store::{
    CampaignReader, CampaignStore, RecipientStore, SendLog, StoreError, SuppressionStore, TemplateStore,
};
use fanmail_common::system::SystemClock;
use fanmail_common::wiring::{AwsAdapters, AwsPorts, MemoryAdapters, MemoryPorts, Ports};
use lambda_runtime::{Error, LambdaEvent};
use tokio::sync::mpsc;

mod dead_letters;
mod requeue;
pub use dead_letters::SPLIT_DEAD_LETTERED;
pub use requeue::{PAGE as REQUEUE_PAGE, SECOND_LOOK_DELAY};

/// Recipient messages sent per `send_all` call (ten SQS batches, several in flight).
pub const FLUSH_SIZE: usize = 200;
/// A run stops and queues its continuation when less than this is left before the deadline:
/// time for its last flush (200 messages), a report part, the totals and the continuation.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(20);
/// Suppressed recipients recorded per transaction.
const SKIP_BATCH: usize = 10;
/// How long a claim of a suppressed recipient holds before it is recorded.
const SKIP_LEASE: time::Duration = time::Duration::minutes(2);
/// A recipient message over this is rejected as a row.
const MAX_JOB_BYTES: usize = RecipientJob::MAX_BYTES;
/// Rejected rows per report part (about 1 MB): a run writes a part whenever it has this many,
/// so a list of millions of bad rows needs no more memory than one part.
pub const REPORT_PART_ROWS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub templates_table: String,
    pub campaigns_table: String,
    pub bucket: String,
    pub split_jobs_queue_url: String,
    pub recipients_queue_url: String,
    pub priority_queue_url: String,
    pub recipients_table: String,
    pub suppressions_table: String,
    pub ledger_table: String,
    /// How long recipients' items are kept after their latest claim (DynamoDB TTL).
    pub recipient_retention: RecipientRetention,
    /// The split-jobs dead-letter queue, whose jobs this function settles too.
    pub dead_letter_queue_arn: Option<String>,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            templates_table: env.required(vars::TEMPLATES_TABLE)?,
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            bucket: env.required(vars::UPLOAD_BUCKET)?,
            split_jobs_queue_url: env.required(vars::SPLIT_JOBS_QUEUE_URL)?,
            recipients_queue_url: env.required(vars::RECIPIENTS_QUEUE_URL)?,
            priority_queue_url: env.required(vars::PRIORITY_QUEUE_URL)?,
            recipients_table: env.required(vars::RECIPIENTS_TABLE)?,
            suppressions_table: env.required(vars::SUPPRESSIONS_TABLE)?,
            ledger_table: env.required(vars::LEDGER_TABLE)?,
            recipient_retention: env.parsed(vars::RECIPIENT_RETENTION_DAYS, RecipientRetention::default())?,
            dead_letter_queue_arn: env.optional(vars::SPLIT_JOBS_DLQ_ARN),
        })
    }
}

pub struct Deps<P: Ports> {
    pub templates: P::Templates,
    pub campaigns: P::Campaigns,
    pub objects: P::Objects,
    pub split_jobs: P::Queue,
    pub recipient_jobs: RecipientQueues<P::Queue>,
    pub suppressions: P::Suppressions,
    /// Suppressed recipients are recorded (claimed, then logged as skipped) instead of queued.
    pub recipients: P::Recipients,
    pub send_log: P::SendLog,
    /// Stamps state changes and measures the time left before Lambda's deadline.
    pub clock: P::Clock,
    /// Records from this queue are dead-lettered jobs, settled instead of run.
    pub dead_letter_queue_arn: Option<String>,
}

/// The store methods this function's code can call (the static half of the permission check).
pub const STORES: &[Uses] = &[
    Uses { port: Port::Templates, methods: &["get"] },
    Uses { port: Port::Campaigns, methods: &["get", "set_split_totals", "set_requeue_progress", "transition"] },
    Uses { port: Port::Recipients, methods: &["claim_batch", "list_by_status"] },
    Uses { port: Port::Suppressions, methods: &["suppressed_among"] },
    // Its outcomes are skips (suppressed addresses), never sends; a retry releases failed ones.
    Uses { port: Port::SendLog, methods: &["record_unsent", "release_failed"] },
];

impl Deps<AwsPorts> {
    /// The production wiring, shared by `main.rs` and the local runner.
    pub fn aws(aws: &AwsAdapters, config: &Config) -> Self {
        Self {
            templates: aws.templates(&config.templates_table),
            campaigns: aws.campaigns(&config.campaigns_table),
            objects: aws.objects(&config.bucket),
            split_jobs: aws.queue(&config.split_jobs_queue_url),
            recipient_jobs: aws.recipient_queues(&config.recipients_queue_url, &config.priority_queue_url),
            suppressions: aws.suppressions(&config.suppressions_table),
            recipients: aws.recipients(&config.recipients_table).kept_for(config.recipient_retention),
            send_log: aws.send_log(&config.recipients_table, &config.campaigns_table, &config.ledger_table),
            clock: SystemClock,
            dead_letter_queue_arn: config.dead_letter_queue_arn.clone(),
        }
    }
}

impl Deps<MemoryPorts> {
    /// Wired to one in-memory world.
    pub fn memory(world: &MemoryAdapters) -> Self {
        Self {
            templates: world.templates.clone(),
            campaigns: world.campaigns.clone(),
            objects: world.objects.clone(),
            split_jobs: world.split_jobs.clone(),
            recipient_jobs: world.recipient_queues(),
            suppressions: world.suppressions.clone(),
            recipients: world.recipients.clone(),
            send_log: world.send_log(),
            clock: world.clock.clone(),
            dead_letter_queue_arn: None,
        }
    }
}

pub async fn handler<P: Ports>(deps: &Deps<P>, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    // Lambda's deadline (epoch ms); 0 when the caller set none (tests, the local runner).
    let deadline = (event.context.deadline > 0)
        .then(|| time::OffsetDateTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline));
    Ok(process(event.payload, |message| async move {
        if deps.dead_letter_queue_arn.is_some() && message.event_source_arn == deps.dead_letter_queue_arn {
            return dead_letters::settle(deps, &message).await;
        }
        let done = match decode(&message) {
            Ok(CampaignJob::Split(job)) => split(deps, &job, deadline).await,
            Ok(CampaignJob::Requeue(job)) => requeue::requeue(deps, &job, deadline).await,
            Err(reason) => return RecordOutcome::Poison(reason),
        };
        match done {
            Ok(outcome) => outcome,
            Err(e) if e.retryable() => RecordOutcome::Retry(e.to_string()),
            Err(e) => RecordOutcome::Poison(e.to_string()),
        }
    })
    .await)
}

#[derive(Debug, thiserror::Error)]
enum SplitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Objects(#[from] ObjectStoreError),
    #[error("queueing failed: {0}")]
    Queue(#[from] fanmail_common::ports::QueueError),
    #[error("the list reader stopped: {0}")]
    Reader(String),
}

impl SplitError {
    fn retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.retryable(),
            Self::Objects(e) => e.retryable(),
            Self::Queue(e) => e.retryable(),
            Self::Reader(_) => true,
        }
    }
}

/// What the parsing thread hands over.
enum Parsed {
    /// The template's variables no column satisfies, and the list's header names.
    Header {
        unmatched: Vec<String>,
        columns: Vec<String>,
        /// Its text encoding, or `xlsx`.
        format: &'static str,
    },
    Row(ListRow),
    Invalid(ListError),
}

fn missing_columns_reason(missing: &[String], columns: &[String]) -> String {
    let quoted = |names: &[String]| names.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", ");
    format!(
        "the list has no column for {}, which the template uses (the list's columns: {}; names match \
         whatever their case, spaces, '-' and '_'); nothing was sent",
        quoted(missing),
        quoted(columns)
    )
}

async fn fail<P: Ports>(deps: &Deps<P>, campaign: &Campaign, reason: &str) -> Result<RecordOutcome, SplitError> {
    tracing::warn!(campaign = %campaign.id, reason, "campaign failed before sending");
    let now = deps.clock.now();
    match deps
        .campaigns
        .transition(&campaign.id, &[CampaignStatus::Splitting], CampaignStatus::Failed, Some(reason), None, now)
        .await
    {
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(RecordOutcome::Done),
        Err(e) => Err(e.into()),
    }
}

async fn split<P: Ports>(
    deps: &Deps<P>,
    job: &SplitJob,
    deadline: Option<time::OffsetDateTime>,
) -> Result<RecordOutcome, SplitError> {
    let Some(mut campaign) = deps.campaigns.get(&job.campaign_id).await? else {
        return Ok(RecordOutcome::Poison(format!("campaign {} does not exist", job.campaign_id)));
    };
    if campaign.status == CampaignStatus::Queued && job.resume_after_row == 0 {
        let now = deps.clock.now();
        match deps
            .campaigns
            .transition(&campaign.id, &[CampaignStatus::Queued], CampaignStatus::Splitting, None, None, now)
            .await
        {
            Ok(updated) => campaign = updated,
            Err(StoreError::Conflict { .. }) => match deps.campaigns.get(&campaign.id).await? {
                Some(current) => campaign = current,
                None => return Ok(RecordOutcome::Poison(format!("campaign {} vanished", job.campaign_id))),
            },
            Err(e) => return Err(e.into()),
        }
    }
    if campaign.status != CampaignStatus::Splitting {
        // Split already (a duplicate job), or stopped: nothing to do.
        tracing::info!(campaign = %campaign.id, status = %campaign.status, "split job ignored");
        return Ok(RecordOutcome::Done);
    }
    let Some(template) = deps.templates.get(&campaign.template_id, Some(campaign.template_version)).await? else {
        return fail(deps, &campaign, "the campaign's template version no longer exists").await;
    };
    let compiled = match MailTemplate::compile(&template.subject, &template.html, &template.text) {
        Ok(compiled) => compiled,
        Err(e) => return fail(deps, &campaign, &format!("the template does not compile: {e}")).await,
    };
    let body = match deps.objects.open(&campaign.list_key, 0).await {
        Ok(body) => body,
        Err(ObjectStoreError::NotFound(_)) => {
            return fail(deps, &campaign, "the recipient list is gone (uploaded lists expire)").await;
        }
        Err(e) => return Err(e.into()),
    };

    // Every variable the template reads, matched to the list's columns as people write them
    // (`Name` satisfies `{{name}}`); the campaign's shared variables cover the rest.
    let wanted: Vec<String> = compiled.required_columns(&BTreeSet::new()).cloned().collect();
    let workbook = is_workbook(&campaign.list_key);
    let email_column = campaign.email_column.clone();
    let campaign_id = campaign.id.clone();
    let (sender, mut parsed) = mpsc::channel::<Parsed>(1024);
    let reader = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new(body);
        let chosen = email_column.as_deref();
        let opened = if workbook {
            RecipientList::open_workbook_choosing(bridge, chosen)
        } else {
            RecipientList::open_choosing(bridge, chosen)
        };
        let mut list = match opened {
            Ok(list) => list,
            Err(e) => {
                let _ = sender.blocking_send(Parsed::Invalid(e));
                return;
            }
        };
        let (address_column, found_by) = list.address_column();
        tracing::info!(campaign = %campaign_id, address_column = %address_column, found_by = ?found_by, format = list.format(), "list opened");
        let unmatched = list.match_variables(wanted.iter().map(String::as_str));
        let header = Parsed::Header { unmatched, columns: list.headers().to_vec(), format: list.format() };
        if sender.blocking_send(header).is_err() {
            return;
        }
        while let Some(row) = list.next_row() {
            let item = match row {
                Ok(row) => Parsed::Row(row),
                Err(e) => Parsed::Invalid(e),
            };
            let stop = matches!(item, Parsed::Invalid(_));
            if sender.blocking_send(item).is_err() || stop {
                return;
            }
        }
    });

    let mut run = Run::new(job);
    while let Some(item) = parsed.recv().await {
        match item {
            Parsed::Invalid(ListError::Io(e)) => return Err(SplitError::Reader(e.to_string())),
            Parsed::Invalid(e) => {
                drop(parsed);
                return fail(deps, &campaign, &format!("the list cannot be read: {e}")).await;
            }
            Parsed::Header { unmatched, columns, format } => {
                run.totals.list_format = Some(format);
                let missing: Vec<String> =
                    unmatched.into_iter().filter(|v| !campaign.shared_vars.contains_key(v)).collect();
                if !missing.is_empty() {
                    drop(parsed);
                    return fail(deps, &campaign, &missing_columns_reason(&missing, &columns)).await;
                }
            }
            Parsed::Row(row) => {
                run.take(&campaign, row);
                if run.pending.len() >= FLUSH_SIZE || run.rejected.len() >= REPORT_PART_ROWS {
                    run.flush(deps, &campaign).await?;
                    // A cancel or a pause takes effect within one flush.
                    let now = deps.campaigns.get(&campaign.id).await?.map(|c| c.status);
                    if matches!(now, Some(CampaignStatus::Cancelled | CampaignStatus::Paused)) {
                        drop(parsed);
                        return run.stop(deps, &campaign).await;
                    }
                    if deadline.is_some_and(|d| d - deps.clock.now() < DEADLINE_MARGIN) {
                        drop(parsed);
                        return run.checkpoint(deps, &campaign).await;
                    }
                }
            }
        }
    }
    reader.await.map_err(|e| SplitError::Reader(e.to_string()))?;
    run.flush(deps, &campaign).await?;
    run.finish(deps, &campaign).await
}

/// One run's progress.
struct Run {
    job: SplitJob,
    /// Data rows seen so far (recipients, duplicates and rejected rows alike).
    index: u64,
    totals: SplitTotals,
    /// Recipients waiting for the next flush, with their message bodies.
    pending: Vec<(RecipientJob, String)>,
    /// Index of the last row whose message is on the queue.
    flushed_index: u64,
    /// Rejected rows not yet written to a report part.
    rejected: Vec<RejectedRow>,
    /// The report part the rejected rows go to next (parts are numbered across runs).
    next_part: u32,
}

impl Run {
    fn new(job: &SplitJob) -> Self {
        Self {
            job: job.clone(),
            index: 0,
            totals: SplitTotals::default(),
            pending: Vec::with_capacity(FLUSH_SIZE),
            flushed_index: job.resume_after_row,
            rejected: Vec::new(),
            next_part: job.run,
        }
    }

    fn take(&mut self, campaign: &Campaign, row: ListRow) {
        self.index += 1;
        let fresh = self.index > self.job.resume_after_row;
        match row {
            ListRow::Duplicate { .. } => self.totals.duplicates += 1,
            ListRow::Rejected(rejected) => {
                self.totals.rejected_rows += 1;
                if fresh {
                    self.rejected.push(rejected);
                }
            }
            ListRow::Recipient { row, id, address, vars } => {
                let job = RecipientJob { campaign_id: campaign.id.clone(), recipient_id: id, address, vars, row };
                let body = serde_json::to_string(&job).expect("recipient jobs serialise");
                if body.len() > MAX_JOB_BYTES {
                    self.totals.rejected_rows += 1;
                    if fresh {
                        self.rejected.push(RejectedRow {
                            row,
                            reason: format!(
                                "the row is {} bytes; at most {MAX_JOB_BYTES} fit in a message",
                                body.len()
                            ),
                            value: None,
                        });
                    }
                    return;
                }
                self.totals.total += 1;
                self.totals.queued += 1;
                if fresh {
                    self.pending.push((job, body));
                }
            }
        }
    }

    /// Queues the pending recipients, except suppressed ones, which are recorded as skipped.
    async fn flush<P: Ports>(&mut self, deps: &Deps<P>, campaign: &Campaign) -> Result<(), SplitError> {
        if !self.pending.is_empty() {
            let addresses: Vec<EmailAddress> = self.pending.iter().map(|(job, _)| job.address.clone()).collect();
            let suppressed = deps.suppressions.suppressed_among(&addresses, &campaign.sender.address).await?;
            let (skipped, queued): (Vec<_>, Vec<_>) =
                self.pending.drain(..).partition(|(job, _)| suppressed.contains(&job.address));
            let messages: Vec<OutgoingMessage> = queued
                .into_iter()
                .enumerate()
                .map(|(i, (_, body))| OutgoingMessage::new(i.to_string(), body).in_group(campaign.id.as_str()))
                .collect();
            if !messages.is_empty() {
                deps.recipient_jobs.for_priority(campaign.priority).send_all(&messages).await?;
            }
            let skipped: Vec<RecipientJob> = skipped.into_iter().map(|(job, _)| job).collect();
            for chunk in skipped.chunks(SKIP_BATCH) {
                record_suppressed(deps, campaign, chunk).await?;
            }
        }
        if self.rejected.len() >= REPORT_PART_ROWS {
            self.write_report_part(deps, campaign).await?;
        }
        self.flushed_index = self.flushed_index.max(self.index);
        Ok(())
    }

    /// Writes the rejected rows held so far as the next report part. A re-delivered run
    /// reads the same rows and writes the same parts again.
    async fn write_report_part<P: Ports>(&mut self, deps: &Deps<P>, campaign: &Campaign) -> Result<(), SplitError> {
        let mut body = String::new();
        for row in self.rejected.drain(..) {
            body.push_str(&serde_json::to_string(&row).expect("rows serialise"));
            body.push('\n');
        }
        deps.objects
            .put(&rejected_rows_key(&campaign.id, self.next_part), body.into_bytes(), "application/x-ndjson")
            .await?;
        self.next_part += 1;
        Ok(())
    }

    /// Writes the last report part of this run (empty if it found no rejected rows since the
    /// last part, so every run leaves at least one) and the totals that count it.
    async fn write_report<P: Ports>(&mut self, deps: &Deps<P>, campaign: &Campaign) -> Result<(), SplitError> {
        self.write_report_part(deps, campaign).await?;
        self.totals.report_parts = self.next_part;
        Ok(())
    }

    /// Stops the split of a cancelled or paused campaign, recording how far it got (a resume
    /// continues from there).
    async fn stop<P: Ports>(mut self, deps: &Deps<P>, campaign: &Campaign) -> Result<RecordOutcome, SplitError> {
        self.totals.rows_done = self.flushed_index;
        self.write_report(deps, campaign).await?;
        deps.campaigns.set_split_totals(&campaign.id, &self.totals).await?;
        tracing::info!(campaign = %campaign.id, rows = self.flushed_index, "split stopped: the campaign was cancelled or paused");
        Ok(RecordOutcome::Done)
    }

    /// Queues the continuation and records progress so far.
    async fn checkpoint<P: Ports>(mut self, deps: &Deps<P>, campaign: &Campaign) -> Result<RecordOutcome, SplitError> {
        self.totals.rows_done = self.flushed_index;
        self.write_report(deps, campaign).await?;
        deps.campaigns.set_split_totals(&campaign.id, &self.totals).await?;
        let next =
            SplitJob { campaign_id: campaign.id.clone(), resume_after_row: self.flushed_index, run: self.next_part };
        let body = serde_json::to_string(&next).expect("split jobs serialise");
        deps.split_jobs.send_all(&[OutgoingMessage::new("next", body)]).await?;
        tracing::info!(campaign = %campaign.id, rows = self.flushed_index, run = self.job.run, "split checkpointed; continuing in a new run");
        Ok(RecordOutcome::Done)
    }

    async fn finish<P: Ports>(mut self, deps: &Deps<P>, campaign: &Campaign) -> Result<RecordOutcome, SplitError> {
        self.totals.rows_done = self.index;
        self.totals.finished = true;
        self.write_report(deps, campaign).await?;
        deps.campaigns.set_split_totals(&campaign.id, &self.totals).await?;
        let (to, reason) = if self.totals.total == 0 {
            (CampaignStatus::Completed, Some("the list has no valid recipient"))
        } else {
            (CampaignStatus::Sending, None)
        };
        let now = deps.clock.now();
        match deps.campaigns.transition(&campaign.id, &[CampaignStatus::Splitting], to, reason, None, now).await {
            // The senders may have counted every outcome before the hand-over (a short list,
            // or one whose addresses were all suppressed): then nobody else would complete it.
            Ok(handed_over) => {
                complete_if_done(&deps.campaigns, handed_over, now).await?;
            }
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(
            campaign = %campaign.id,
            recipients = self.totals.total,
            rejected = self.totals.rejected_rows,
            duplicates = self.totals.duplicates,
            "split done"
        );
        Ok(RecordOutcome::Done)
    }
}

/// Records suppressed recipients as skipped: claimed first, like a sender claims, so a
/// recipient recorded by an earlier run (or already sent) is not counted again.
async fn record_suppressed<P: Ports>(
    deps: &Deps<P>,
    campaign: &Campaign,
    jobs: &[RecipientJob],
) -> Result<(), SplitError> {
    let now = deps.clock.now();
    let recipients: Vec<Recipient> = jobs.iter().map(|job| Recipient::from_job(job, now)).collect();
    let claims = deps.recipients.claim_batch(&recipients, now, now + SKIP_LEASE).await?;
    let outcomes: Vec<SendOutcome> = jobs
        .iter()
        .zip(claims)
        .filter(|(_, claim)| claim.is_ok())
        .map(|(job, _)| SendOutcome::new(job.recipient_id.clone(), RecipientStatus::Suppressed))
        .collect();
    if !outcomes.is_empty() {
        deps.send_log.record(&campaign.id, &outcomes, now).await?;
        tracing::info!(campaign = %campaign.id, skipped = outcomes.len(), "suppressed addresses not queued");
    }
    Ok(())
}

#[cfg(test)]
mod dead_letter_tests;
#[cfg(test)]
mod requeue_tests;
#[cfg(test)]
mod tests;
