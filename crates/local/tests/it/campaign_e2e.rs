//! Immediate campaigns end to end on the local stack: lists uploaded with real HTTP PUTs to
//! presigned URLs, templates and campaigns created through the HTTP routes, the runner's pollers
//! playing the queues, and every mail read back from the SES stand-in.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use fanmail_common::aws::SqsQueue;
use fanmail_common::domain::{CampaignId, EmailAddress, RecipientJob};
use fanmail_common::ports::{OutgoingMessage, Queue};
use fanmail_common::recipient_list::recipient_id;
use fanmail_local::client::ApiClient;
use fanmail_local::Runner;
use serde_json::{json, Value};

use crate::support::{endpoints, unique_name};

/// A list as a spreadsheet export would have it, and what fanmail should make of it.
struct List {
    bytes: Vec<u8>,
    /// address → (name, city)
    valid: BTreeMap<String, (String, String)>,
    rejected: usize,
    duplicates: usize,
}

/// 1,050 rows, UTF-8 with a BOM and CRLF, quoted commas, a blank line, invalid addresses
/// (every 50th) and differently-cased duplicates (every 40th).
fn english_list(domain: &str) -> List {
    let mut text = String::from("\u{feff}Email,Name,City\r\n");
    let mut valid = BTreeMap::new();
    let (mut rejected, mut duplicates) = (0, 0);
    for i in 0..1050 {
        let city = if i % 2 == 0 { "Seoul" } else { "Busan" };
        let name = format!("Kim, Min-su {i}");
        if i % 50 == 7 {
            text.push_str(&format!("user{i}.at.{domain},\"{name}\",{city}\r\n"));
            rejected += 1;
        } else if i % 40 == 13 && i > 13 {
            text.push_str(&format!("USER{}@{},\"{name}\",{city}\r\n", i - 13, domain.to_uppercase()));
            duplicates += 1;
        } else {
            let address = format!("user{i}@{domain}");
            text.push_str(&format!("{address},\"{name}\",{city}\r\n"));
            valid.insert(address, (name, city.to_string()));
        }
        if i == 500 {
            text.push_str("\r\n");
        }
    }
    List { bytes: text.into_bytes(), valid, rejected, duplicates }
}

/// Thirty rows as Korean Excel saves them: CP949.
fn korean_list(domain: &str) -> List {
    let mut text = String::from("이메일,이름\r\n");
    let mut valid = BTreeMap::new();
    for i in 0..30 {
        let address = format!("kr{i}@{domain}");
        text.push_str(&format!("{address},김민수{i}\r\n"));
        valid.insert(address, (format!("김민수{i}"), String::new()));
    }
    let (bytes, _, lossy) = encoding_rs::EUC_KR.encode(&text);
    assert!(!lossy);
    List { bytes: bytes.into_owned(), valid, rejected: 0, duplicates: 0 }
}

pub(crate) async fn start() -> (Runner, ApiClient) {
    start_with_rate("2000").await
}

pub(crate) async fn start_with_rate(max_send_rate: &str) -> (Runner, ApiClient) {
    start_with_parameters(&[("MaxSendRate", max_send_rate), ("SenderConcurrency", "4")]).await
}

/// A runner whose stack takes these template parameters (the template's defaults for others).
pub(crate) async fn start_with_parameters(parameters: &[(&str, &str)]) -> (Runner, ApiClient) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let parameters: BTreeMap<String, String> = parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let endpoints = endpoints();
    let runner = Runner::start_with(&endpoints, &endpoints.sdk_config().await, &unique_name(), listener, &parameters)
        .await
        .unwrap();
    let api = ApiClient::new(runner.api_url.clone());
    (runner, api)
}

pub(crate) async fn create(api: &ApiClient, path: &str, body: Value) -> Value {
    let (status, json) = api.call("POST", path, Some(body)).await.unwrap();
    assert!(status == 201 || status == 202, "POST {path} answered {status}: {json}");
    json
}

/// Mails the SES stand-in holds for addresses in `domain`, by recipient.
pub(crate) async fn mails_to(domain: &str) -> BTreeMap<String, Vec<Value>> {
    let api = ApiClient::new(endpoints().sesv2);
    let (_, store) = api.call("GET", "/store", None).await.unwrap();
    let mut by_recipient: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for mail in store["emails"].as_array().unwrap() {
        for to in mail["destination"]["to"].as_array().unwrap() {
            let to = to.as_str().unwrap();
            if to.ends_with(&format!("@{domain}")) {
                by_recipient.entry(to.to_string()).or_default().push(mail.clone());
            }
        }
    }
    by_recipient
}

/// Recipients a campaign mailed: `sent`, or moved on since by a delivery result. Waits for
/// every mail's result first, so no recipient changes status while the pages are read.
pub(crate) async fn mailed_recipients(api: &ApiClient, id: &str) -> Vec<Value> {
    for _ in 0..120 {
        let (_, campaign) = api.call("GET", &format!("/campaigns/{id}"), None).await.unwrap();
        let n = |k: &str| campaign["counters"][k].as_u64().unwrap_or(0);
        if n("delivered") + n("bounced") >= n("sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut all = Vec::new();
    for status in ["sent", "delivered", "bounced", "complained"] {
        all.extend(api.all_pages(&format!("/campaigns/{id}/recipients?status={status}")).await.unwrap());
    }
    all
}

pub(crate) async fn wait_until_drained(sdk: &aws_config::SdkConfig, url: &str) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut left = (0, 0, 0);
    // Up to 90 s: a loaded machine can be slow to delete handled messages, while a message
    // that failed stays away for the whole 180 s visibility timeout and still fails this.
    for _ in 0..360 {
        let out = sqs.get_queue_attributes().queue_url(url).attribute_names(A::All).send().await.unwrap();
        let attributes = out.attributes().unwrap();
        let count = |name: A| attributes.get(&name).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        left = (
            count(A::ApproximateNumberOfMessages),
            count(A::ApproximateNumberOfMessagesNotVisible),
            count(A::ApproximateNumberOfMessagesDelayed),
        );
        if left == (0, 0, 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the queue did not drain: (visible, in flight, delayed) = {left:?}");
}

#[tokio::test]
async fn every_valid_unique_recipient_gets_exactly_one_mail_with_their_own_fields() {
    let (runner, api) = start().await;
    let domain = format!("{}.example.com", unique_name());
    let english = english_list(&domain);
    let korean = korean_list(&domain);

    create(
        &api,
        "/templates",
        json!({"id": "offer", "name": "Offer", "subject": "{{Name}}, your {{City}} offer",
               "html": "<p>Dear {{Name}} in {{City}}, from {{brand}}</p>", "text": "Dear {{Name}}"}),
    )
    .await;
    create(
        &api,
        "/templates",
        json!({"id": "hello-kr", "name": "인사", "subject": "{{이름}}님 안녕하세요", "html": "<p>{{이름}}님</p>"}),
    )
    .await;

    let english_key = api.upload_list(&english.bytes).await.unwrap();
    let korean_key = api.upload_list(&korean.bytes).await.unwrap();
    let from = json!({"address": "news@example.com", "name": "팬메일 뉴스"});
    let first = create(
        &api,
        "/campaigns",
        json!({"templateId": "offer", "listKey": english_key, "from": from, "vars": {"brand": "fanmail"}}),
    )
    .await;
    let second =
        create(&api, "/campaigns", json!({"templateId": "hello-kr", "listKey": korean_key, "from": from})).await;

    for (campaign, list) in [(&first, &english), (&second, &korean)] {
        let id = campaign["id"].as_str().unwrap();
        let done = api.wait_for_campaign(id, Duration::from_secs(240)).await.unwrap();
        assert_eq!(done["status"], "completed", "{done}");
        let c = &done["counters"];
        assert_eq!(c["total"].as_u64(), Some(list.valid.len() as u64), "{done}");
        assert_eq!(c["sent"], c["total"], "{done}");
        assert_eq!((c["failed"].as_u64(), c["skipped"].as_u64()), (Some(0), Some(0)), "{done}");
        assert_eq!(done["rejectedRows"].as_u64(), Some(list.rejected as u64));
        assert_eq!(c["duplicates"].as_u64(), Some(list.duplicates as u64));

        let sent = mailed_recipients(&api, id).await;
        assert_eq!(sent.len(), list.valid.len());
        let rejected = api.all_pages(&format!("/campaigns/{id}/rejected-rows")).await.unwrap();
        assert_eq!(rejected.len(), list.rejected);
        for row in &rejected {
            assert!(row["reason"].as_str().unwrap().contains("no '@'"), "{row}");
            // Header is line 1; data row i is on line i + 2, one more after the blank line.
            let value = row["value"].as_str().unwrap();
            let i: u64 = value.trim_start_matches("user").split('.').next().unwrap().parse().unwrap();
            assert_eq!(row["row"].as_u64(), Some(i + 2 + u64::from(i > 500)), "{row}");
        }
    }

    // SQS delivers at least once: the same recipient messages arriving again send nothing.
    let campaign_id = CampaignId::parse(first["id"].as_str().unwrap()).unwrap();
    let again: Vec<OutgoingMessage> = english
        .valid
        .keys()
        .take(20)
        .enumerate()
        .map(|(i, address)| {
            let address = EmailAddress::parse(address).unwrap();
            let job = RecipientJob {
                campaign_id: campaign_id.clone(),
                recipient_id: recipient_id(&address),
                address,
                vars: Default::default(),
                row: 0,
            };
            OutgoingMessage::new(i.to_string(), serde_json::to_string(&job).unwrap())
        })
        .collect();
    let sdk = endpoints().sdk_config().await;
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), runner.stack.reference("RecipientsQueue").unwrap());
    queue.send_all(&again).await.unwrap();
    wait_until_drained(&sdk, runner.stack.reference("RecipientsQueue").unwrap()).await;

    let mails = mails_to(&domain).await;
    let expected: BTreeSet<&String> = english.valid.keys().chain(korean.valid.keys()).collect();
    assert_eq!(mails.keys().collect::<BTreeSet<_>>(), expected, "exactly the valid unique addresses were mailed");
    for (address, received) in &mails {
        assert_eq!(received.len(), 1, "{address} got {} mails", received.len());
        let mail = &received[0];
        assert_eq!(mail["from"], "=?UTF-8?B?7Yys66mU7J28IOuJtOyKpA==?= <news@example.com>");
        if let Some((name, city)) = english.valid.get(address) {
            assert_eq!(mail["subject"].as_str(), Some(format!("{name}, your {city} offer").as_str()));
            let html = mail["body"]["html"].as_str().unwrap();
            assert!(html.starts_with(&format!("<p>Dear {name} in {city}, from fanmail</p>")), "{html}");
            assert!(html.contains("/unsubscribe?token=v2."), "the default footer links the unsubscribe page: {html}");
        } else {
            let (name, _) = &korean.valid[address];
            assert_eq!(mail["subject"].as_str(), Some(format!("{name}님 안녕하세요").as_str()));
        }
    }
}

#[tokio::test]
async fn a_list_lacking_a_template_column_fails_the_campaign_before_any_mail() {
    let (_runner, api) = start().await;
    let domain = format!("{}.example.com", unique_name());
    create(&api, "/templates", json!({"id": "coupon", "name": "c", "subject": "{{Name}}: {{coupon}}", "text": "x"}))
        .await;
    let key = api.upload_list(&english_list(&domain).bytes).await.unwrap();
    let campaign = create(
        &api,
        "/campaigns",
        json!({"templateId": "coupon", "listKey": key, "from": {"address": "news@example.com"}}),
    )
    .await;
    let done = api.wait_for_campaign(campaign["id"].as_str().unwrap(), Duration::from_secs(240)).await.unwrap();
    assert_eq!(done["status"], "failed");
    assert!(done["statusReason"].as_str().unwrap().contains("'coupon'"), "{done}");
    assert!(mails_to(&domain).await.is_empty());
}

/// A splitter invocation near its deadline stops after a flush and queues its own continuation
/// through the split-jobs queue; the continuations together mail everyone exactly once and
/// count the list's rejected rows and duplicates once.
#[tokio::test]
async fn a_list_split_over_several_invocations_mails_everyone_exactly_once() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoints = endpoints();
    // Counts the messages sent to the split-jobs queue (the API's first, then the continuations).
    let (sdk, counters) = crate::support::counting_sends(&endpoints.sdk_config().await, &["SplitJobsQueue"]);
    let split_jobs = &counters[0];
    let parameters = BTreeMap::from([("MaxSendRate".to_string(), "2000".to_string())]);
    let runner = Runner::start_with(&endpoints, &sdk, &unique_name(), listener, &parameters).await.unwrap();
    let api = ApiClient::new(runner.api_url.clone());
    // Less than the splitter's deadline margin is left from the start: every flush checkpoints.
    runner.functions.set_timeout(fanmail_local::functions::SPLITTER, fanmail_splitter::DEADLINE_MARGIN);

    let domain = format!("{}.example.com", unique_name());
    let list = english_list(&domain);
    create(&api, "/templates", json!({"id": "t", "name": "T", "subject": "Hi {{Name}}", "html": "<p>{{City}}</p>"}))
        .await;
    let key = api.upload_list(&list.bytes).await.unwrap();
    let from = json!({"address": "news@example.com"});
    let campaign = create(&api, "/campaigns", json!({"templateId": "t", "listKey": key, "from": from})).await;
    let id = campaign["id"].as_str().unwrap();
    let done = api.wait_for_campaign(id, Duration::from_secs(240)).await.unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    let c = &done["counters"];
    assert_eq!(
        (c["total"].as_u64(), c["sent"].as_u64()),
        (Some(list.valid.len() as u64), Some(list.valid.len() as u64))
    );
    assert_eq!(done["rejectedRows"].as_u64(), Some(list.rejected as u64));
    assert_eq!(c["duplicates"].as_u64(), Some(list.duplicates as u64));

    let mails = mails_to(&domain).await;
    assert_eq!(mails.len(), list.valid.len());
    assert!(mails.values().all(|m| m.len() == 1), "someone was mailed twice");
    // One split job from the API, then a continuation after every flush but the last.
    let jobs = split_jobs.load(std::sync::atomic::Ordering::Relaxed);
    assert!(jobs >= 1050 / fanmail_splitter::FLUSH_SIZE, "split jobs queued: {jobs}");
}
