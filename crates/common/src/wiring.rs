//! How a function is wired: one [`Ports`] trait names the adapter types, [`AwsAdapters`]
//! builds the production ones from one `SdkConfig`, [`MemoryAdapters`] holds one in-memory
//! world. Every function's `Deps<P: Ports>` takes the fields it needs, with `Deps::aws` and
//! `Deps::memory` built from these; the local runner and the simulation use the same.

use aws_config::SdkConfig;
use time::OffsetDateTime;

use crate::aws::{s3_client, EventBridgeScheduler, S3ObjectStore, ScheduleTarget, SesMailer, SqsQueue};
use crate::memory::{ManualClock, MemoryMailer, MemoryObjectStore, MemoryQueue, MemoryScheduler, SequentialIds};
use crate::ports::{Clock, IdGenerator, Mailer, ObjectStore, Queue, RecipientQueues, Scheduler};
use crate::store::{
    AuditLog, CampaignStore, DynamoAuditLog, DynamoCampaignStore, DynamoLedger, DynamoRecipientStore, DynamoResultLog,
    DynamoSendLog, DynamoSuppressionStore, DynamoTemplateStore, Ledger, MemoryAuditLog, MemoryCampaignStore,
    MemoryLedger, MemoryRecipientStore, MemorySuppressionStore, MemoryTemplateStore, RecipientStore, ResultLog,
    SendLog, StoreResultLog, StoreSendLog, SuppressionStore, TemplateStore,
};
use crate::system::{RandomIds, SystemClock};

/// The adapter types a function runs on.
pub trait Ports: Send + Sync + 'static {
    type Templates: TemplateStore;
    type Campaigns: CampaignStore;
    type Recipients: RecipientStore;
    type Suppressions: SuppressionStore;
    type Ledger: Ledger;
    type SendLog: SendLog;
    type ResultLog: ResultLog;
    type Objects: ObjectStore;
    type Queue: Queue;
    type Mailer: Mailer;
    type Scheduler: Scheduler;
    type Clock: Clock;
    type Ids: IdGenerator;
    type Audit: AuditLog;
}

/// Production: DynamoDB, S3, SQS, SES, EventBridge Scheduler, the system clock.
pub struct AwsPorts;

impl Ports for AwsPorts {
    type Templates = DynamoTemplateStore;
    type Campaigns = DynamoCampaignStore;
    type Recipients = DynamoRecipientStore;
    type Suppressions = DynamoSuppressionStore;
    type Ledger = DynamoLedger;
    type SendLog = DynamoSendLog;
    type ResultLog = DynamoResultLog;
    type Objects = S3ObjectStore;
    type Queue = SqsQueue;
    type Mailer = SesMailer;
    type Scheduler = EventBridgeScheduler;
    type Clock = SystemClock;
    type Ids = RandomIds;
    type Audit = DynamoAuditLog;
}

/// Unit tests: the in-memory adapters, a hand-moved clock, sequential ids.
pub struct MemoryPorts;

/// The send log over the memory stores, one write at a time.
pub type MemorySendLog = StoreSendLog<MemoryRecipientStore, MemoryCampaignStore, MemoryLedger>;
/// The result log over the memory stores, one write at a time.
pub type MemoryResultLog = StoreResultLog<MemoryRecipientStore, MemoryCampaignStore>;

impl Ports for MemoryPorts {
    type Templates = MemoryTemplateStore;
    type Campaigns = MemoryCampaignStore;
    type Recipients = MemoryRecipientStore;
    type Suppressions = MemorySuppressionStore;
    type Ledger = MemoryLedger;
    type SendLog = MemorySendLog;
    type ResultLog = MemoryResultLog;
    type Objects = MemoryObjectStore;
    type Queue = MemoryQueue;
    type Mailer = MemoryMailer;
    type Scheduler = MemoryScheduler;
    type Clock = ManualClock;
    type Ids = SequentialIds;
    type Audit = MemoryAuditLog;
}

/// Builds the production adapters: one SDK client per service, made once per cold start and
/// shared (cheaply cloned) by every adapter.
#[derive(Clone)]
pub struct AwsAdapters {
    dynamo: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    ses: aws_sdk_sesv2::Client,
    scheduler: aws_sdk_scheduler::Client,
}

impl AwsAdapters {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            s3: s3_client(sdk),
            ses: aws_sdk_sesv2::Client::new(sdk),
            scheduler: aws_sdk_scheduler::Client::new(sdk),
        }
    }

    pub fn audit(&self, table: &str) -> DynamoAuditLog {
        DynamoAuditLog::new(self.dynamo.clone(), table)
    }

    pub fn templates(&self, table: &str) -> DynamoTemplateStore {
        DynamoTemplateStore::new(self.dynamo.clone(), table)
    }

    pub fn campaigns(&self, table: &str) -> DynamoCampaignStore {
        DynamoCampaignStore::new(self.dynamo.clone(), table)
    }

    pub fn recipients(&self, table: &str) -> DynamoRecipientStore {
        DynamoRecipientStore::new(self.dynamo.clone(), table)
    }

    pub fn suppressions(&self, table: &str) -> DynamoSuppressionStore {
        DynamoSuppressionStore::new(self.dynamo.clone(), table)
    }

    pub fn ledger(&self, table: &str) -> DynamoLedger {
        DynamoLedger::new(self.dynamo.clone(), table)
    }

    pub fn send_log(&self, recipients_table: &str, campaigns_table: &str, ledger_table: &str) -> DynamoSendLog {
        DynamoSendLog::new(self.dynamo.clone(), recipients_table, campaigns_table, ledger_table)
    }

    pub fn result_log(&self, recipients_table: &str, campaigns_table: &str) -> DynamoResultLog {
        DynamoResultLog::new(self.dynamo.clone(), recipients_table, campaigns_table)
    }

    pub fn objects(&self, bucket: &str) -> S3ObjectStore {
        S3ObjectStore::new(self.s3.clone(), bucket)
    }

    pub fn queue(&self, url: &str) -> SqsQueue {
        SqsQueue::new(self.sqs.clone(), url)
    }

    pub fn recipient_queues(&self, bulk_url: &str, priority_url: &str) -> RecipientQueues<SqsQueue> {
        RecipientQueues { bulk: self.queue(bulk_url), priority: self.queue(priority_url) }
    }

    pub fn mailer(&self, configuration_set: Option<String>) -> SesMailer {
        SesMailer::new(self.ses.clone(), configuration_set)
    }

    pub fn scheduler(&self, target: ScheduleTarget) -> EventBridgeScheduler {
        EventBridgeScheduler::new(self.scheduler.clone(), target)
    }
}

/// One in-memory world: each store, queue and the clock once. Functions wired from the same
/// world share them, as functions deployed together share their tables and queues.
#[derive(Debug, Clone)]
pub struct MemoryAdapters {
    pub templates: MemoryTemplateStore,
    pub campaigns: MemoryCampaignStore,
    pub recipients: MemoryRecipientStore,
    pub suppressions: MemorySuppressionStore,
    pub ledger: MemoryLedger,
    pub objects: MemoryObjectStore,
    pub split_jobs: MemoryQueue,
    pub recipient_jobs: MemoryQueue,
    /// High-priority campaigns' recipients.
    pub priority_jobs: MemoryQueue,
    pub mailer: MemoryMailer,
    pub scheduler: MemoryScheduler,
    pub clock: ManualClock,
    pub ids: SequentialIds,
    pub audit: MemoryAuditLog,
}

impl MemoryAdapters {
    /// Empty stores and queues, the clock at `now`, ids `id1`, `id2`, ...
    pub fn at(now: OffsetDateTime) -> Self {
        Self {
            templates: Default::default(),
            campaigns: Default::default(),
            recipients: Default::default(),
            suppressions: Default::default(),
            ledger: Default::default(),
            objects: Default::default(),
            split_jobs: Default::default(),
            recipient_jobs: Default::default(),
            priority_jobs: Default::default(),
            mailer: Default::default(),
            scheduler: Default::default(),
            clock: ManualClock::at(now),
            ids: SequentialIds::with_prefix("id"),
            audit: Default::default(),
        }
    }

    /// Both recipients queues, as the functions that send to them hold them.
    pub fn recipient_queues(&self) -> RecipientQueues<MemoryQueue> {
        RecipientQueues { bulk: self.recipient_jobs.clone(), priority: self.priority_jobs.clone() }
    }

    pub fn send_log(&self) -> MemorySendLog {
        StoreSendLog {
            recipients: self.recipients.clone(),
            campaigns: self.campaigns.clone(),
            ledger: self.ledger.clone(),
        }
    }

    pub fn result_log(&self) -> MemoryResultLog {
        StoreResultLog { recipients: self.recipients.clone(), campaigns: self.campaigns.clone() }
    }
}
