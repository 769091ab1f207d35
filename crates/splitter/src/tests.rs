use std::collections::BTreeMap;

use aws_lambda_events::sqs::SqsMessage;
use fanmail_common::domain::*;
use fanmail_common::memory::*;
use fanmail_common::ports::{ObjectStore, Queue};
use fanmail_common::recipient_list::recipient_id;
use fanmail_common::store::{CampaignStore, MemoryCampaignStore, RecipientStore, SuppressionStore, TemplateStore};
use time::macros::datetime;

use super::*;

type MemDeps = Deps<MemoryPorts>;

async fn deps_with(list: &[u8], html: &str, shared: &[(&str, &str)]) -> MemDeps {
    deps_with_list_at("lists/l.csv", list, html, shared).await
}

async fn deps_with_list_at(key: &str, list: &[u8], html: &str, shared: &[(&str, &str)]) -> MemDeps {
    let deps = Deps::memory(&MemoryAdapters::at(datetime!(2026-11-23 09:00 UTC)));
    let at = datetime!(2026-11-23 09:00 UTC);
    deps.templates
        .put_version(&Template {
            id: TemplateId::parse("t").unwrap(),
            version: 1,
            name: "t".into(),
            subject: "Hi {{name}}".into(),
            html: html.into(),
            text: "x".into(),
            created_at: at,
            created_by: None,
        })
        .await
        .unwrap();
    deps.objects.put(key, list.to_vec(), "text/csv").await.unwrap();
    let campaign = Campaign {
        list_key: key.into(),
        shared_vars: shared.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        ..stored_campaign(at)
    };
    deps.campaigns.create(&campaign).await.unwrap();
    deps
}

/// Campaign `c1`, queued, created at `at`.
pub(crate) fn stored_campaign(at: time::OffsetDateTime) -> Campaign {
    Campaign {
        id: CampaignId::parse("c1").unwrap(),
        template_id: TemplateId::parse("t").unwrap(),
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

pub(crate) fn event(bodies: &[String]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (i, body) in bodies.iter().enumerate() {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m{i}"));
        m.body = Some(body.clone());
        event.records.push(m);
    }
    event
}

async fn run(deps: &MemDeps, job: &SplitJob) -> SqsBatchResponse {
    handler(deps, LambdaEvent::new(event(&[serde_json::to_string(job).unwrap()]), Default::default())).await.unwrap()
}

pub(crate) fn campaign_id() -> CampaignId {
    CampaignId::parse("c1").unwrap()
}

fn queued_jobs(deps: &MemDeps) -> Vec<RecipientJob> {
    deps.recipient_jobs.bulk.sent().iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect()
}

const LIST: &str = "\u{feff}email,name\r\nkim@example.com,Kim\r\nbad-address,X\r\nKIM@example.com,Again\r\nlee@example.com,\"Lee, Y\"\r\n";

#[tokio::test]
async fn fans_out_unique_valid_rows_and_reports_the_rest() {
    let deps = deps_with(LIST.as_bytes(), "<p>{{name}}</p>", &[]).await;
    let response = run(&deps, &SplitJob::start(campaign_id())).await;
    assert!(response.batch_item_failures.is_empty());
    let jobs = queued_jobs(&deps);
    let rows: Vec<_> = jobs.iter().map(|j| (j.row, j.address.to_string(), j.vars["name"].clone())).collect();
    assert_eq!(rows, [(2, "kim@example.com".into(), "Kim".into()), (5, "lee@example.com".into(), "Lee, Y".into())]);
    // Grouped by campaign: on a fair queue, one campaign's backlog does not hold back another's.
    assert!(deps.recipient_jobs.bulk.sent().iter().all(|m| m.group.as_deref() == Some("c1")));
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Sending);
    let c = campaign.counters;
    assert_eq!((c.total, c.queued, c.rejected_rows, c.duplicates), (2, 2, 1, 1));
    let report = String::from_utf8(deps.objects.get(&rejected_rows_key(&campaign_id(), 0)).unwrap()).unwrap();
    let rejected: RejectedRow = serde_json::from_str(report.lines().next().unwrap()).unwrap();
    assert_eq!((rejected.row, rejected.value.as_deref()), (3, Some("bad-address")));
}

#[tokio::test]
async fn rejected_rows_are_written_in_parts_as_they_come_not_held_to_the_end() {
    let mut list = String::from("email,name\n");
    for i in 0..25_000 {
        list.push_str(&format!("bad-address-{i},X\n"));
    }
    list.push_str("kim@example.com,Kim\n");
    let deps = deps_with(list.as_bytes(), "<p>{{name}}</p>", &[]).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!((campaign.counters.rejected_rows, campaign.report_parts), (25_000, 3));
    let part = |n| String::from_utf8(deps.objects.get(&rejected_rows_key(&campaign_id(), n)).unwrap()).unwrap();
    let rows: Vec<RejectedRow> =
        (0..3).flat_map(|n| part(n).lines().map(|l| serde_json::from_str(l).unwrap()).collect::<Vec<_>>()).collect();
    assert_eq!(part(0).lines().count(), REPORT_PART_ROWS);
    assert_eq!(rows.iter().map(|r| r.row).collect::<Vec<_>>(), (2..25_002).collect::<Vec<_>>());
    assert_eq!(queued_jobs(&deps).len(), 1);
}

#[tokio::test]
async fn a_list_missing_a_template_column_fails_the_campaign_and_queues_nothing() {
    let deps = deps_with(LIST.as_bytes(), "<p>{{name}} {{coupon}} {{brand}}</p>", &[("brand", "fanmail")]).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    assert!(deps.recipient_jobs.bulk.sent().is_empty());
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Failed);
    let reason = campaign.status_reason.unwrap();
    assert!(reason.contains("'coupon'") && !reason.contains("brand"), "{reason}");
}

#[tokio::test]
async fn capitalised_headers_fill_the_templates_variables_under_its_own_spelling() {
    let list = "\u{feff}Email,Name,Member Tier\r\nkim@example.com,Kim,Gold\r\n";
    let deps = deps_with(list.as_bytes(), "<p>{{name}}, {{member_tier}}</p>", &[]).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    let jobs = queued_jobs(&deps);
    assert_eq!(jobs.len(), 1);
    let expected =
        BTreeMap::from([("member_tier".to_string(), "Gold".to_string()), ("name".to_string(), "Kim".to_string())]);
    assert_eq!(jobs[0].vars, expected);
}

#[tokio::test]
async fn a_high_priority_campaigns_recipients_go_to_the_priority_queue() {
    let deps = deps_with(LIST.as_bytes(), "<p>{{name}}</p>", &[]).await;
    let mut campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    campaign.priority = Priority::High;
    let urgent = CampaignId::parse("urgent").unwrap();
    deps.campaigns.create(&Campaign { id: urgent.clone(), ..campaign }).await.unwrap();
    run(&deps, &SplitJob::start(urgent)).await;
    assert!(deps.recipient_jobs.bulk.sent().is_empty());
    assert_eq!(deps.recipient_jobs.priority.sent().len(), 2);
}

#[tokio::test]
async fn a_missing_variable_is_named_with_the_columns_the_list_has() {
    let deps = deps_with(b"Email;Name;Tier\nkim@example.com;Kim;Gold\n", "<p>{{name}} {{coupon}}</p>", &[]).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    let reason = campaign.status_reason.unwrap();
    assert!(reason.contains("no column for 'coupon'"), "{reason}");
    assert!(reason.contains("the list's columns: 'Email', 'Name', 'Tier'"), "{reason}");
    assert!(deps.recipient_jobs.bulk.sent().is_empty());
}

#[tokio::test]
async fn an_excel_workbook_is_split_like_a_csv_with_excels_row_numbers() {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in [["Email", "Name"], ["kim@example.com", "Kim"], ["not-an-address", "X"], ["lee@example.com", "Lee"]]
        .iter()
        .enumerate()
    {
        for (c, value) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, *value).unwrap();
        }
    }
    let bytes = book.save_to_buffer().unwrap();
    let deps = deps_with_list_at("lists/l.xlsx", &bytes, "<p>{{name}}</p>", &[]).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    let jobs = queued_jobs(&deps);
    let sent: Vec<(u64, &str, &str)> =
        jobs.iter().map(|j| (j.row, j.address.as_str(), j.vars["name"].as_str())).collect();
    assert_eq!(sent, [(3, "kim@example.com", "Kim"), (5, "lee@example.com", "Lee")]);
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(campaign.counters.rejected_rows, 1);
    let report = String::from_utf8(deps.objects.get(&rejected_rows_key(&campaign_id(), 0)).unwrap()).unwrap();
    let rejected: RejectedRow = serde_json::from_str(report.lines().next().unwrap()).unwrap();
    assert_eq!(rejected.row, 4, "the row number Excel shows");
}

#[tokio::test]
async fn a_list_without_an_address_column_fails_with_the_reason() {
    let deps = deps_with(b"name,phone\nKim,010\n", "<p>{{name}}</p>", &[]).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Failed);
    assert!(campaign.status_reason.unwrap().contains("no column holds the e-mail address"));
}

#[tokio::test]
async fn a_redelivered_split_job_queues_nothing_more_and_counts_once() {
    let deps = deps_with(LIST.as_bytes(), "<p>{{name}}</p>", &[]).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    assert_eq!(queued_jobs(&deps).len(), 2);
    assert_eq!(deps.campaigns.get(&campaign_id()).await.unwrap().unwrap().counters.total, 2);
}

#[tokio::test]
async fn a_continuation_skips_rows_already_queued_but_keeps_counting_them() {
    let mut list = String::from("email,name\n");
    for i in 0..450 {
        list.push_str(&format!("user{i}@example.com,U{i}\n"));
    }
    list.push_str("user7@example.com,dup\n");
    let deps = deps_with(list.as_bytes(), "<p>{{name}}</p>", &[]).await;
    deps.campaigns
        .transition(
            &campaign_id(),
            &[CampaignStatus::Queued],
            CampaignStatus::Splitting,
            None,
            None,
            datetime!(2026-11-23 09:00 UTC),
        )
        .await
        .unwrap();
    // As if a first run had queued 200 rows and checkpointed.
    run(&deps, &SplitJob { campaign_id: campaign_id(), resume_after_row: 200, run: 1 }).await;
    let jobs = queued_jobs(&deps);
    assert_eq!(jobs.len(), 250);
    assert_eq!(jobs[0].address.as_str(), "user200@example.com");
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!((campaign.counters.total, campaign.counters.duplicates, campaign.report_parts), (450, 1, 2));
}

#[tokio::test]
async fn malformed_and_orphan_jobs_are_left_for_the_dead_letter_queue() {
    let deps = deps_with(LIST.as_bytes(), "x", &[]).await;
    let response = handler(
        &deps,
        LambdaEvent::new(event(&["not json".into(), r#"{"campaignId":"missing"}"#.into()]), Default::default()),
    )
    .await
    .unwrap();
    assert_eq!(response.batch_item_failures.len(), 2);
}

/// A recipient queue whose first batch is followed by a cancel, as if a user cancelled then.
struct CancelAfterFirstBatch {
    queue: MemoryQueue,
    campaigns: MemoryCampaignStore,
}

impl Queue for CancelAfterFirstBatch {
    async fn send_all(
        &self,
        messages: &[fanmail_common::ports::OutgoingMessage],
    ) -> Result<(), fanmail_common::ports::QueueError> {
        self.queue.send_all(messages).await?;
        let id = campaign_id();
        let live = [CampaignStatus::Splitting];
        let _ = self
            .campaigns
            .transition(&id, &live, CampaignStatus::Cancelled, None, None, datetime!(2026-11-23 09:01 UTC))
            .await;
        Ok(())
    }
}

/// The memory ports with a recipient queue that cancels after its first batch.
struct CancellingPorts;

impl Ports for CancellingPorts {
    type Templates = <MemoryPorts as Ports>::Templates;
    type Campaigns = <MemoryPorts as Ports>::Campaigns;
    type Objects = <MemoryPorts as Ports>::Objects;
    type Queue = CancelAfterFirstBatch;
    type Suppressions = <MemoryPorts as Ports>::Suppressions;
    type Recipients = <MemoryPorts as Ports>::Recipients;
    type SendLog = <MemoryPorts as Ports>::SendLog;
    type Clock = <MemoryPorts as Ports>::Clock;
    type Ledger = <MemoryPorts as Ports>::Ledger;
    type ResultLog = <MemoryPorts as Ports>::ResultLog;
    type Mailer = <MemoryPorts as Ports>::Mailer;
    type Scheduler = <MemoryPorts as Ports>::Scheduler;
    type Ids = <MemoryPorts as Ports>::Ids;
    type Audit = <MemoryPorts as Ports>::Audit;
}

#[tokio::test]
async fn a_cancel_mid_split_stops_the_fan_out_and_totals_what_was_queued() {
    let mut list = String::from("email,name\n");
    for i in 0..1000 {
        list.push_str(&format!("user{i}@example.com,U{i}\n"));
    }
    let plain = deps_with(list.as_bytes(), "<p>{{name}}</p>", &[]).await;
    let campaigns = plain.campaigns.clone();
    let deps = Deps::<CancellingPorts> {
        templates: plain.templates,
        campaigns: campaigns.clone(),
        objects: plain.objects,
        split_jobs: CancelAfterFirstBatch { queue: MemoryQueue::default(), campaigns: campaigns.clone() },
        recipient_jobs: RecipientQueues {
            bulk: CancelAfterFirstBatch { queue: MemoryQueue::default(), campaigns: campaigns.clone() },
            priority: CancelAfterFirstBatch { queue: MemoryQueue::default(), campaigns: campaigns.clone() },
        },
        suppressions: plain.suppressions,
        recipients: plain.recipients,
        send_log: plain.send_log,
        clock: plain.clock,
        dead_letter_queue_arn: None,
    };
    let job = serde_json::to_string(&SplitJob::start(campaign_id())).unwrap();
    handler(&deps, LambdaEvent::new(event(&[job]), Default::default())).await.unwrap();
    assert_eq!(deps.recipient_jobs.bulk.queue.sent().len(), FLUSH_SIZE, "nothing after the flush that saw the cancel");
    let campaign = campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(
        (campaign.status, campaign.counters.total, campaign.counters.queued),
        (CampaignStatus::Cancelled, 200, 200)
    );
}

#[tokio::test]
async fn suppressed_addresses_are_recorded_as_skipped_not_queued_and_counted_once() {
    let list = "email,name\nkim@example.com,Kim\nlee@example.com,Lee\npark@example.com,Park\n";
    let deps = deps_with(list.as_bytes(), "<p>{{name}}</p>", &[]).await;
    let at = datetime!(2026-11-23 08:00 UTC);
    for (address, scope) in [
        ("lee@example.com", SuppressionScope::All),
        ("park@example.com", SuppressionScope::Sender("news@example.com".into())),
    ] {
        let reason = SuppressionReason::HardBounce;
        let address = EmailAddress::parse(address).unwrap();
        deps.suppressions
            .put(&Suppression { address, scope, reason, campaign_id: None, created_at: at })
            .await
            .unwrap();
    }
    // Another sender's unsubscribe does not hold for this campaign's sender.
    let other = Suppression {
        address: EmailAddress::parse("kim@example.com").unwrap(),
        scope: SuppressionScope::Sender("shop@example.com".into()),
        reason: SuppressionReason::Unsubscribed,
        campaign_id: None,
        created_at: at,
    };
    deps.suppressions.put(&other).await.unwrap();
    let job = SplitJob::start(campaign_id());
    run(&deps, &job).await;
    run(&deps, &job).await;
    let queued: Vec<String> = queued_jobs(&deps).iter().map(|j| j.address.to_string()).collect();
    assert_eq!(queued, ["kim@example.com"]);
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!((campaign.counters.total, campaign.counters.skipped), (3, 2), "a re-run counts nobody twice");
    let lee = recipient_id(&EmailAddress::parse("lee@example.com").unwrap());
    let lee = deps.recipients.get(&campaign_id(), &lee).await.unwrap().unwrap();
    assert_eq!(lee.status, RecipientStatus::Suppressed);
}

/// A Lambda context whose deadline is `left` after the deps' clock.
pub(crate) fn context_with_time_left(deps: &MemDeps, left: time::Duration) -> lambda_runtime::Context {
    let mut context = lambda_runtime::Context::default();
    let deadline = deps.clock.now() + left;
    context.deadline = (deadline - time::OffsetDateTime::UNIX_EPOCH).whole_milliseconds() as u64;
    context
}

async fn split_with_time_left(rows: usize, left: time::Duration) -> MemDeps {
    let mut list = String::from("email,name\n");
    for i in 0..rows {
        list.push_str(&format!("user{i}@example.com,U{i}\n"));
    }
    let deps = deps_with(list.as_bytes(), "<p>{{name}}</p>", &[]).await;
    let job = serde_json::to_string(&SplitJob::start(campaign_id())).unwrap();
    let context = context_with_time_left(&deps, left);
    handler(&deps, LambdaEvent::new(event(&[job]), context)).await.unwrap();
    deps
}

#[tokio::test]
async fn near_the_deadline_by_the_injected_clock_a_split_checkpoints_after_its_flush() {
    let deps = split_with_time_left(1000, time::Duration::seconds(DEADLINE_MARGIN.as_secs() as i64 / 2)).await;
    assert_eq!(deps.recipient_jobs.bulk.sent().len(), FLUSH_SIZE);
    let next: Vec<SplitJob> = deps.split_jobs.sent().iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert_eq!(next.len(), 1, "one continuation");
    assert_eq!((next[0].resume_after_row, next[0].run), (FLUSH_SIZE as u64, 1));
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(campaign.status, CampaignStatus::Splitting, "the continuation finishes it");
}

#[tokio::test]
async fn with_time_left_by_the_injected_clock_a_split_runs_to_the_end() {
    let deps = split_with_time_left(1000, time::Duration::minutes(15)).await;
    assert_eq!(deps.recipient_jobs.bulk.sent().len(), 1000);
    assert!(deps.split_jobs.sent().is_empty(), "no continuation");
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!((campaign.status, campaign.counters.total), (CampaignStatus::Sending, 1000));
}

#[tokio::test]
async fn a_list_whose_every_address_is_suppressed_completes_at_the_hand_over() {
    let deps = deps_with(b"email,name\nkim@example.com,Kim\nlee@example.com,Lee\n", "<p>{{name}}</p>", &[]).await;
    for address in ["kim@example.com", "lee@example.com"] {
        let suppression = Suppression {
            address: EmailAddress::parse(address).unwrap(),
            scope: SuppressionScope::All,
            reason: SuppressionReason::Complaint,
            campaign_id: None,
            created_at: datetime!(2026-11-23 08:00 UTC),
        };
        deps.suppressions.put(&suppression).await.unwrap();
    }
    run(&deps, &SplitJob::start(campaign_id())).await;
    assert!(queued_jobs(&deps).is_empty());
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(
        (campaign.status, campaign.counters.skipped),
        (CampaignStatus::Completed, 2),
        "nobody is left to complete it"
    );
}

/// The campaign names its list's address column: the split reads the addresses from it, even
/// where another column has a usual address header.
#[tokio::test]
async fn a_campaigns_email_column_is_where_the_split_reads_the_addresses() {
    let list = b"Email,Personal,name\nkim@work.example,kim@home.example,Kim\n";
    let deps = deps_with(list, "<p>{{name}}</p>", &[]).await;
    let named = Deps::memory(&MemoryAdapters::at(datetime!(2026-11-23 09:00 UTC)));
    let at = datetime!(2026-11-23 09:00 UTC);
    let template = deps.templates.get(&TemplateId::parse("t").unwrap(), Some(1)).await.unwrap().unwrap();
    named.templates.put_version(&template).await.unwrap();
    named.objects.put("lists/l.csv", list.to_vec(), "text/csv").await.unwrap();
    named.campaigns.create(&Campaign { email_column: Some("personal".into()), ..stored_campaign(at) }).await.unwrap();
    run(&named, &SplitJob::start(campaign_id())).await;
    let addresses: Vec<String> = queued_jobs(&named).iter().map(|j| j.address.to_string()).collect();
    assert_eq!(addresses, ["kim@home.example"]);
    run(&deps, &SplitJob::start(campaign_id())).await;
    let addresses: Vec<String> = queued_jobs(&deps).iter().map(|j| j.address.to_string()).collect();
    assert_eq!(addresses, ["kim@work.example"], "without it, the usual header");
}

/// The campaign names the encoding its list was read in: a Western-European Excel export is
/// Windows-1252, and its accented names arrive intact.
#[tokio::test]
async fn the_campaign_names_the_encoding_its_list_was_read_in() {
    let list = b"email,name\nmueller@example.com,M\xfcller\nrene@example.com,Ren\xe9\n";
    let deps = deps_with(list, "<p>{{name}}</p>", &[]).await;
    run(&deps, &SplitJob::start(campaign_id())).await;
    let campaign = deps.campaigns.get(&campaign_id()).await.unwrap().unwrap();
    assert_eq!(campaign.list_format.as_deref(), Some("windows-1252"));
    let names: Vec<String> = queued_jobs(&deps).iter().map(|j| j.vars["name"].clone()).collect();
    assert_eq!(names, ["Müller", "René"]);
}
