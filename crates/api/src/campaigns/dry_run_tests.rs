use std::collections::BTreeMap;

use fanmail_common::domain::{
    EmailAddress, Sender, Suppression, SuppressionReason, SuppressionScope, Template, TemplateId,
};
use fanmail_common::ports::ObjectStore;
use fanmail_common::store::{CampaignReader, SuppressionStore, TemplateStore};
use serde_json::json;
use time::macros::datetime;

use super::dry_run::{report, Plan};
use crate::test_support::{call, deps};
use crate::{Deps, MemoryPorts};

fn template() -> Template {
    Template {
        id: TemplateId::parse("offer").unwrap(),
        version: 1,
        name: "Offer".into(),
        subject: "{{headline}}".into(),
        html: "<p>Dear {{name}}</p>{{#if coupon}}{{coupon}}{{/if}}".into(),
        text: "Dear {{name}}".into(),
        created_at: datetime!(2026-11-23 08:00 UTC),
        created_by: None,
    }
}

async fn with_list(list: &str) -> Deps<MemoryPorts> {
    let deps = deps();
    deps.templates.put_version(&template()).await.unwrap();
    deps.objects.put("lists/l.csv", list.as_bytes().to_vec(), "text/csv").await.unwrap();
    deps
}

fn dry_run() -> serde_json::Value {
    json!({"templateId": "offer", "listKey": "lists/l.csv", "from": {"address": "news@example.com"}, "dryRun": true})
}

#[tokio::test]
async fn a_dry_run_counts_every_kind_of_row_and_stores_and_queues_nothing() {
    let list = "Email,Name,Headline,Coupon\n\
                kim@example.com,Kim,Hello,\n\
                not-an-address,X,Hi,\n\
                KIM@example.com,Again,Hi,\n\
                gone@example.com,Gone,Hi,\n\
                lee@example.com,Lee,,\n\
                park@example.com,,Hi,C1\n";
    let deps = with_list(list).await;
    let gone = Suppression {
        address: EmailAddress::parse("gone@example.com").unwrap(),
        scope: SuppressionScope::All,
        reason: SuppressionReason::HardBounce,
        campaign_id: None,
        created_at: datetime!(2026-11-01 00:00 UTC),
    };
    deps.suppressions.put(&gone).await.unwrap();

    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(dry_run())).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!((json["dryRun"].as_bool(), json["complete"].as_bool()), (Some(true), Some(true)));
    let counts: Vec<u64> =
        ["rows", "recipients", "rejectedRows", "duplicates", "suppressed", "renderFailures", "blankRows"]
            .iter()
            .map(|k| json[k].as_u64().unwrap())
            .collect();
    assert_eq!(counts, [6, 2, 1, 1, 1, 1, 1], "{json}");
    assert_eq!((json["rejected"][0]["row"].as_u64(), json["lastRow"].as_u64()), (Some(3), Some(7)));
    assert_eq!(json["renderFailed"][0]["row"], 6);
    assert!(json["renderFailed"][0]["reason"].as_str().unwrap().contains("subject is empty"), "{json}");
    assert_eq!(json["blank"][0]["row"], 7);
    assert!(json["blank"][0]["reason"].as_str().unwrap().starts_with("'name' empty"), "{json}");
    // Two mails at the memory account's 14 a second.
    assert_eq!((json["estimate"]["sendRate"].as_f64(), json["estimate"]["seconds"].as_u64()), (Some(14.0), Some(1)));

    assert!(deps.split_jobs.sent().is_empty());
    assert!(deps.campaigns.list(None, 10, None).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn a_dry_run_reports_missing_columns_and_bad_input_as_a_real_campaign_would() {
    let deps = with_list("email,name\nkim@example.com,Kim\n").await;
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(dry_run())).await;
    assert_eq!((status, json["error"]["code"].as_str()), (422, Some("missing_variables")), "{json}");
    assert!(json["error"]["message"].as_str().unwrap().contains("'headline'"), "{json}");

    let mut with_vars = dry_run();
    with_vars["vars"] = json!({"headline": "News", "coupon": ""});
    with_vars["maxRate"] = json!(1);
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(with_vars.clone())).await;
    assert_eq!((status, json["recipients"].as_u64()), (200, Some(1)), "{json}");
    assert_eq!(json["estimate"]["sendRate"].as_f64(), Some(1.0), "the campaign's own maxRate is the lowest");

    with_vars["sendAt"] = json!("tomorrow");
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(with_vars)).await;
    assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_send_at")), "{json}");
}

#[tokio::test]
async fn a_list_longer_than_the_budget_is_reported_as_far_as_it_was_read() {
    let mut list = String::from("email,name,headline\n");
    for i in 0..2_500 {
        list.push_str(&format!("r{i}@example.com,R{i},Hi\n"));
    }
    let deps = with_list(&list).await;
    let template = template();
    let sender = Sender { address: EmailAddress::parse("news@example.com").unwrap(), name: None, reply_to: None };
    let shared = BTreeMap::from([("coupon".to_string(), String::new())]);
    let plan = Plan {
        template: &template,
        sender: &sender,
        shared_vars: &shared,
        list_key: "lists/l.csv",
        max_rate: None,
        email_column: None,
        budget: time::Duration::ZERO,
    };
    let got = report(&deps, &plan).await.unwrap();
    assert!(!got.complete);
    assert_eq!((got.rows, got.recipients, got.last_row), (1_000, 1_000, 1_001));
    assert!(got.estimate.notes.iter().any(|n| n.contains("up to row 1001")), "{:?}", got.estimate.notes);

    let whole = report(&deps, &Plan { budget: super::dry_run::BUDGET, ..plan }).await.unwrap();
    assert!(whole.complete);
    assert_eq!(whole.recipients, 2_500);
    assert_eq!(whole.estimate.seconds, 179, "2,500 mails at 14 a second");
}

#[tokio::test]
async fn a_lists_link_that_is_not_web_or_mail_fails_its_row_and_its_raw_html_is_escaped() {
    let deps = deps();
    let template = Template {
        id: TemplateId::parse("links").unwrap(),
        html: "<a href=\"{{link}}\">Open</a>{{{promo}}}".into(),
        subject: "Hi".into(),
        text: "Open".into(),
        ..template()
    };
    deps.templates.put_version(&template).await.unwrap();
    let list = "email,link,promo\na@example.com,https://example.com/a,<b>x</b>\nb@example.com,javascript:alert(1),\n";
    deps.objects.put("lists/l.csv", list.as_bytes().to_vec(), "text/csv").await.unwrap();
    let mut body = dry_run();
    body["templateId"] = json!("links");
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
    assert_eq!(
        (status, json["recipients"].as_u64(), json["renderFailures"].as_u64()),
        (200, Some(1), Some(1)),
        "{json}"
    );
    assert_eq!(json["renderFailed"][0]["row"], 3);
    assert!(
        json["renderFailed"][0]["reason"].as_str().unwrap().contains("the list's 'link' makes a link (href)"),
        "{json}"
    );

    let preview = json!({"row": {"email": "a@example.com", "link": "https://example.com/a", "promo": "<b>x</b>"}});
    let (_, mail) = call(&deps, "POST /templates/{id}/preview", Some("links"), &[], Some(preview)).await;
    assert!(mail["html"].as_str().unwrap().contains("&lt;b&gt;x&lt;/b&gt;"), "a list's raw HTML is escaped: {mail}");
}

/// An address-book export whose address column has no usual name: the dry run says which
/// column it read the addresses from and how it found it; `emailColumn` names another.
#[tokio::test]
async fn a_dry_run_says_which_column_holds_the_addresses_and_email_column_chooses_it() {
    let list = "Name,E-mail 1 - Value,Other,Headline,Coupon\nKim,kim@example.com,k2@example.com,Hi,\n";
    let deps = with_list(list).await;
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(dry_run())).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["addressColumn"], json!({"name": "E-mail 1 - Value", "foundBy": "content"}));
    assert_eq!(json["recipients"], 1);

    let mut chosen = dry_run();
    chosen["emailColumn"] = json!("other");
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(chosen.clone())).await;
    assert_eq!((status, &json["addressColumn"]["name"]), (200, &json!("Other")), "{json}");
    chosen["emailColumn"] = json!("Mobile");
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(chosen.clone())).await;
    assert_eq!((status, json["error"]["code"].as_str()), (422, Some("invalid_list")), "{json}");
    chosen["emailColumn"] = json!(" ");
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(chosen.clone())).await;
    assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_email_column")), "{json}");

    chosen["emailColumn"] = json!("Other");
    chosen["dryRun"] = json!(false);
    let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(chosen)).await;
    assert_eq!((status, json["emailColumn"].as_str()), (202, Some("Other")), "kept for the split: {json}");
}
