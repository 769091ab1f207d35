use crate::test_support::{call, deps};
use crate::{Deps, MemoryPorts};
use fanmail_common::domain::{
    rejected_rows_key, CampaignId, CampaignJob, CampaignStatus, Counter, CounterDelta, EmailAddress, Priority,
    RecipientJob, RecipientStatus, RejectedRow, RequeueJob, SplitJob, SplitTotals, Template, TemplateId,
};
use fanmail_common::ports::{Clock, ObjectStore};
use fanmail_common::store::{CampaignReader, CampaignStore, RecipientStore, TemplateStore};
use serde_json::json;
use time::macros::datetime;

async fn ready() -> Deps<MemoryPorts> {
    let deps = deps();
    let template = Template {
        id: TemplateId::parse("welcome").unwrap(),
        version: 1,
        name: "w".into(),
        subject: "Hi {{name}}".into(),
        html: "<p>{{name}}</p>".into(),
        text: "{{name}}".into(),
        created_at: datetime!(2026-11-23 08:00 UTC),
        created_by: None,
    };
    deps.templates.put_version(&template).await.unwrap();
    deps.objects.put("lists/l1.csv", b"email,name\nkim@example.com,Kim\n".to_vec(), "text/csv").await.unwrap();
    deps
}

fn input() -> serde_json::Value {
    json!({"templateId": "welcome", "listKey": "lists/l1.csv", "from": {"address": "news@example.com", "name": "News"}, "vars": {"brand": "fanmail"}})
}

#[tokio::test]
async fn a_valid_campaign_is_stored_queued_and_its_split_job_enqueued() {
    let deps = ready().await;
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
    assert_eq!(status, 202, "{json}");
    assert_eq!((json["status"].as_str(), json["templateVersion"].as_u64()), (Some("queued"), Some(1)));
    let id = json["id"].as_str().unwrap();
    let jobs = deps.split_jobs.sent();
    assert_eq!(jobs.len(), 1);
    assert_eq!(serde_json::from_str::<SplitJob>(&jobs[0].body).unwrap().campaign_id.as_str(), id);
    let (status, got) = call(&deps, "GET /campaigns/{id}", Some(id), &[], None).await;
    assert_eq!((status, got["counters"]["sent"].as_u64()), (200, Some(0)));
}

#[tokio::test]
async fn bad_references_and_addresses_answer_4xx_and_queue_nothing() {
    let deps = ready().await;
    let cases = [
        (json!({"templateId": "nope"}), 422, "unknown_template"),
        (json!({"templateVersion": 7}), 422, "unknown_template"),
        (json!({"listKey": "lists/missing.csv"}), 422, "list_not_found"),
        (json!({"listKey": "../etc/passwd"}), 400, "invalid_list_key"),
        (json!({"from": {"address": "news@other.org"}}), 400, "unverified_from"),
        (json!({"from": {"address": "not an address"}}), 400, "invalid_from"),
        (json!({"from": {"address": "news@example.com", "name": "x\r\nBcc: y"}}), 400, "invalid_from"),
        (json!({"replyTo": "nope"}), 400, "invalid_reply_to"),
    ];
    for (patch, status, code) in cases {
        let mut body = input();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (got, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        assert_eq!((got, json["error"]["code"].as_str()), (status, Some(code)), "{patch}");
    }
    assert!(deps.split_jobs.sent().is_empty());
}

#[tokio::test]
async fn a_retried_post_with_the_same_idempotency_key_returns_the_same_campaign() {
    let deps = ready().await;
    let mut body = input();
    body["idempotencyKey"] = json!("order-42");
    let (first_status, first) = call(&deps, "POST /campaigns", None, &[], Some(body.clone())).await;
    let (second_status, second) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    assert_eq!((first_status, second_status), (202, 200));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(deps.split_jobs.sent().len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_expires_a_day_later_by_the_injected_clock() {
    let deps = ready().await;
    let mut body = input();
    body["idempotencyKey"] = json!("order-43");
    let (_, first) = call(&deps, "POST /campaigns", None, &[], Some(body.clone())).await;
    deps.clock.advance(time::Duration::hours(23));
    let (within_status, within) = call(&deps, "POST /campaigns", None, &[], Some(body.clone())).await;
    assert_eq!((within_status, &within["id"]), (200, &first["id"]), "23 hours on, the key still holds");
    deps.clock.advance(time::Duration::hours(2));
    let (after_status, after) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    assert_eq!(after_status, 202, "25 hours on, the key has expired: {after}");
    assert_ne!(after["id"], first["id"]);
    assert_eq!(deps.split_jobs.sent().len(), 2);
}

/// The requeue jobs the API handed to the splitter, in order.
fn requeue_jobs(deps: &Deps<MemoryPorts>) -> Vec<RequeueJob> {
    deps.split_jobs
        .sent()
        .iter()
        .filter_map(|m| match serde_json::from_str(&m.body).unwrap() {
            CampaignJob::Requeue(job) => Some(job),
            CampaignJob::Split(_) => None,
        })
        .collect()
}

/// However many failed recipients a campaign has, the route only hands the work to the
/// splitter (which pages through them, see its requeue tests) and answers at once.
#[tokio::test]
async fn retry_failed_hands_the_work_out_and_answers_202_with_its_progress() {
    let deps = ready().await;
    let id = sent_in_full(&deps, 3).await;
    let (status, json) = call(&deps, "POST /campaigns/{id}/retry-failed", Some(id.as_str()), &[], None).await;
    assert_eq!(status, 202, "{json}");
    assert_eq!(
        (json["requeue"]["kind"].as_str(), json["requeue"]["finished"].as_bool()),
        (Some("retry_failed"), Some(false))
    );
    assert_eq!(json["campaign"]["requeue"], json["requeue"], "the campaign shows it too");
    assert_eq!(requeue_jobs(&deps), [RequeueJob::retry_failed(id.clone())]);
    let (_, view) = call(&deps, "GET /campaigns/{id}", Some(id.as_str()), &[], None).await;
    assert_eq!(view["requeue"]["kind"], "retry_failed");

    call(&deps, "POST /campaigns/{id}/cancel", Some(id.as_str()), &[], None).await;
    let (status, _) = call(&deps, "POST /campaigns/{id}/retry-failed", Some(id.as_str()), &[], None).await;
    assert_eq!((status, requeue_jobs(&deps).len()), (409, 1), "a cancelled campaign retries nothing");
}

#[tokio::test]
async fn a_scheduled_campaign_gets_one_schedule_and_queues_nothing_yet() {
    use fanmail_common::domain::ScheduledSend;
    let deps = ready().await;
    let mut body = input();
    body["sendAt"] = json!("2026-11-24T18:30");
    body["timezone"] = json!("Asia/Seoul");
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    assert_eq!((status, json["status"].as_str()), (202, Some("scheduled")), "{json}");
    assert_eq!(json["sendAt"], "2026-11-24T09:30:00Z");
    assert!(deps.split_jobs.sent().is_empty());
    let schedules = deps.scheduler.all();
    assert_eq!(schedules.len(), 1);
    assert_eq!((schedules[0].at, schedules[0].timezone.as_str()), (datetime!(2026-11-24 18:30), "Asia/Seoul"));
    let payload: ScheduledSend = serde_json::from_str(&schedules[0].payload).unwrap();
    assert_eq!((payload.campaign_id.as_str(), payload.generation), (json["id"].as_str().unwrap(), 1));
}

#[tokio::test]
async fn a_send_time_in_the_past_or_unreadable_is_400_and_creates_nothing() {
    let deps = ready().await;
    for (send_at, zone) in [
        ("2026-11-23T08:00:00Z", None),
        ("tomorrow", None),
        ("2026-12-01T09:00", Some("Nowhere/City")),
        // Past the last instant the calendar holds, once moved to UTC.
        ("9999-12-31T23:59", Some("America/Los_Angeles")),
    ] {
        let mut body = input();
        body["sendAt"] = json!(send_at);
        if let Some(zone) = zone {
            body["timezone"] = json!(zone);
        }
        let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_send_at")), "{send_at}: {json}");
    }
    assert!(deps.scheduler.all().is_empty());
    assert!(deps.split_jobs.sent().is_empty());
}

#[tokio::test]
async fn rescheduling_moves_the_schedule_and_supersedes_the_old_generation() {
    use fanmail_common::domain::ScheduledSend;
    let deps = ready().await;
    let mut body = input();
    body["sendAt"] = json!("2026-11-24T00:00:00Z");
    let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    let id = created["id"].as_str().unwrap();
    let (status, json) = call(
        &deps,
        "PUT /campaigns/{id}/schedule",
        Some(id),
        &[],
        Some(json!({"sendAt": "2026-11-25T12:00:00+09:00"})),
    )
    .await;
    assert_eq!((status, json["sendAt"].as_str()), (200, Some("2026-11-25T03:00:00Z")), "{json}");
    let schedules = deps.scheduler.all();
    assert_eq!((schedules.len(), schedules[0].at), (1, datetime!(2026-11-25 03:00)));
    let payload: ScheduledSend = serde_json::from_str(&schedules[0].payload).unwrap();
    assert_eq!(payload.generation, 2);
}

#[tokio::test]
async fn cancelling_a_scheduled_campaign_deletes_its_schedule_and_a_finished_one_is_409() {
    let deps = ready().await;
    let mut body = input();
    body["sendAt"] = json!("2026-11-24T00:00:00Z");
    let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    let id = created["id"].as_str().unwrap();
    let (status, json) = call(&deps, "POST /campaigns/{id}/cancel", Some(id), &[], None).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("cancelled")));
    assert!(deps.scheduler.all().is_empty());
    let (status, json) = call(&deps, "POST /campaigns/{id}/cancel", Some(id), &[], None).await;
    assert_eq!(status, 409);
    assert!(json["error"]["message"].as_str().unwrap().contains("cancelled"), "{json}");
    let (status, _) =
        call(&deps, "PUT /campaigns/{id}/schedule", Some(id), &[], Some(json!({"sendAt": "2026-11-25T00:00:00Z"})))
            .await;
    assert_eq!(status, 409);
}

/// What a sender records for a recipient it receives while the campaign is paused: `r1` parked.
async fn park_one_recipient(deps: &Deps<MemoryPorts>, id: &CampaignId, at: time::OffsetDateTime) {
    use fanmail_common::domain::{Recipient, RecipientId, SendOutcome};
    let job = RecipientJob {
        campaign_id: id.clone(),
        recipient_id: RecipientId::parse("r1").unwrap(),
        address: EmailAddress::parse("u1@example.com").unwrap(),
        vars: Default::default(),
        row: 2,
    };
    deps.recipients.claim(&Recipient::from_job(&job, at), at, at).await.unwrap();
    deps.recipients.finish(id, &SendOutcome::new(job.recipient_id.clone(), RecipientStatus::Paused), at).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn pause_parks_and_resume_requeues_the_parked_recipients_and_the_rest_of_the_split() {
    use fanmail_common::domain::SplitTotals;
    let deps = ready().await;
    let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
    let id = fanmail_common::domain::CampaignId::parse(created["id"].as_str().unwrap()).unwrap();
    let at = datetime!(2026-11-23 09:00 UTC);
    deps.campaigns.transition(&id, &[CampaignStatus::Queued], CampaignStatus::Splitting, None, None, at).await.unwrap();
    let (status, json) = call(&deps, "POST /campaigns/{id}/pause", Some(id.as_str()), &[], None).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("paused")));
    // What the splitter and a sender record while it is paused.
    let totals = SplitTotals { total: 200, queued: 200, rows_done: 200, report_parts: 1, ..Default::default() };
    deps.campaigns.set_split_totals(&id, &totals).await.unwrap();
    park_one_recipient(&deps, &id, at).await;

    let (status, json) = call(&deps, "POST /campaigns/{id}/resume", Some(id.as_str()), &[], None).await;
    assert_eq!((status, json["campaign"]["status"].as_str()), (202, Some("splitting")), "{json}");
    let split: Vec<SplitJob> = deps
        .split_jobs
        .sent()
        .iter()
        .filter_map(|m| match serde_json::from_str(&m.body).unwrap() {
            CampaignJob::Split(job) => Some(job),
            CampaignJob::Requeue(_) => None,
        })
        .collect();
    assert_eq!((split.last().unwrap().resume_after_row, split.last().unwrap().run), (200, 1), "the split goes on");
    assert_eq!(requeue_jobs(&deps), [RequeueJob::resume(id.clone())], "the parked recipient's requeue is handed out");
    assert_eq!(json["requeue"]["kind"], "resume");
    // A repeated resume (a client's retry) hands the requeue out again, harmlessly; a
    // cancelled campaign cannot be resumed.
    let (status, _) = call(&deps, "POST /campaigns/{id}/resume", Some(id.as_str()), &[], None).await;
    assert_eq!((status, requeue_jobs(&deps).len()), (202, 2));
    call(&deps, "POST /campaigns/{id}/cancel", Some(id.as_str()), &[], None).await;
    let (status, _) = call(&deps, "POST /campaigns/{id}/resume", Some(id.as_str()), &[], None).await;
    assert_eq!(status, 409, "a cancelled campaign cannot be resumed");
}

/// The audit table refuses a change's entry: the change still has its follow-up (a created
/// campaign its split job, a resumed one its parked recipients re-queued), and the answer is
/// the change's own (a 503 would invite a retry: a second campaign, mailed again).
#[tokio::test(start_paused = true)]
async fn a_change_whose_audit_entry_fails_still_has_its_follow_up() {
    let deps = ready().await;
    deps.audit.refuse_next(1);
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
    assert_eq!(status, 202, "{json}");
    assert_eq!(deps.split_jobs.sent().len(), 1, "the campaign's split job is queued all the same");
    let (_, listed) = call(&deps, "GET /campaigns", None, &[], None).await;
    let id = CampaignId::parse(listed["items"][0]["id"].as_str().unwrap()).unwrap();

    let at = datetime!(2026-11-23 09:00 UTC);
    deps.campaigns.transition(&id, &[CampaignStatus::Queued], CampaignStatus::Paused, None, None, at).await.unwrap();
    park_one_recipient(&deps, &id, at).await;
    deps.audit.refuse_next(1);
    let (status, json) = call(&deps, "POST /campaigns/{id}/resume", Some(id.as_str()), &[], None).await;
    assert_eq!(status, 202, "{json}");
    assert_eq!(requeue_jobs(&deps).len(), 1, "the parked recipient's requeue is handed out all the same");
}

/// A created campaign moved to `sending` with every one of its `total` recipients sent.
async fn sent_in_full(deps: &Deps<MemoryPorts>, total: u64) -> fanmail_common::domain::CampaignId {
    use fanmail_common::domain::SplitTotals;
    let (_, created) = call(deps, "POST /campaigns", None, &[], Some(input())).await;
    let id = fanmail_common::domain::CampaignId::parse(created["id"].as_str().unwrap()).unwrap();
    let at = deps.clock.now();
    deps.campaigns.transition(&id, &[CampaignStatus::Queued], CampaignStatus::Splitting, None, None, at).await.unwrap();
    let totals = SplitTotals { total, queued: total, finished: true, ..Default::default() };
    deps.campaigns.set_split_totals(&id, &totals).await.unwrap();
    deps.campaigns
        .transition(&id, &[CampaignStatus::Splitting], CampaignStatus::Sending, None, None, at)
        .await
        .unwrap();
    deps.campaigns.add_counters(&id, &CounterDelta::default().add(Counter::Sent, total as i64)).await.unwrap();
    id
}

#[tokio::test]
async fn reading_a_campaign_never_changes_it() {
    let deps = ready().await;
    let id = sent_in_full(&deps, 2).await;
    let before = deps.campaigns.get(&id).await.unwrap().unwrap();
    let (status, json) = call(&deps, "GET /campaigns/{id}", Some(id.as_str()), &[], None).await;
    assert_eq!((status, json["status"].as_str()), (200, Some("sending")));
    assert_eq!(deps.campaigns.get(&id).await.unwrap().unwrap(), before, "a GET writes nothing");
}

#[tokio::test(start_paused = true)]
async fn resuming_a_campaign_whose_every_outcome_is_counted_completes_it() {
    let deps = ready().await;
    let id = sent_in_full(&deps, 2).await;
    let at = deps.clock.now();
    deps.campaigns.transition(&id, &[CampaignStatus::Sending], CampaignStatus::Paused, None, None, at).await.unwrap();
    let (status, json) = call(&deps, "POST /campaigns/{id}/resume", Some(id.as_str()), &[], None).await;
    assert_eq!((status, json["campaign"]["status"].as_str(), requeue_jobs(&deps).len()), (202, Some("completed"), 0));
}

#[tokio::test]
async fn unknown_campaigns_are_404_and_bad_status_filters_400() {
    let deps = ready().await;
    assert_eq!(call(&deps, "GET /campaigns/{id}", Some("nope"), &[], None).await.0, 404);
    let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
    let id = created["id"].as_str().unwrap();
    let (status, json) = call(&deps, "GET /campaigns/{id}/recipients", Some(id), &[("status", "weird")], None).await;
    assert_eq!((status, json["error"]["code"].as_str()), (400, Some("bad_status")));
    let (status, json) = call(&deps, "GET /campaigns/{id}/rejected-rows", Some(id), &[], None).await;
    assert_eq!((status, json["items"].as_array().map(Vec::len)), (200, Some(0)));
}

#[tokio::test]
async fn rejected_rows_page_through_every_report_part_in_order() {
    let deps = ready().await;
    let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
    let id = CampaignId::parse(created["id"].as_str().unwrap()).unwrap();
    let parts: [&[u64]; 3] = [&[2, 3, 4], &[], &[9, 10]];
    for (n, rows) in parts.iter().enumerate() {
        let body: String = rows
            .iter()
            .map(|row| {
                serde_json::to_string(&RejectedRow { row: *row, reason: "bad".into(), value: None }).unwrap() + "\n"
            })
            .collect();
        deps.objects.put(&rejected_rows_key(&id, n as u32), body.into_bytes(), "application/x-ndjson").await.unwrap();
    }
    let totals = SplitTotals { rejected_rows: 5, report_parts: 3, ..Default::default() };
    deps.campaigns.set_split_totals(&id, &totals).await.unwrap();
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let (status, json) = call(&deps, "GET /campaigns/{id}/rejected-rows", Some(id.as_str()), &query, None).await;
        assert_eq!(status, 200);
        seen.extend(json["items"].as_array().unwrap().iter().map(|r| r["row"].as_u64().unwrap()));
        pages += 1;
        match json["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!((seen, pages), (vec![2, 3, 4, 9, 10], 3));
    let query = [("cursor", "7")];
    let (status, json) = call(&deps, "GET /campaigns/{id}/rejected-rows", Some(id.as_str()), &query, None).await;
    assert_eq!((status, json["error"]["code"].as_str()), (400, Some("bad_cursor")));
}

#[tokio::test]
async fn a_campaign_keeps_its_own_max_rate_and_an_impossible_one_is_400() {
    let deps = ready().await;
    let mut body = input();
    body["maxRate"] = json!(5);
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    assert_eq!((status, json["maxRate"].as_u64()), (202, Some(5)), "{json}");
    let id = CampaignId::parse(json["id"].as_str().unwrap()).unwrap();
    assert_eq!(deps.campaigns.get(&id).await.unwrap().unwrap().max_rate, Some(5));
    for bad in [json!(0), json!(-1), json!(2.5), json!("fast"), json!(1_000_000)] {
        let mut body = input();
        body["maxRate"] = bad.clone();
        let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        assert_eq!(status, 400, "{bad}: {json}");
    }
}

#[tokio::test]
async fn a_campaign_is_bulk_unless_it_asks_for_high_priority_and_another_priority_is_400() {
    let deps = ready().await;
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
    assert_eq!((status, json["priority"].as_str()), (202, Some("bulk")), "{json}");
    let mut body = input();
    body["priority"] = json!("high");
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    assert_eq!((status, json["priority"].as_str()), (202, Some("high")), "{json}");
    let id = CampaignId::parse(json["id"].as_str().unwrap()).unwrap();
    assert_eq!(deps.campaigns.get(&id).await.unwrap().unwrap().priority, Priority::High);
    for bad in [json!("urgent"), json!("HIGH"), json!(1)] {
        let mut body = input();
        body["priority"] = bad.clone();
        let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        assert_eq!(status, 400, "{bad}: {json}");
    }
    let mut body = input();
    body["priority"] = json!("urgent");
    let (_, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    assert_eq!(json["error"]["code"], "invalid_priority");
}

#[tokio::test]
async fn campaigns_are_listed_newest_first_a_page_at_a_time_and_by_status() {
    let deps = ready().await;
    let mut created = Vec::new();
    for _ in 0..3 {
        let (_, json) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
        created.push(json["id"].as_str().unwrap().to_string());
        deps.clock.advance(time::Duration::minutes(1));
    }
    call(&deps, "POST /campaigns/{id}/cancel", Some(&created[1]), &[], None).await;
    let ids = |json: &serde_json::Value| -> Vec<String> {
        json["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    let (status, first) = call(&deps, "GET /campaigns", None, &[("limit", "2")], None).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(ids(&first), [created[2].clone(), created[1].clone()]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let (_, second) = call(&deps, "GET /campaigns", None, &[("limit", "2"), ("cursor", cursor)], None).await;
    assert_eq!(ids(&second), [created[0].clone()]);
    let (_, queued) = call(&deps, "GET /campaigns", None, &[("status", "queued")], None).await;
    assert_eq!(ids(&queued), [created[2].clone(), created[0].clone()]);
    assert_eq!(queued["items"][0]["status"], "queued");
    let (status, json) = call(&deps, "GET /campaigns", None, &[("status", "done")], None).await;
    assert_eq!((status, json["error"]["code"].as_str()), (400, Some("bad_status")));
}
