//! A high-priority campaign (a test or transactional send) goes ahead of a bulk backlog on the
//! local stack: its recipients wait on a queue of their own, polled beside the bulk one. moto
//! delivers the bulk queue in arrival order, so without it the three urgent mails would wait
//! behind every bulk one.

use std::time::Duration;

use serde_json::json;

use crate::campaign_e2e::{create, mails_to, start_with_parameters};
use crate::support::unique_name;

fn list(domain: &str, prefix: &str, rows: usize) -> Vec<u8> {
    let mut text = String::from("email,name\n");
    for i in 0..rows {
        text.push_str(&format!("{prefix}{i}@{domain},N{i}\n"));
    }
    text.into_bytes()
}

#[tokio::test]
async fn a_high_priority_campaign_completes_while_a_bulk_one_started_before_it_is_still_sending() {
    // 20 mails a second in all: the bulk campaign's 400 take about 20 s.
    let (_runner, api) = start_with_parameters(&[("MaxSendRate", "20"), ("SenderConcurrency", "2")]).await;
    let domain = format!("{}.example.com", unique_name());
    create(&api, "/templates", json!({"id": "t", "name": "t", "subject": "Hi {{name}}", "html": "<p>x</p>"})).await;
    let from = json!({"address": "news@example.com"});
    let bulk_key = api.upload_list(&list(&domain, "bulk", 400)).await.unwrap();
    let bulk = create(&api, "/campaigns", json!({"templateId": "t", "listKey": bulk_key, "from": from})).await;
    let bulk_id = bulk["id"].as_str().unwrap();
    // Wait until the bulk campaign is sending, its backlog queued.
    for _ in 0..240 {
        let (_, campaign) = api.call("GET", &format!("/campaigns/{bulk_id}"), None).await.unwrap();
        if campaign["counters"]["sent"].as_u64().unwrap_or(0) >= 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let urgent_key = api.upload_list(&list(&domain, "urgent", 3)).await.unwrap();
    let urgent =
        create(&api, "/campaigns", json!({"templateId": "t", "listKey": urgent_key, "from": from, "priority": "high"}))
            .await;
    assert_eq!(urgent["priority"], "high");
    let done = api.wait_for_campaign(urgent["id"].as_str().unwrap(), Duration::from_secs(120)).await.unwrap();
    assert_eq!((done["status"].as_str(), done["counters"]["sent"].as_u64()), (Some("completed"), Some(3)), "{done}");
    let (_, bulk_now) = api.call("GET", &format!("/campaigns/{bulk_id}"), None).await.unwrap();
    assert_eq!(bulk_now["status"], "sending", "the urgent campaign finished first: {bulk_now}");
    assert!(bulk_now["counters"]["sent"].as_u64().unwrap() < 400, "{bulk_now}");
    let bulk_done = api.wait_for_campaign(bulk_id, Duration::from_secs(240)).await.unwrap();
    assert_eq!(bulk_done["counters"]["sent"].as_u64(), Some(400), "{bulk_done}");
    let mails = mails_to(&domain).await;
    assert_eq!(mails.len(), 403);
    assert!(mails.values().all(|m| m.len() == 1));
}

/// A high-priority campaign keeps to its own queue through everything that puts its mails back:
/// an invocation out of time hands its unsent mails back to the priority queue (the sender), and
/// a pause parks them until the resume queues them there again (the API). Each mailed once.
#[tokio::test]
async fn a_paced_paused_and_resumed_high_priority_campaign_stays_on_its_queue_and_mails_each_once() {
    use std::sync::atomic::Ordering;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoints = crate::support::endpoints();
    // Counts the messages sent to each recipients queue.
    let (sdk, counters) =
        crate::support::counting_sends(&endpoints.sdk_config().await, &["PriorityRecipientsQueue", "RecipientsQueue"]);
    let (priority, bulk) = (&counters[0], &counters[1]);
    let parameters = [("MaxSendRate", "2"), ("SenderConcurrency", "1")];
    let parameters = parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let runner =
        fanmail_local::Runner::start_with(&endpoints, &sdk, &unique_name(), listener, &parameters).await.unwrap();
    let api = fanmail_local::client::ApiClient::new(runner.api_url.clone());
    // Two seconds of sending an invocation, at two mails a second: a batch of ten never fits.
    let sender_time = fanmail_sender::END_RESERVE + Duration::from_secs(2);
    runner.functions.set_timeout(fanmail_local::functions::SENDER, sender_time);

    let domain = format!("{}.example.com", unique_name());
    create(&api, "/templates", json!({"id": "t", "name": "t", "subject": "Hi {{name}}", "html": "<p>x</p>"})).await;
    let key = api.upload_list(&list(&domain, "vip", 16)).await.unwrap();
    let body = json!({"templateId": "t", "listKey": key, "from": {"address": "news@example.com"}, "priority": "high"});
    let campaign = create(&api, "/campaigns", body).await;
    let id = campaign["id"].as_str().unwrap();
    for _ in 0..240 {
        let (_, c) = api.call("GET", &format!("/campaigns/{id}"), None).await.unwrap();
        if c["counters"]["sent"].as_u64().unwrap_or(0) >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (code, paused) = api.call("POST", &format!("/campaigns/{id}/pause"), None).await.unwrap();
    assert_eq!(code, 200, "{paused}");
    let sdk_plain = endpoints.sdk_config().await;
    crate::campaign_e2e::wait_until_drained(&sdk_plain, runner.stack.reference("PriorityRecipientsQueue").unwrap())
        .await;
    let parked = api.all_pages(&format!("/campaigns/{id}/recipients?status=paused")).await.unwrap();
    let (code, resumed) = api.call("POST", &format!("/campaigns/{id}/resume"), None).await.unwrap();
    assert_eq!(code, 202, "{resumed}");
    let done = api.wait_for_campaign(id, Duration::from_secs(180)).await.unwrap();
    assert_eq!((done["status"].as_str(), done["counters"]["sent"].as_u64()), (Some("completed"), Some(16)), "{done}");

    let mails = mails_to(&domain).await;
    assert_eq!(mails.len(), 16);
    assert!(mails.values().all(|m| m.len() == 1), "everyone exactly once");
    // 16 from the split, then the hand-backs and the resume's requeue, all on the priority queue.
    assert!(!parked.is_empty(), "the pause parked some");
    assert!(
        priority.load(Ordering::Relaxed) > 16 + parked.len(),
        "{} to the priority queue",
        priority.load(Ordering::Relaxed)
    );
    assert_eq!(bulk.load(Ordering::Relaxed), 0, "nothing of a high-priority campaign goes to the bulk queue");
}
