//! `make scale`: a campaign run through the real splitter and sender handlers — the functions
//! the Lambdas run — on in-memory stand-ins for AWS: the stores fanmail's unit tests use
//! (conditional writes as in DynamoDB), a queue with SQS semantics, an SES with latency, a
//! rate limit and faults, `concurrency` sender instances and crash injection. It then counts
//! every recipient: sent once, failed, skipped, lost or sent twice.
//!
//! Time: SES latency, pacing and the queue run on the wall clock. `time_scale` speeds up the
//! two long timers only (the queue's visibility timeout and the claims' lease), so a short
//! run still sees crashed messages come back.

mod crash;
mod rng;
mod ses;
mod sqs;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use fanmail_common::domain::{
    Campaign, CampaignCounters, CampaignId, CampaignStatus, EmailAddress, RecipientStatus, Sender, SplitJob,
    Suppression, SuppressionReason, SuppressionScope, Template, TemplateId, UnsubscribeKey,
};
use fanmail_common::memory::{MemoryObjectStore, MemoryScheduler, SequentialIds};
use fanmail_common::ports::{Clock, ObjectStore, OutgoingMessage, Queue};
use fanmail_common::recipient_list::recipient_id;
use fanmail_common::store::{
    CampaignStore, MemoryCampaignStore, MemoryLedger, MemoryRecipientStore, MemorySuppressionStore,
    MemoryTemplateStore, StoreSendLog, SuppressionStore, TemplateStore,
};
use fanmail_common::system::SystemClock;
use fanmail_common::wiring::{MemoryResultLog, MemorySendLog, Ports};
use lambda_runtime::{Context, LambdaEvent};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::time::Instant;

pub use crash::CrashPoint;
use crash::{Crash, CrashLog, CrashingRecipients};
use ses::{InstanceMailer, SesSettings, SimSes};
use sqs::{Received, SimQueue, MAX_BATCH};

use crate::{cpu_seconds, html_of_size, peak_rss_mib, GeneratedList};

/// The queue's visibility timeout in `template.yaml` (six times the sender's timeout).
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(180);
/// The queue's redrive policy in `template.yaml`.
const MAX_RECEIVES: u32 = 3;
/// The splitter's Lambda timeout in `template.yaml`.
const SPLITTER_TIMEOUT: Duration = Duration::from_secs(900);
/// How long an idle instance waits before polling again (the event source's long poll).
const IDLE_POLL: Duration = Duration::from_millis(20);
/// A replacement instance's cold start after a crash.
const COLD_START: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Rows in the generated list (3 % invalid, 2 % duplicates, like `fanmail-bench list`).
    pub rows: u64,
    /// The SES account's send rate, mails per second.
    pub quota: f64,
    /// What the account reports as its rate; above `quota` makes the senders overrun it.
    pub reported_quota: f64,
    pub latency_ms: (u64, u64),
    pub transient_error_rate: f64,
    /// Sender instances (the event source's MaximumConcurrency).
    pub concurrency: u32,
    /// Chance, per invocation and per crash point, that the instance dies there.
    pub crash_rate: f64,
    /// Crashes happen only in this first part of the run (seconds).
    pub crash_for_seconds: f64,
    /// Chance that a received message is also delivered to a second instance.
    pub duplicate_delivery_rate: f64,
    /// Speed-up of the visibility timeout and the claim lease.
    pub time_scale: f64,
    pub template_bytes: usize,
    /// Every this-many-th row's address is on the suppression list (0: none).
    pub suppress_every: u64,
    /// Give up after this long (seconds).
    pub max_wall_seconds: f64,
    pub seed: u64,
    /// A planted fault for checking the checker: the queue drops this many recipient messages.
    pub lose_messages: u64,
}

impl Settings {
    /// The target run: a million rows at a 3,500/s quota.
    pub fn target() -> Self {
        Self {
            rows: 1_000_000,
            quota: 3500.0,
            reported_quota: 3500.0,
            latency_ms: (50, 100),
            transient_error_rate: 0.001,
            concurrency: 50,
            crash_rate: 0.0005,
            crash_for_seconds: 60.0,
            duplicate_delivery_rate: 0.0001,
            time_scale: 1.0,
            template_bytes: 100_000,
            suppress_every: 1000,
            max_wall_seconds: 900.0,
            seed: 7,
            lose_messages: 0,
        }
    }

    /// The CI-sized run `make test` checks: small, fast timers, many faults.
    pub fn ci() -> Self {
        Self {
            rows: 20_000,
            quota: 1500.0,
            // The senders believe in a higher rate than SES allows: they get throttled.
            reported_quota: 3000.0,
            latency_ms: (5, 15),
            transient_error_rate: 0.005,
            concurrency: 12,
            crash_rate: 0.02,
            crash_for_seconds: 8.0,
            duplicate_delivery_rate: 0.005,
            time_scale: 60.0,
            template_bytes: 5_000,
            suppress_every: 250,
            max_wall_seconds: 240.0,
            seed: 11,
            lose_messages: 0,
        }
    }

    /// Reads `--name value` flags over these settings.
    pub fn parse_flags(mut self, args: &[String]) -> Result<Self> {
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args.next().with_context(|| format!("{flag} needs a value"))?;
            let number = || value.parse::<f64>().with_context(|| format!("{flag}: not a number: {value}"));
            match flag.as_str() {
                "--rows" => self.rows = number()? as u64,
                "--quota" => {
                    self.quota = number()?;
                    self.reported_quota = self.quota;
                }
                "--reported-quota" => self.reported_quota = number()?,
                "--latency-ms" => {
                    let (low, high) = value.split_once('-').context("--latency-ms: LOW-HIGH")?;
                    self.latency_ms = (low.parse()?, high.parse()?);
                }
                "--error-rate" => self.transient_error_rate = number()?,
                "--concurrency" => self.concurrency = number()? as u32,
                "--crash-rate" => self.crash_rate = number()?,
                "--crash-for" => self.crash_for_seconds = number()?,
                "--duplicate-rate" => self.duplicate_delivery_rate = number()?,
                "--time-scale" => self.time_scale = number()?,
                "--template-bytes" => self.template_bytes = number()? as usize,
                "--suppress-every" => self.suppress_every = number()? as u64,
                "--max-wall" => self.max_wall_seconds = number()?,
                "--seed" => self.seed = number()? as u64,
                other => bail!("unknown flag {other}"),
            }
        }
        if self.quota <= 0.0 || self.concurrency == 0 || self.time_scale <= 0.0 {
            bail!("quota, concurrency and time scale must be above 0");
        }
        Ok(self)
    }

    fn visibility(&self) -> Duration {
        VISIBILITY_TIMEOUT.div_f64(self.time_scale)
    }
}

/// What a run counted.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub settings: Settings,
    pub completed: bool,
    pub campaign_status: String,
    /// From the split job being queued to the campaign completing.
    pub wall_seconds: f64,
    /// From the split job being queued to the whole list being on the queue.
    pub split_seconds: f64,
    pub last_mail_accepted_seconds: f64,
    pub mails_accepted: u64,
    pub mails_per_second: f64,
    pub quota_used: f64,
    pub throttled_calls: u64,
    pub transient_errors: u64,
    pub rows: u64,
    pub valid_unique: u64,
    pub recipients_sent: u64,
    pub recipients_failed: u64,
    pub recipients_skipped: u64,
    pub lost: u64,
    pub duplicated_outside_crash_window: u64,
    pub duplicated_in_crash_window: u64,
    pub suppressed_but_mailed: u64,
    pub counters: CampaignCounters,
    pub counters_add_up: bool,
    pub crashes: BTreeMap<String, u64>,
    pub invocations: u64,
    pub redelivered_messages: u64,
    pub duplicate_deliveries: u64,
    pub dead_letters: u64,
    pub peak_queue_depth: u64,
    pub p50_seconds_to_send: f64,
    pub p99_seconds_to_send: f64,
    pub peak_rss_mib: f64,
    pub cpu_seconds: f64,
    pub cpu_seconds_per_1000_mails: f64,
}

impl Report {
    /// Whether nothing was lost or sent twice outside the crash window, and the counts agree.
    pub fn correct(&self) -> bool {
        self.completed
            && self.lost == 0
            && self.duplicated_outside_crash_window == 0
            && self.suppressed_but_mailed == 0
            && self.counters_add_up
    }

    pub fn print(&self) {
        let line = |name: &str, value: String| println!("scale.{name:<34} {value}");
        line("rows", self.rows.to_string());
        line("quota_per_second", format!("{}", self.settings.quota));
        line("latency_ms", format!("{}-{}", self.settings.latency_ms.0, self.settings.latency_ms.1));
        line("sender_concurrency", self.settings.concurrency.to_string());
        line("completed", self.completed.to_string());
        line("campaign_status", self.campaign_status.clone());
        line("wall_seconds", format!("{:.1}", self.wall_seconds));
        line("split_seconds", format!("{:.1}", self.split_seconds));
        line("last_mail_accepted_seconds", format!("{:.1}", self.last_mail_accepted_seconds));
        line("mails_accepted", self.mails_accepted.to_string());
        line("mails_per_second", format!("{:.0}", self.mails_per_second));
        line("quota_used", format!("{:.1} %", self.quota_used * 100.0));
        line("throttled_calls", self.throttled_calls.to_string());
        line("transient_errors", self.transient_errors.to_string());
        line("valid_unique_recipients", self.valid_unique.to_string());
        line("recipients_sent", self.recipients_sent.to_string());
        line("recipients_failed", self.recipients_failed.to_string());
        line("recipients_skipped", self.recipients_skipped.to_string());
        line("lost", self.lost.to_string());
        line("duplicated_outside_crash_window", self.duplicated_outside_crash_window.to_string());
        line("duplicated_in_crash_window", self.duplicated_in_crash_window.to_string());
        line("suppressed_but_mailed", self.suppressed_but_mailed.to_string());
        line("counters_add_up", self.counters_add_up.to_string());
        for (point, n) in &self.crashes {
            line(&format!("crashes.{point}"), n.to_string());
        }
        line("invocations", self.invocations.to_string());
        line("redelivered_messages", self.redelivered_messages.to_string());
        line("duplicate_deliveries", self.duplicate_deliveries.to_string());
        line("dead_letters", self.dead_letters.to_string());
        line("peak_queue_depth", self.peak_queue_depth.to_string());
        line("p50_seconds_to_send", format!("{:.1}", self.p50_seconds_to_send));
        line("p99_seconds_to_send", format!("{:.1}", self.p99_seconds_to_send));
        line("peak_rss_mib", format!("{:.0}", self.peak_rss_mib));
        line("cpu_seconds", format!("{:.1}", self.cpu_seconds));
        line("cpu_seconds_per_1000_mails", format!("{:.3}", self.cpu_seconds_per_1000_mails));
    }
}

/// The clock the sender's claims use: wall time, sped up by the time scale.
#[derive(Clone)]
struct SimClock {
    origin: OffsetDateTime,
    started: Instant,
    scale: f64,
}

impl SimClock {
    /// The same clock running at wall speed.
    fn at_wall_speed(&self) -> Self {
        Self { scale: 1.0, ..self.clone() }
    }
}

impl Clock for SimClock {
    fn now(&self) -> OffsetDateTime {
        let elapsed = self.started.elapsed().mul_f64(self.scale);
        self.origin + elapsed
    }
}

/// The simulation's adapters: the memory stores, with crash points around the sender's claims,
/// SQS- and SES-like stand-ins, and a clock whose speed the time scale sets.
struct SimPorts;

impl Ports for SimPorts {
    type Templates = MemoryTemplateStore;
    type Campaigns = MemoryCampaignStore;
    type Recipients = CrashingRecipients<MemoryRecipientStore>;
    type Suppressions = MemorySuppressionStore;
    type Ledger = MemoryLedger;
    type SendLog = MemorySendLog;
    type ResultLog = MemoryResultLog;
    type Objects = MemoryObjectStore;
    type Queue = SimQueue;
    type Mailer = InstanceMailer;
    type Scheduler = MemoryScheduler;
    type Clock = SimClock;
    type Ids = SequentialIds;
}

/// Everything the instances share: the stand-ins for AWS.
struct World {
    settings: Settings,
    templates: MemoryTemplateStore,
    campaigns: MemoryCampaignStore,
    recipients: MemoryRecipientStore,
    suppressions: MemorySuppressionStore,
    ledger: MemoryLedger,
    split_jobs: SimQueue,
    recipient_jobs: SimQueue,
    ses: Arc<SimSes>,
    clock: SimClock,
    crashes: CrashLog,
    invocations: AtomicU64,
    started: Instant,
    stop: AtomicBool,
}

const CAMPAIGN: &str = "scale";
const KEY: &[u8] = b"the simulation's unsubscribe key, 32+ bytes";

impl World {
    fn send_log(&self) -> MemorySendLog {
        StoreSendLog {
            recipients: self.recipients.clone(),
            campaigns: self.campaigns.clone(),
            ledger: self.ledger.clone(),
        }
    }

    /// A fresh sender instance (a cold start), wired as `fanmail_sender::Deps::aws` wires AWS.
    fn sender(&self, crash: Arc<Crash>) -> fanmail_sender::Deps<SimPorts> {
        let config = fanmail_sender::Config {
            templates_table: "templates".into(),
            campaigns_table: "campaigns".into(),
            recipients_table: "recipients".into(),
            suppressions_table: "suppressions".into(),
            ledger_table: "ledger".into(),
            recipients_queue_url: "recipients".into(),
            configuration_set: "fanmail".into(),
            max_send_rate: self.settings.reported_quota,
            sender_concurrency: self.settings.concurrency,
            public_base_url: "https://api.example.com".into(),
            unsubscribe_secret_arn: "unsubscribe".into(),
        };
        fanmail_sender::Deps {
            templates: self.templates.clone(),
            campaigns: self.campaigns.clone(),
            recipients: CrashingRecipients { inner: self.recipients.clone(), crash: crash.clone() },
            suppressions: self.suppressions.clone(),
            send_log: self.send_log(),
            mailer: InstanceMailer { ses: self.ses.clone(), crash },
            requeue: self.recipient_jobs.clone(),
            clock: self.clock.clone(),
            warm: fanmail_sender::Warm::new(&config),
            config,
            unsubscribe_key: UnsubscribeKey::new(KEY.to_vec()).expect("long enough"),
        }
    }

    fn campaign_id() -> CampaignId {
        CampaignId::parse(CAMPAIGN).expect("a valid id")
    }
}

fn sqs_event(batch: &[Received]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for message in batch {
        let mut record = SqsMessage::default();
        record.message_id = Some(message.id.to_string());
        record.body = Some(message.body.clone());
        record.attributes.insert("ApproximateReceiveCount".into(), message.receive_count.to_string());
        event.records.push(record);
    }
    event
}

/// A Lambda context whose deadline (epoch ms) is `timeout` after the wall clock's now.
fn context(timeout: Duration) -> Context {
    let mut context = Context::default();
    let deadline = SystemClock.now() + timeout;
    context.deadline = u64::try_from((deadline - OffsetDateTime::UNIX_EPOCH).whole_milliseconds()).unwrap_or(0);
    context
}

/// Acknowledges what the handler did not report failed; a failed invocation acknowledges nothing.
fn acknowledge<E>(queue: &SimQueue, batch: &[Received], result: Result<aws_lambda_events::sqs::SqsBatchResponse, E>) {
    let Ok(response) = result else { return };
    for message in batch {
        let id = message.id.to_string();
        if !response.batch_item_failures.iter().any(|f| f.item_identifier == id) {
            queue.delete(message.id, message.receipt);
        }
    }
}

async fn splitter_instance(world: Arc<World>, objects: MemoryObjectStore) {
    let deps = fanmail_splitter::Deps::<SimPorts> {
        templates: world.templates.clone(),
        campaigns: world.campaigns.clone(),
        objects,
        split_jobs: world.split_jobs.clone(),
        recipient_jobs: world.recipient_jobs.clone(),
        suppressions: world.suppressions.clone(),
        // The splitter never crashes here: an unarmed switch.
        recipients: CrashingRecipients { inner: world.recipients.clone(), crash: Arc::default() },
        send_log: world.send_log(),
        // Its deadline runs on the wall clock, like SES latency and pacing.
        clock: world.clock.at_wall_speed(),
    };
    while !world.stop.load(Ordering::Relaxed) {
        let batch = world.split_jobs.receive(1);
        if batch.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let event = LambdaEvent::new(sqs_event(&batch), context(SPLITTER_TIMEOUT));
        let result = fanmail_splitter::handler(&deps, event).await;
        acknowledge(&world.split_jobs, &batch, result);
    }
}

async fn sender_instance(world: Arc<World>, number: u64) {
    let mut rng = rng::Rng::new(world.settings.seed.wrapping_mul(1_000_003).wrapping_add(number));
    let mut crash = Arc::new(Crash::default());
    let mut deps = world.sender(crash.clone());
    while !world.stop.load(Ordering::Relaxed) {
        let batch = world.recipient_jobs.receive(MAX_BATCH);
        if batch.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let invocation = world.invocations.fetch_add(1, Ordering::Relaxed) + 1;
        let crashes_allowed = world.started.elapsed().as_secs_f64() < world.settings.crash_for_seconds;
        let point = CrashPoint::ALL.into_iter().find(|_| crashes_allowed && rng.chance(world.settings.crash_rate));
        crash.arm(invocation, point);
        let event = LambdaEvent::new(sqs_event(&batch), context(Duration::from_secs(30)));
        let result = tokio::select! {
            biased;
            () = crash.fired() => None,
            result = fanmail_sender::handler(&deps, event) => Some(result),
        };
        match result {
            Some(result) => acknowledge(&world.recipient_jobs, &batch, result),
            None => {
                // The instance died mid-invocation: nothing acknowledged, a new one starts cold.
                world.crashes.record(invocation, point.expect("armed"));
                crash = Arc::new(Crash::default());
                deps = world.sender(crash.clone());
                tokio::time::sleep(COLD_START).await;
            }
        }
    }
}

/// The generated list as CSV bytes, and which rows are suppressed.
fn list_bytes(rows: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut GeneratedList::new(rows), &mut bytes)?;
    Ok(bytes)
}

fn suppressed_row(settings: &Settings, row: u64) -> bool {
    settings.suppress_every > 0 && row % settings.suppress_every == settings.suppress_every - 1
}

async fn prepare(settings: &Settings) -> Result<(Arc<World>, MemoryObjectStore)> {
    let now = SystemClock.now();
    let world = World {
        settings: settings.clone(),
        templates: Default::default(),
        campaigns: Default::default(),
        recipients: Default::default(),
        suppressions: Default::default(),
        ledger: Default::default(),
        split_jobs: SimQueue::new(settings.visibility(), MAX_RECEIVES, 0.0, settings.seed),
        recipient_jobs: SimQueue::new(
            settings.visibility(),
            MAX_RECEIVES,
            settings.duplicate_delivery_rate,
            settings.seed,
        )
        .losing(settings.lose_messages),
        ses: Arc::new(SimSes::new(SesSettings {
            max_rate: settings.quota,
            reported_rate: settings.reported_quota,
            latency: (Duration::from_millis(settings.latency_ms.0), Duration::from_millis(settings.latency_ms.1)),
            transient_error_rate: settings.transient_error_rate,
            seed: settings.seed,
        })),
        clock: SimClock { origin: now, started: Instant::now(), scale: settings.time_scale },
        crashes: CrashLog::default(),
        invocations: AtomicU64::new(0),
        started: Instant::now(),
        stop: AtomicBool::new(false),
    };
    let objects = MemoryObjectStore::default();
    objects.put("lists/scale.csv", list_bytes(settings.rows)?, "text/csv").await?;
    for row in (0..settings.rows).filter(|row| suppressed_row(settings, *row)) {
        if let Some(address) = GeneratedList::unique_address(row) {
            world
                .suppressions
                .put(&Suppression {
                    address: EmailAddress::parse(&address)?,
                    scope: SuppressionScope::All,
                    reason: SuppressionReason::Complaint,
                    campaign_id: None,
                    created_at: now,
                })
                .await?;
        }
    }
    let template_id = TemplateId::parse("newsletter")?;
    world
        .templates
        .put_version(&Template {
            id: template_id.clone(),
            version: 1,
            name: "Newsletter".into(),
            subject: "{{name}}, this month in {{city}}".into(),
            html: html_of_size(settings.template_bytes),
            text: "Hello {{name}}, your code {{coupon}} works until {{expiry}}.".into(),
            created_at: now,
        })
        .await?;
    world
        .campaigns
        .create(&Campaign {
            id: World::campaign_id(),
            template_id,
            template_version: 1,
            list_key: "lists/scale.csv".into(),
            sender: Sender {
                address: EmailAddress::parse("news@example.com")?,
                name: Some("Fanmail".into()),
                reply_to: None,
            },
            shared_vars: BTreeMap::from([
                ("brand".to_string(), "fanmail".to_string()),
                ("expiry".to_string(), "2026-12-31".to_string()),
            ]),
            status: CampaignStatus::Queued,
            status_reason: None,
            counters: CampaignCounters::default(),
            created_at: now,
            updated_at: now,
            send_at: None,
            schedule_generation: 0,
            idempotency_key: None,
            report_parts: 0,
            split_rows: 0,
            split_finished: false,
        })
        .await?;
    Ok((Arc::new(world), objects))
}

/// Runs one simulated campaign and counts what happened to every recipient.
pub async fn simulate(settings: Settings) -> Result<Report> {
    let (world, objects) = prepare(&settings).await?;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let job = SplitJob { campaign_id: World::campaign_id(), resume_after_row: 0, run: 0 };
    world.split_jobs.send_all(&[OutgoingMessage::new("split", serde_json::to_string(&job)?)]).await?;

    let mut instances = vec![tokio::spawn(splitter_instance(world.clone(), objects))];
    for number in 0..u64::from(settings.concurrency) {
        instances.push(tokio::spawn(sender_instance(world.clone(), number)));
    }
    let (mut completed_at, mut split_done_at) = (None, None);
    let mut idle_since: Option<Instant> = None;
    let deadline = started + Duration::from_secs_f64(settings.max_wall_seconds);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let campaign = world.campaigns.get(&World::campaign_id()).await?.context("the campaign")?;
        if campaign.split_finished && split_done_at.is_none() {
            split_done_at = Some(started.elapsed());
        }
        if campaign.status == CampaignStatus::Completed && completed_at.is_none() {
            completed_at = Some(started.elapsed());
        }
        let queues_empty = world.recipient_jobs.depth() == 0 && world.split_jobs.depth() == 0;
        // Done when completed and nothing is left to redeliver (late duplicates included)...
        if completed_at.is_some() && queues_empty {
            break;
        }
        // ...or when nothing is left to do and the campaign cannot complete (something was lost).
        idle_since = if queues_empty { idle_since.or(Some(Instant::now())) } else { None };
        if idle_since.is_some_and(|at| at.elapsed() > Duration::from_secs(2)) {
            break;
        }
        if campaign.status.is_final() && campaign.status != CampaignStatus::Completed {
            break;
        }
    }
    world.stop.store(true, Ordering::Relaxed);
    for instance in instances {
        instance.await?;
    }
    let cpu = cpu_seconds() - cpu_before;
    let mut report = count(&world, completed_at, cpu).await?;
    report.split_seconds = split_done_at.map_or(0.0, |d| d.as_secs_f64());
    Ok(report)
}

async fn count(world: &World, completed_at: Option<Duration>, cpu: f64) -> Result<Report> {
    let settings = &world.settings;
    let campaign = world.campaigns.get(&World::campaign_id()).await?.context("the campaign")?;
    let statuses = world.recipients.count_by_status(&World::campaign_id());
    let status = |s: RecipientStatus| statuses.get(&s).copied().unwrap_or(0);
    let mut acceptances = world.ses.take_acceptances();
    let in_window = world.crashes.in_window.lock().unwrap().clone();
    let (mut valid_unique, mut lost, mut suppressed_but_mailed) = (0, 0, 0);
    let (mut duplicated_outside, mut duplicated_in_window) = (0, 0);
    let mut times = Vec::with_capacity(acceptances.len());
    let failed_ids: std::collections::HashSet<u128> = if status(RecipientStatus::Failed) > 0 {
        world
            .recipients
            .all()
            .into_iter()
            .filter(|r| r.status == RecipientStatus::Failed)
            .filter_map(|r| u128::from_str_radix(r.recipient_id.as_str(), 16).ok())
            .collect()
    } else {
        Default::default()
    };
    for row in 0..settings.rows {
        let Some(address) = GeneratedList::unique_address(row) else { continue };
        valid_unique += 1;
        let id = recipient_id(&EmailAddress::parse(&address)?);
        let id = u128::from_str_radix(id.as_str(), 16)?;
        let Some(sent) = acceptances.remove(&id) else {
            if !suppressed_row(settings, row) && !failed_ids.contains(&id) {
                lost += 1;
            }
            continue;
        };
        if suppressed_row(settings, row) {
            suppressed_but_mailed += 1;
        }
        times.push(sent.first_at.as_secs_f64());
        if sent.count > 1 {
            if in_window.contains(&sent.first_by) {
                duplicated_in_window += 1;
            } else {
                duplicated_outside += 1;
            }
        }
    }
    // Mails to anyone not on the list would be a fault too.
    suppressed_but_mailed += acceptances.len() as u64;
    times.sort_by(f64::total_cmp);
    let percentile =
        |p: f64| times.get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1))).copied();
    let c = campaign.counters;
    let mails_accepted = world.ses.total_accepted();
    let wall = completed_at.unwrap_or(world.started.elapsed()).as_secs_f64();
    let counters_add_up = c.total == valid_unique
        && c.sent == status(RecipientStatus::Sent)
        && c.sent == times.len() as u64
        && c.sent + c.failed + c.skipped + c.stopped == c.total
        && c.skipped == status(RecipientStatus::Suppressed);
    let queue = world.recipient_jobs.stats();
    let crashes = world.crashes.counts.lock().unwrap().iter().map(|(p, n)| (p.name().to_string(), *n)).collect();
    Ok(Report {
        settings: settings.clone(),
        completed: completed_at.is_some(),
        campaign_status: campaign.status.to_string(),
        wall_seconds: wall,
        split_seconds: 0.0,
        last_mail_accepted_seconds: world.ses.last_accepted_at().as_secs_f64(),
        mails_accepted,
        mails_per_second: mails_accepted as f64 / wall,
        quota_used: mails_accepted as f64 / wall / settings.quota,
        throttled_calls: world.ses.throttled(),
        transient_errors: world.ses.transient_errors(),
        rows: settings.rows,
        valid_unique,
        recipients_sent: c.sent,
        recipients_failed: c.failed,
        recipients_skipped: c.skipped,
        lost,
        duplicated_outside_crash_window: duplicated_outside,
        duplicated_in_crash_window: duplicated_in_window,
        suppressed_but_mailed,
        counters_add_up,
        counters: c,
        crashes,
        invocations: world.invocations.load(Ordering::Relaxed),
        redelivered_messages: queue.received_again,
        duplicate_deliveries: queue.duplicates_delivered,
        dead_letters: world.recipient_jobs.dead_letters().len() as u64,
        peak_queue_depth: queue.peak_depth,
        p50_seconds_to_send: percentile(0.50).unwrap_or(0.0),
        p99_seconds_to_send: percentile(0.99).unwrap_or(0.0),
        peak_rss_mib: peak_rss_mib(),
        cpu_seconds: cpu,
        cpu_seconds_per_1000_mails: cpu / (mails_accepted.max(1) as f64) * 1000.0,
    })
}
