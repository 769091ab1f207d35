//! Delivery results, suppression and one-click unsubscribe end to end on the local stack: the
//! runner's SES event stand-in follows the mailbox simulator addresses, the recorder turns the
//! events into counters and suppressions, and later campaigns skip what they must.

use std::time::Duration;

use serde_json::{json, Value};

use crate::adapters_ses::raw_mime;
use crate::campaign_e2e::{create, start};
use crate::support::unique_name;
use fanmail_local::client::ApiClient;

const SIMULATOR: &str = "simulator.amazonses.com";

/// Polls a campaign until `done` holds for it; returns its last state.
async fn wait_for(api: &ApiClient, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut campaign = Value::Null;
    for _ in 0..240 {
        campaign = api.call("GET", &format!("/campaigns/{id}"), None).await.unwrap().1;
        if done(&campaign) {
            return campaign;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("campaign {id} never reached {what}: {campaign}");
}

async fn run_campaign(api: &ApiClient, list_key: &str) -> Value {
    let campaign = create(
        api,
        "/campaigns",
        json!({"templateId": "news", "listKey": list_key, "from": {"address": "news@example.com", "name": "News"}}),
    )
    .await;
    let id = campaign["id"].as_str().unwrap().to_string();
    api.wait_for_campaign(&id, Duration::from_secs(60)).await.unwrap()
}

/// Every mail the SES stand-in holds whose recipient carries `label`, as (recipient, message id).
async fn mails_labelled(label: &str) -> Vec<(String, String)> {
    let ses = ApiClient::new(crate::support::endpoints().sesv2);
    let (_, store) = ses.call("GET", "/store", None).await.unwrap();
    let mut found = Vec::new();
    for mail in store["emails"].as_array().unwrap() {
        for to in mail["destination"]["to"].as_array().unwrap() {
            let to = to.as_str().unwrap();
            if to.contains(label) {
                found.push((to.to_string(), mail["messageId"].as_str().unwrap().to_string()));
            }
        }
    }
    found
}

#[tokio::test]
async fn results_suppress_bounces_complaints_and_one_click_unsubscribes_for_later_campaigns() {
    let (_runner, api) = start().await;
    let label = unique_name();
    let domain = format!("{label}.example.com");
    let list = [
        format!("success+{label}-1@{SIMULATOR}"),
        format!("success+{label}-2@{SIMULATOR}"),
        format!("ooto+{label}@{SIMULATOR}"),
        format!("bounce+{label}@{SIMULATOR}"),
        format!("complaint+{label}@{SIMULATOR}"),
        format!("suppressionlist+{label}@{SIMULATOR}"),
        format!("kim@{domain}"),
        format!("lee@{domain}"),
    ];
    let csv: String = std::iter::once("email,name\n".to_string())
        .chain(list.iter().enumerate().map(|(i, a)| format!("{a},Reader {i}\n")))
        .collect();
    let key = api.upload_list(csv.as_bytes()).await.unwrap();
    // No {{unsubscribe_url}} of its own: the default footer links it.
    create(&api, "/templates", json!({"id": "news", "name": "News", "subject": "News for {{name}}",
                                      "html": "<html><body><p>Hello {{name}}</p></body></html>", "text": "Hello {{name}}"}))
    .await;

    // First campaign: everyone is mailed; the simulator's answers come back as events.
    let first = run_campaign(&api, &key).await;
    assert_eq!(first["counters"]["sent"], 8, "{first}");
    let id = first["id"].as_str().unwrap();
    let first = wait_for(&api, id, "its delivery results", |c| {
        let n = |k: &str| c["counters"][k].as_u64().unwrap_or(0);
        n("delivered") == 6 && n("bounced") == 2 && n("complained") == 1
    })
    .await;
    assert_eq!(first["status"], "completed", "too few mails to judge rates: not paused");

    let bounced = format!("bounce+{label}@{SIMULATOR}");
    let (status, found) = api.call("GET", &format!("/suppressions/{bounced}"), None).await.unwrap();
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["items"][0]["reason"], "hard_bounce");
    assert_eq!(found["items"][0]["campaignId"].as_str(), Some(id));
    let (_, found) = api.call("GET", &format!("/suppressions/complaint+{label}@{SIMULATOR}"), None).await.unwrap();
    assert_eq!(found["items"][0]["reason"], "complaint");

    // Kim's mail as a mailbox provider receives it: both headers once, parsed as MIME.
    let mails = mails_labelled(&domain).await;
    let (_, kim_message) = mails.iter().find(|(to, _)| to.starts_with("kim@")).unwrap();
    let raw = raw_mime(kim_message).await;
    let parsed = mailparse::parse_mail(raw.as_bytes()).unwrap();
    let links = parsed.headers.iter().filter(|h| h.get_key_ref() == "List-Unsubscribe").count();
    let posts: Vec<String> =
        parsed.headers.iter().filter(|h| h.get_key_ref() == "List-Unsubscribe-Post").map(|h| h.get_value()).collect();
    assert_eq!((links, posts.as_slice()), (1, ["List-Unsubscribe=One-Click".to_string()].as_slice()), "{raw}");
    let link = parsed.headers.iter().find(|h| h.get_key_ref() == "List-Unsubscribe").unwrap().get_value();
    let url = link.trim().trim_start_matches('<').trim_end_matches('>').to_string();
    assert!(url.starts_with(&format!("{}/unsubscribe?token=", api.base())), "{url}");

    // A tampered token is refused and changes nothing.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let mut tampered = url.clone().into_bytes();
    // A character in the middle of the sealed part (after the version and the key id).
    let at = url.rfind('.').unwrap() + 10;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let (status, _) = api.raw("POST", &tampered, &form, b"List-Unsubscribe=One-Click".to_vec()).await.unwrap();
    assert_eq!(status, 403, "a tampered token");
    // A GET (a link scanner) only shows the page.
    let (status, page) = api.raw("GET", &url, &[], Vec::new()).await.unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("<form method=\"post\">"));
    let (_, none) = api.call("GET", &format!("/suppressions/kim@{domain}"), None).await.unwrap();
    assert_eq!(none["error"]["code"], "not_found", "neither the tampered POST nor the GET unsubscribed");
    // The provider's one-click POST.
    let (status, page) = api.raw("POST", &url, &form, b"List-Unsubscribe=One-Click".to_vec()).await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&page));
    let (_, found) = api.call("GET", &format!("/suppressions/kim@{domain}"), None).await.unwrap();
    assert_eq!(
        (found["items"][0]["reason"].as_str(), found["items"][0]["domain"].as_str()),
        (Some("unsubscribed"), Some("example.com"))
    );
    let first = api.call("GET", &format!("/campaigns/{id}"), None).await.unwrap().1;
    assert_eq!(first["counters"]["unsubscribed"], 1);

    // The next campaign to the same list skips the bounced, complained and unsubscribed.
    let second = run_campaign(&api, &key).await;
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(
        (second["counters"]["sent"].as_u64(), second["counters"]["skipped"].as_u64()),
        (Some(4), Some(4)),
        "{second}"
    );
    let mails = mails_labelled(&label).await;
    let count = |to: &str| mails.iter().filter(|(t, _)| t == to).count();
    for skipped in [
        bounced.clone(),
        format!("complaint+{label}@{SIMULATOR}"),
        format!("suppressionlist+{label}@{SIMULATOR}"),
        format!("kim@{domain}"),
    ] {
        assert_eq!(count(&skipped), 1, "{skipped} is mailed by the first campaign only");
    }
    assert_eq!(count(&format!("lee@{domain}")), 2);
    assert_eq!(count(&format!("success+{label}-1@{SIMULATOR}")), 2);
}

/// SES's older identity notifications carry no message tags: the recorder finds the recipient
/// by SES's message id (the recipients table's `by_message_id` index) and records the bounce.
#[tokio::test]
async fn an_identity_notification_without_tags_finds_its_recipient_by_message_id() {
    let (runner, api) = start().await;
    // The stand-in's own (tagged) events are held back: only the notification below arrives.
    runner.deliver_ses_events(false);
    let address = format!("gone@{}.example.com", unique_name());
    let key = api.upload_list(format!("email,name\n{address},Gone\n").as_bytes()).await.unwrap();
    create(&api, "/templates", json!({"id": "news", "name": "News", "subject": "Hi {{name}}", "html": "<p>x</p>"}))
        .await;
    let done = run_campaign(&api, &key).await;
    let id = done["id"].as_str().unwrap();
    assert_eq!(done["counters"]["sent"], 1, "{done}");
    let sent = api.all_pages(&format!("/campaigns/{id}/recipients?status=sent")).await.unwrap();
    let message_id = sent[0]["messageId"].as_str().unwrap();

    let fixture =
        std::fs::read_to_string(fanmail_local::repo_root().join("events/recorder/identity-bounce.json")).unwrap();
    let fixture: Value = serde_json::from_str(&fixture).unwrap();
    let mut notification: Value =
        serde_json::from_str(fixture["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    assert!(notification["mail"].get("tags").is_none(), "an identity notification has no tags");
    notification["mail"]["messageId"] = json!(message_id);
    notification["mail"]["destination"] = json!([address]);
    notification["bounce"]["bouncedRecipients"][0]["emailAddress"] = json!(address);
    let topic = runner.stack.reference("SesEventsTopic").unwrap();
    // Stamped as the runner stamps the events it plays: by the system clock, through the port.
    let now = fanmail_common::ports::Clock::now(&fanmail_common::system::SystemClock);
    let event = fanmail_local::ses_events::sns_event(topic, &notification, now);
    runner.functions.sns(event).await.unwrap();

    let bounced = wait_for(&api, id, "the bounce", |c| c["counters"]["bounced"] == 1).await;
    assert_eq!(bounced["counters"]["bounced"], 1, "{bounced}");
    let (status, found) = api.call("GET", &format!("/suppressions/{address}"), None).await.unwrap();
    assert_eq!((status, found["items"][0]["reason"].as_str()), (200, Some("hard_bounce")), "{found}");
}
