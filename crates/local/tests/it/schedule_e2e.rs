//! Scheduled campaigns and cancels end to end on the local stack: the runner's clock plays
//! EventBridge Scheduler, firing each schedule at its time with the payload Scheduler delivers.

use std::collections::BTreeSet;
use std::time::Duration;

use fanmail_common::aws::{EventBridgeScheduler, ScheduleTarget};
use fanmail_common::ports::{Clock, Scheduler};
use fanmail_common::system::SystemClock;
use fanmail_local::client::ApiClient;
use fanmail_local::Runner;
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::campaign_e2e::{create, mailed_recipients, mails_to, start, start_with_rate, wait_until_drained};
use crate::support::{endpoints, unique_name};

fn rfc3339(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0).unwrap().format(&Rfc3339).unwrap()
}

/// A template and an uploaded list of `n` recipients in a domain of their own.
pub(crate) async fn campaign_inputs(api: &ApiClient, n: usize) -> (String, String) {
    let domain = format!("{}.example.com", unique_name());
    let mut csv = String::from("email,name\n");
    for i in 0..n {
        csv.push_str(&format!("user{i}@{domain},User {i}\n"));
    }
    create(api, "/templates", json!({"id": "note", "name": "note", "subject": "Hi {{name}}", "text": "Hi {{name}}"}))
        .await;
    (api.upload_list(csv.as_bytes()).await.unwrap(), domain)
}

pub(crate) fn body(list_key: &str, send_at: Option<OffsetDateTime>) -> Value {
    let mut body = json!({"templateId": "note", "listKey": list_key, "from": {"address": "news@example.com"}});
    if let Some(at) = send_at {
        body["sendAt"] = json!(rfc3339(at));
    }
    body
}

pub(crate) async fn status(api: &ApiClient, id: &str) -> Value {
    api.call("GET", &format!("/campaigns/{id}"), None).await.unwrap().1
}

fn scheduler(runner: &Runner, sdk: &aws_config::SdkConfig) -> EventBridgeScheduler {
    let stack = &runner.stack;
    EventBridgeScheduler::new(
        aws_sdk_scheduler::Client::new(sdk),
        ScheduleTarget {
            group: stack.reference("ScheduleGroup").unwrap().into(),
            target_arn: stack.attribute("TriggerFunction", "Arn").unwrap().into(),
            role_arn: stack.attribute("SchedulerRole", "Arn").unwrap().into(),
            dead_letter_arn: None,
        },
    )
}

/// Seconds since the epoch at which the SES stand-in received each mail of `domain`.
async fn sent_at(domain: &str) -> Vec<i64> {
    mails_to(domain).await.values().flatten().map(|m| m["at"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_scheduled_campaign_is_not_sent_before_its_time_and_is_sent_after() {
    let (_runner, api) = start().await;
    let (key, domain) = campaign_inputs(&api, 20).await;
    let at = SystemClock.now() + time::Duration::seconds(5);
    let campaign = create(&api, "/campaigns", body(&key, Some(at))).await;
    let id = campaign["id"].as_str().unwrap();
    assert_eq!(campaign["status"], "scheduled");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(status(&api, id).await["status"], "scheduled");
    assert!(mails_to(&domain).await.is_empty(), "nothing before its time");

    let done = api.wait_for_campaign(id, Duration::from_secs(60)).await.unwrap();
    assert_eq!((done["status"].as_str(), done["counters"]["sent"].as_u64()), (Some("completed"), Some(20)));
    let times = sent_at(&domain).await;
    assert_eq!(times.len(), 20);
    assert!(times.iter().all(|t| *t >= at.unix_timestamp()), "every mail after {at}: {times:?}");
}

#[tokio::test]
async fn a_campaign_cancelled_before_its_time_sends_nothing_and_loses_its_schedule() {
    let (runner, api) = start().await;
    let (key, domain) = campaign_inputs(&api, 5).await;
    // Far enough ahead that a loaded machine still creates it in time.
    let at = SystemClock.now() + time::Duration::seconds(10);
    let campaign = create(&api, "/campaigns", body(&key, Some(at))).await;
    let id = campaign["id"].as_str().unwrap();
    let sdk = endpoints().sdk_config().await;
    let name = format!("campaign-{id}");
    assert!(scheduler(&runner, &sdk).get(&name).await.unwrap().is_some());
    let (code, cancelled) = api.call("POST", &format!("/campaigns/{id}/cancel"), None).await.unwrap();
    assert_eq!((code, cancelled["status"].as_str()), (200, Some("cancelled")));
    assert!(scheduler(&runner, &sdk).get(&name).await.unwrap().is_none(), "the schedule is gone");
    let past_its_time = (at + time::Duration::seconds(4) - SystemClock.now()).max(time::Duration::ZERO);
    tokio::time::sleep(past_its_time.unsigned_abs()).await;
    assert_eq!(status(&api, id).await["status"], "cancelled");
    assert!(mails_to(&domain).await.is_empty());
}

#[tokio::test]
async fn a_rescheduled_campaign_fires_only_at_its_new_time() {
    let (_runner, api) = start().await;
    let (key, domain) = campaign_inputs(&api, 5).await;
    let now = SystemClock.now();
    let campaign = create(&api, "/campaigns", body(&key, Some(now + time::Duration::seconds(6)))).await;
    let id = campaign["id"].as_str().unwrap();
    let later = now + time::Duration::seconds(14);
    let (code, moved) =
        api.call("PUT", &format!("/campaigns/{id}/schedule"), Some(json!({"sendAt": rfc3339(later)}))).await.unwrap();
    assert_eq!(code, 200, "{moved}");
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(status(&api, id).await["status"], "scheduled", "the old time did not fire");
    assert!(mails_to(&domain).await.is_empty());
    let done = api.wait_for_campaign(id, Duration::from_secs(60)).await.unwrap();
    assert_eq!(done["counters"]["sent"], 5);
    assert!(sent_at(&domain).await.iter().all(|t| *t >= later.unix_timestamp()));
}

#[tokio::test]
async fn a_trigger_delivered_twice_sends_once() {
    let (runner, api) = start().await;
    let (key, domain) = campaign_inputs(&api, 10).await;
    let campaign = create(&api, "/campaigns", body(&key, Some(SystemClock.now() + time::Duration::minutes(30)))).await;
    let id = campaign["id"].as_str().unwrap();
    // Scheduler delivers at least once: the same payload twice.
    let payload = json!({"campaignId": id, "generation": 1});
    let first = runner.functions.scheduled(payload.clone()).await.unwrap();
    let second = runner.functions.scheduled(payload).await.unwrap();
    assert_eq!(first["outcome"], "queued");
    assert!(matches!(second["outcome"].as_str(), Some("queued" | "already_started")), "{second}");
    let done = api.wait_for_campaign(id, Duration::from_secs(60)).await.unwrap();
    assert_eq!(done["counters"]["sent"], 10);
    let mails = mails_to(&domain).await;
    assert_eq!(mails.len(), 10);
    assert!(mails.values().all(|m| m.len() == 1), "one mail each");
}

#[tokio::test]
async fn a_running_campaign_cancelled_mid_way_stops_and_its_counts_add_up() {
    // Slow enough (20 mails/s) that the cancel lands while the campaign is sending.
    let (runner, api) = start_with_rate("20").await;
    let (key, domain) = campaign_inputs(&api, 300).await;
    let campaign = create(&api, "/campaigns", body(&key, None)).await;
    let id = campaign["id"].as_str().unwrap();
    for _ in 0..100 {
        if status(&api, id).await["counters"]["sent"].as_u64().unwrap_or(0) >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, _) = api.call("POST", &format!("/campaigns/{id}/cancel"), None).await.unwrap();
    assert_eq!(code, 200);
    let sdk = endpoints().sdk_config().await;
    wait_until_drained(&sdk, runner.stack.reference("RecipientsQueue").unwrap()).await;
    let done = status(&api, id).await;
    let c = &done["counters"];
    let (total, sent, stopped) =
        (c["total"].as_u64().unwrap(), c["sent"].as_u64().unwrap(), c["stopped"].as_u64().unwrap());
    assert_eq!(done["status"], "cancelled");
    assert!(sent < total, "the cancel stopped it part-way: {done}");
    assert!(stopped > 0, "{done}");
    assert_eq!(sent + stopped + c["failed"].as_u64().unwrap() + c["skipped"].as_u64().unwrap(), total, "{done}");
    // No mail after the cancel took effect: whoever was stopped got nothing, whoever got a mail
    // is recorded as sent.
    let addresses = |items: Vec<Value>| -> BTreeSet<String> {
        items.iter().map(|r| r["address"].as_str().unwrap().to_string()).collect()
    };
    let sent_to = addresses(mailed_recipients(&api, id).await);
    let stopped_for = addresses(api.all_pages(&format!("/campaigns/{id}/recipients?status=stopped")).await.unwrap());
    let mailed: BTreeSet<String> = mails_to(&domain).await.into_keys().collect();
    assert_eq!((sent_to.len() as u64, stopped_for.len() as u64), (sent, stopped));
    assert_eq!(mailed, sent_to, "every mail went to a recipient recorded as sent");
    assert!(mailed.is_disjoint(&stopped_for), "no stopped recipient got a mail");
}

#[tokio::test]
async fn pause_then_resume_delivers_every_recipient_exactly_once() {
    let (runner, api) = start_with_rate("20").await;
    let (key, domain) = campaign_inputs(&api, 150).await;
    let campaign = create(&api, "/campaigns", body(&key, None)).await;
    let id = campaign["id"].as_str().unwrap();
    for _ in 0..100 {
        if status(&api, id).await["counters"]["sent"].as_u64().unwrap_or(0) >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, paused) = api.call("POST", &format!("/campaigns/{id}/pause"), None).await.unwrap();
    assert_eq!((code, paused["status"].as_str()), (200, Some("paused")), "{paused}");
    // While paused the senders park what they receive; once the queue is empty nothing moves.
    let sdk = endpoints().sdk_config().await;
    wait_until_drained(&sdk, runner.stack.reference("RecipientsQueue").unwrap()).await;
    let during = status(&api, id).await;
    assert_eq!(during["status"], "paused");
    let parked = api.all_pages(&format!("/campaigns/{id}/recipients?status=paused")).await.unwrap();
    let sent_while_paused = during["counters"]["sent"].as_u64().unwrap();
    assert!(sent_while_paused < 150, "paused part-way: {during}");
    assert_eq!(mails_to(&domain).await.len() as u64, sent_while_paused, "nothing sent beyond the recorded count");

    let (code, resumed) = api.call("POST", &format!("/campaigns/{id}/resume"), None).await.unwrap();
    assert_eq!(code, 202, "{resumed}");
    let done = api.wait_for_campaign(id, Duration::from_secs(120)).await.unwrap();
    assert_eq!((done["status"].as_str(), done["counters"]["sent"].as_u64()), (Some("completed"), Some(150)), "{done}");
    let mails = mails_to(&domain).await;
    assert_eq!(mails.len(), 150);
    assert!(mails.values().all(|m| m.len() == 1), "every recipient exactly once");
    for recipient in parked {
        assert!(
            mails.contains_key(recipient["address"].as_str().unwrap()),
            "a parked recipient was sent after the resume"
        );
    }
}
