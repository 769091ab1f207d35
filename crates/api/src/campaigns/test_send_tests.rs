use fanmail_common::domain::{CampaignId, Template, TemplateId};
use fanmail_common::ports::{MailError, ObjectStore};
use fanmail_common::store::{CampaignReader, TemplateStore};
use serde_json::json;
use time::macros::datetime;

use crate::test_support::{call, deps};
use crate::{Deps, MemoryPorts};

/// A queued campaign of a two-row list; its id.
async fn campaign() -> (Deps<MemoryPorts>, String) {
    let deps = deps();
    let template = Template {
        id: TemplateId::parse("offer").unwrap(),
        version: 1,
        name: "Offer".into(),
        subject: "{{name}}, your offer from {{brand}}".into(),
        html: "<p>Dear {{name}}</p>".into(),
        text: "Dear {{name}}".into(),
        created_at: datetime!(2026-11-23 08:00 UTC),
        created_by: None,
    };
    deps.templates.put_version(&template).await.unwrap();
    let list = "Email,Name\nnot-an-address,X\nkim@example.com,Kim\nlee@example.com,Lee\n";
    deps.objects.put("lists/l.csv", list.as_bytes().to_vec(), "text/csv").await.unwrap();
    let body = json!({"templateId": "offer", "listKey": "lists/l.csv", "from": {"address": "news@example.com"}, "vars": {"brand": "fanmail"}});
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    assert_eq!(status, 202, "{json}");
    (deps, json["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_test_send_mails_the_first_recipients_row_marked_as_a_test_and_counts_nothing() {
    let (deps, id) = campaign().await;
    let before = deps.campaigns.get(&CampaignId::parse(id.as_str()).unwrap()).await.unwrap().unwrap();
    let jobs_before = deps.split_jobs.sent().len();
    let body = json!({"to": ["me@example.com", "boss@example.org", "ME@example.com"]});
    let (status, json) = call(&deps, "POST /campaigns/{id}/test", Some(&id), &[], Some(body)).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!((json["rowNumber"].as_u64(), json["sent"].as_array().unwrap().len()), (Some(3), 2), "{json}");
    let sent = deps.mailer.sent();
    let to: Vec<&str> = sent.iter().map(|(_, m)| m.to.as_str()).collect();
    assert_eq!(to, ["me@example.com", "boss@example.org"], "each address once");
    let mail = &sent[0].1;
    assert_eq!(mail.subject, "[TEST] Kim, your offer from fanmail");
    assert_eq!(mail.from, "news@example.com");
    assert!(mail.tags.contains(&("test".into(), "true".into())), "{:?}", mail.tags);
    assert!(mail.tags.iter().any(|(k, v)| k == "recipient" && v.starts_with("test-")), "{:?}", mail.tags);
    assert!(mail.headers.iter().any(|(k, _)| k == "List-Unsubscribe"));

    let after = deps.campaigns.get(&CampaignId::parse(id.as_str()).unwrap()).await.unwrap().unwrap();
    assert_eq!(after, before, "a test send changes nothing of the campaign");
    assert_eq!(deps.split_jobs.sent().len(), jobs_before, "and queues nothing");
}

#[tokio::test]
async fn a_chosen_row_or_a_given_row_is_sent_and_a_throttled_send_is_retried() {
    let (deps, id) = campaign().await;
    deps.mailer.fail_next(MailError::Throttled);
    let body = json!({"to": ["me@example.com"], "rowNumber": 4});
    let (status, json) = call(&deps, "POST /campaigns/{id}/test", Some(&id), &[], Some(body)).await;
    assert_eq!((status, json["subject"].as_str()), (200, Some("[TEST] Lee, your offer from fanmail")), "{json}");

    let body = json!({"to": ["me@example.com"], "row": {"email": "x@example.com", "name": "Park"}});
    let (status, json) = call(&deps, "POST /campaigns/{id}/test", Some(&id), &[], Some(body)).await;
    assert_eq!((status, json["subject"].as_str()), (200, Some("[TEST] Park, your offer from fanmail")), "{json}");
    assert_eq!(deps.mailer.sent().last().unwrap().1.to.as_str(), "me@example.com", "never the row's own address");
}

#[tokio::test]
async fn bad_test_sends_are_4xx_and_a_refused_one_says_why() {
    let (deps, id) = campaign().await;
    let cases = [
        (json!({"to": []}), 400, "invalid_test_addresses"),
        (
            json!({"to": ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com", "f@x.com"]}),
            400,
            "invalid_test_addresses",
        ),
        (json!({"to": ["nope"]}), 400, "invalid_test_addresses"),
        (json!({"to": ["me@example.com"], "rowNumber": 2}), 422, "row_not_a_recipient"),
        (json!({"to": ["me@example.com"], "row": {"email": "x@example.com"}}), 422, "missing_variables"),
        (json!({"to": ["me@example.com"], "row": {"email": "x@example.com"}, "rowNumber": 3}), 400, "invalid_test"),
    ];
    for (body, status, code) in cases {
        let (got, json) = call(&deps, "POST /campaigns/{id}/test", Some(&id), &[], Some(body.clone())).await;
        assert_eq!((got, json["error"]["code"].as_str()), (status, Some(code)), "{body}: {json}");
    }
    let (status, _) =
        call(&deps, "POST /campaigns/{id}/test", Some("nope"), &[], Some(json!({"to": ["me@example.com"]}))).await;
    assert_eq!(status, 404);
    deps.mailer.fail_next(MailError::Rejected("Email address is not verified: me@example.com".into()));
    let (status, json) =
        call(&deps, "POST /campaigns/{id}/test", Some(&id), &[], Some(json!({"to": ["me@example.com"]}))).await;
    assert_eq!((status, json["error"]["code"].as_str()), (422, Some("test_refused")), "{json}");
    assert!(json["error"]["message"].as_str().unwrap().contains("not verified"), "{json}");
}

#[tokio::test]
async fn a_test_send_ses_cannot_take_now_is_a_503() {
    let (deps, id) = campaign().await;
    deps.mailer.fail_next(MailError::AccountBlocked("sending is paused".into()));
    let (status, json) =
        call(&deps, "POST /campaigns/{id}/test", Some(&id), &[], Some(json!({"to": ["me@example.com"]}))).await;
    assert_eq!((status, json["error"]["code"].as_str()), (503, Some("test_send_failed")), "{json}");
}

#[tokio::test]
async fn a_template_is_test_sent_without_a_campaign_from_the_lists_first_recipient() {
    let (deps, _) = campaign().await;
    let body = json!({"listKey": "lists/l.csv", "vars": {"brand": "b"}, "from": {"address": "news@example.com"}, "to": ["me@example.com"]});
    let (status, json) = call(&deps, "POST /templates/{id}/test", Some("offer"), &[], Some(body)).await;
    assert_eq!(
        (status, json["subject"].as_str(), json["rowNumber"].as_u64()),
        (200, Some("[TEST] Kim, your offer from b"), Some(3)),
        "{json}"
    );
    let (_, mail) = deps.mailer.sent().pop().unwrap();
    assert_eq!((mail.to.as_str(), mail.from.as_str()), ("me@example.com", "news@example.com"));

    let no_to = json!({"row": {"email": "x@example.com", "name": "N"}, "vars": {"brand": "b"}});
    let (status, json) = call(&deps, "POST /templates/{id}/test", Some("offer"), &[], Some(no_to.clone())).await;
    assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_test_addresses")), "{json}");
    let mut preview_with_to = no_to;
    preview_with_to["to"] = json!(["me@example.com"]);
    let (status, _) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(preview_with_to)).await;
    assert_eq!(status, 400, "a preview sends nothing");
}
