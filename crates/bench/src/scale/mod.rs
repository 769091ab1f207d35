//! `make scale`: a campaign run through the real splitter and sender handlers — the functions
//! the Lambdas run — on in-memory stand-ins for AWS: the stores fanmail's unit tests use
//! (conditional writes as in DynamoDB), a queue with SQS semantics, an SES with latency, a
//! rate limit and faults, `concurrency` sender instances and crash injection. It then counts
//! every recipient: sent once, failed, skipped, lost or sent twice.
//!
//! SES can also pause the account mid-campaign (the user resumes the campaign through the
//! API's own resume once the pause is lifted), keep a 24-hour quota, and answer late.
//!
//! Time: SES latency, pacing and the queue run on the wall clock. `time_scale` speeds up the
//! long timers only (the queue's visibility timeout and delayed sends, the claims' lease), so
//! a short run still sees crashed and re-queued messages come back.

mod crash;
mod report;
mod rng;
mod second;
mod ses;
mod settings;
mod sqs;
pub mod table;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use fanmail_common::domain::{
    Campaign, CampaignCounters, CampaignId, CampaignStatus, EmailAddress, Sender, SplitJob, Suppression,
    SuppressionReason, SuppressionScope, Template, TemplateId, UnsubscribeKey,
};
use fanmail_common::memory::{MemoryObjectStore, MemoryScheduler, SequentialIds};
use fanmail_common::ports::{Clock, ObjectStore, OutgoingMessage, Queue, RecipientQueues};
use fanmail_common::store::{
    CampaignReader, CampaignStore, MemoryCampaignStore, MemoryLedger, MemoryRecipientStore, MemorySuppressionStore,
    MemoryTemplateStore, StoreSendLog, SuppressionStore, TemplateStore,
};
use fanmail_common::system::SystemClock;
use fanmail_common::wiring::{MemoryResultLog, Ports};
use lambda_runtime::{Context, LambdaEvent};
use time::OffsetDateTime;
use tokio::time::Instant;

pub use crash::CrashPoint;
use crash::{Crash, CrashLog, CrashingRecipients, Throttle};
use report::count;
pub use report::Report;
use ses::{InstanceMailer, SesSettings, SimSes};
pub use settings::Settings;
use sqs::{Received, SimQueue, MAX_BATCH};

use crate::{cpu_seconds, html_of_size, GeneratedList};

/// The queue's visibility timeout in `template.yaml` (six times the sender's timeout).
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(180);
/// The queue's redrive policy in `template.yaml`.
const MAX_RECEIVES: u32 = 3;
/// The splitter's Lambda timeout in `template.yaml`.
const SPLITTER_TIMEOUT: Duration = Duration::from_secs(60);
/// The sender's `Timeout` in the template.
const SENDER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an idle instance waits before polling again (the event source's long poll).
const IDLE_POLL: Duration = Duration::from_millis(20);
/// A replacement instance's cold start after a crash.
const COLD_START: Duration = Duration::from_millis(200);

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
    /// Outcomes written through the throttled recipient store.
    type SendLog = StoreSendLog<CrashingRecipients<MemoryRecipientStore>, MemoryCampaignStore, MemoryLedger>;
    type ResultLog = MemoryResultLog;
    type Objects = MemoryObjectStore;
    type Queue = SimQueue;
    type Mailer = InstanceMailer;
    type Scheduler = MemoryScheduler;
    type Clock = SimClock;
    type Ids = SequentialIds;
    type Audit = fanmail_common::store::MemoryAuditLog;
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
    /// DynamoDB throttling of the senders' claims and outcome writes.
    store_throttle: Arc<Throttle>,
}

const CAMPAIGN: &str = "scale";
const KEY: &[u8] = b"the simulation's unsubscribe key, 32+ bytes";

impl World {
    /// The send log, writing outcomes through `throttle` (DynamoDB refusing some writes).
    fn send_log(&self, throttle: Arc<Throttle>) -> <SimPorts as Ports>::SendLog {
        StoreSendLog {
            recipients: CrashingRecipients { inner: self.recipients.clone(), crash: Arc::default(), throttle },
            campaigns: self.campaigns.clone(),
            ledger: self.ledger.clone(),
        }
    }

    /// The simulated campaigns are all bulk: both queues are the one simulated queue.
    fn recipient_queues(&self) -> RecipientQueues<SimQueue> {
        RecipientQueues { bulk: self.recipient_jobs.clone(), priority: self.recipient_jobs.clone() }
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
            priority_queue_url: "priority".into(),
            dead_letter_queue_arn: None,
            configuration_set: "fanmail".into(),
            max_send_rate: self.settings.reported_quota,
            sender_concurrency: self.settings.concurrency,
            public_base_url: "https://api.example.com".into(),
            unsubscribe_secret_arn: "unsubscribe".into(),
            recipient_retention: Default::default(),
        };
        fanmail_sender::Deps {
            templates: self.templates.clone(),
            campaigns: self.campaigns.clone(),
            recipients: CrashingRecipients {
                inner: self.recipients.clone(),
                crash: crash.clone(),
                throttle: self.store_throttle.clone(),
            },
            suppressions: self.suppressions.clone(),
            send_log: self.send_log(self.store_throttle.clone()),
            ledger: self.ledger.clone(),
            mailer: InstanceMailer { ses: self.ses.clone(), crash },
            requeue: self.recipient_queues(),
            clock: self.clock.clone(),
            warm: fanmail_sender::Warm::new(&config),
            config,
            unsubscribe_key: UnsubscribeKey::new(KEY.to_vec()).expect("long enough"),
        }
    }

    fn campaign_id() -> CampaignId {
        CampaignId::parse(CAMPAIGN).expect("a valid id")
    }

    /// The API function, as the user reaches it (for a resume).
    fn api(&self) -> Result<fanmail_api::Deps<SimPorts>> {
        use fanmail_common::config::{vars, Env};
        let env = Env::from_lookup(|name| {
            Some(match name {
                vars::SENDER_DOMAIN => "example.com".to_string(),
                vars::MAX_SEND_RATE => "14".to_string(),
                _ => format!("sim-{name}"),
            })
        });
        Ok(fanmail_api::Deps {
            templates: self.templates.clone(),
            campaigns: self.campaigns.clone(),
            recipients: CrashingRecipients {
                inner: self.recipients.clone(),
                crash: Arc::default(),
                throttle: Arc::default(),
            },
            suppressions: self.suppressions.clone(),
            ledger: self.ledger.clone(),
            audit: Default::default(),
            results: fanmail_common::store::StoreResultLog {
                recipients: self.recipients.clone(),
                campaigns: self.campaigns.clone(),
            },
            objects: MemoryObjectStore::default(),
            split_jobs: self.split_jobs.clone(),
            scheduler: MemoryScheduler::default(),
            mailer: InstanceMailer { ses: self.ses.clone(), crash: Arc::default() },
            clock: self.clock.at_wall_speed(),
            ids: SequentialIds::default(),
            config: fanmail_api::Config::from_env(&env)?,
            unsubscribe_keys: fanmail_common::ports::UnsubscribeKeys::fixed(Some(
                UnsubscribeKey::new(KEY.to_vec()).expect("long enough"),
            )),
        })
    }

    /// `POST /campaigns/{id}/resume`, through the API's handler.
    async fn resume_campaign(&self) -> Result<()> {
        let mut request = aws_lambda_events::apigw::ApiGatewayV2httpRequest::default();
        request.route_key = Some("POST /campaigns/{id}/resume".into());
        request.path_parameters.insert("id".into(), CAMPAIGN.into());
        let response = fanmail_api::handler(&self.api()?, LambdaEvent::new(request, Context::default()))
            .await
            .map_err(|e| anyhow::anyhow!("resume: {e}"))?;
        anyhow::ensure!(response.status_code == 202, "resume answered {}", response.status_code);
        Ok(())
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

/// A Lambda context whose deadline (epoch ms) is `timeout` after `now` by the clock the
/// handler measures it with: the invocation lasts `timeout` of wall time.
fn context(now: OffsetDateTime, timeout: Duration) -> Context {
    let mut context = Context::default();
    let deadline = now + timeout;
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
        recipient_jobs: world.recipient_queues(),
        suppressions: world.suppressions.clone(),
        // The splitter never crashes here: an unarmed switch.
        recipients: CrashingRecipients {
            inner: world.recipients.clone(),
            crash: Arc::default(),
            throttle: Arc::default(),
        },
        send_log: world.send_log(Arc::default()),
        // Its deadline runs on the wall clock, like SES latency and pacing.
        clock: world.clock.at_wall_speed(),
        dead_letter_queue_arn: None,
    };
    while !world.stop.load(Ordering::Relaxed) {
        let batch = world.split_jobs.receive(1);
        if batch.is_empty() {
            tokio::time::sleep(IDLE_POLL).await;
            continue;
        }
        let event = LambdaEvent::new(sqs_event(&batch), context(deps.clock.now(), SPLITTER_TIMEOUT));
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
        let event = LambdaEvent::new(sqs_event(&batch), context(deps.clock.now(), SENDER_TIMEOUT));
        let result = tokio::select! {
            biased;
            () = crash.fired() => Err(point.expect("armed")),
            // Lambda stops an invocation at its timeout, wherever it is.
            () = tokio::time::sleep(SENDER_TIMEOUT) => Err(CrashPoint::TimedOut),
            result = fanmail_sender::handler(&deps, event) => Ok(result),
        };
        match result {
            Ok(result) => acknowledge(&world.recipient_jobs, &batch, result),
            Err(point) => {
                // The instance died mid-invocation: nothing acknowledged, a new one starts cold.
                world.crashes.record(invocation, point);
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
    let ledger = MemoryLedger::default();
    let clock = SimClock { origin: now, started: Instant::now(), scale: settings.time_scale };
    let world = World {
        settings: settings.clone(),
        templates: Default::default(),
        campaigns: Default::default(),
        recipients: Default::default(),
        suppressions: Default::default(),
        ledger: ledger.clone(),
        split_jobs: SimQueue::new(settings.visibility(), MAX_RECEIVES, 0.0, settings.seed)
            .delays_sped_up(settings.time_scale),
        recipient_jobs: SimQueue::new(
            settings.visibility(),
            MAX_RECEIVES,
            settings.duplicate_delivery_rate,
            settings.seed,
        )
        .losing(settings.lose_messages)
        .delays_sped_up(settings.time_scale),
        ses: Arc::new(SimSes::new(
            SesSettings {
                max_rate: settings.quota,
                reported_rate: settings.reported_quota,
                latency: (Duration::from_millis(settings.latency_ms.0), Duration::from_millis(settings.latency_ms.1)),
                transient_error_rate: settings.transient_error_rate,
                seed: settings.seed,
                daily_quota: settings.daily_quota,
                pause_after: settings.pause_after,
                paused_for: Duration::from_secs_f64(settings.reinstate_after_seconds),
                slow_reply_rate: settings.slow_reply_rate,
            },
            (ledger, clock.clone()),
        )),
        clock,
        crashes: CrashLog::default(),
        invocations: AtomicU64::new(0),
        started: Instant::now(),
        stop: AtomicBool::new(false),
        store_throttle: Arc::new(Throttle::every(settings.store_throttle_every)),
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
            created_by: None,
        })
        .await?;
    world.campaigns.create(&campaign(World::campaign_id(), "lists/scale.csv", now)?).await?;
    if settings.second_rows > 0 {
        second::prepare(&world, &objects, now).await?;
    }
    Ok((Arc::new(world), objects))
}

/// A queued campaign of the newsletter template to the list at `list_key`.
fn campaign(id: CampaignId, list_key: &str, now: OffsetDateTime) -> Result<Campaign> {
    Ok(Campaign {
        id,
        template_id: TemplateId::parse("newsletter")?,
        template_version: 1,
        list_key: list_key.into(),
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
        max_rate: None,
        priority: Default::default(),
        created_by: None,
        updated_by: None,
        list_format: None,
        email_column: None,
        requeue: None,
    })
}

/// Queues the split job that starts campaign `id`.
async fn start(world: &World, id: CampaignId) -> Result<()> {
    let job = SplitJob { campaign_id: id, resume_after_row: 0, run: 0 };
    world.split_jobs.send_all(&[OutgoingMessage::new("split", serde_json::to_string(&job)?)]).await?;
    Ok(())
}

/// Runs one simulated campaign and counts what happened to every recipient.
pub async fn simulate(settings: Settings) -> Result<Report> {
    let (world, objects) = prepare(&settings).await?;
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    start(&world, World::campaign_id()).await?;
    let mut second = second::Progress::new(&settings);

    let mut instances = vec![tokio::spawn(splitter_instance(world.clone(), objects))];
    for number in 0..u64::from(settings.concurrency) {
        instances.push(tokio::spawn(sender_instance(world.clone(), number)));
    }
    let (mut completed_at, mut split_done_at, mut resumed) = (None, None, 0u32);
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
        second.step(&world, started.elapsed()).await?;
        let queues_empty = world.recipient_jobs.depth() == 0 && world.split_jobs.depth() == 0;
        // Done when completed and nothing is left to redeliver (late duplicates included)...
        if completed_at.is_some() && second.done() && queues_empty {
            break;
        }
        // A campaign SES's pause paused: the user resumes it once the account can send again.
        if campaign.status == CampaignStatus::Paused && queues_empty && world.ses.reinstated() && resumed == 0 {
            world.resume_campaign().await?;
            resumed += 1;
            idle_since = None;
            continue;
        }
        // ...or when nothing is left to do and the campaign cannot complete (something was lost).
        idle_since = if queues_empty { idle_since.or(Some(Instant::now())) } else { None };
        let awaiting_resume = campaign.status == CampaignStatus::Paused && settings.pause_after > 0 && resumed == 0;
        if idle_since.is_some_and(|at| at.elapsed() > Duration::from_secs(2)) && !awaiting_resume && !second.pending() {
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
    let mut report = count(&world, completed_at, cpu, &second).await?;
    report.split_seconds = split_done_at.map_or(0.0, |d| d.as_secs_f64());
    report.resumed = resumed;
    Ok(report)
}
