use fanmail_common::aws::SesMailer;
use fanmail_common::domain::EmailAddress;
use fanmail_common::ports::{Mailer, OutgoingMail};

use crate::support::{endpoints, http, unique_name};

async fn mailer() -> SesMailer {
    let sdk = endpoints().sdk_config().await;
    SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), Some("fanmail-configset".into()))
}

/// The raw MIME of a sent message (aws-ses-v2-local answers a JSON Buffer).
pub(crate) async fn raw_mime(message_id: &str) -> String {
    let eml = http("GET", &format!("{}/get-emlContent?messageId={message_id}", endpoints().sesv2), &[], Vec::new())
        .await
        .json();
    let bytes: Vec<u8> = eml["body"]["data"]
        .as_array()
        .unwrap_or_else(|| panic!("unexpected eml answer: {eml}"))
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn a_sent_mail_keeps_its_content_headers_and_tags() {
    let mailer = mailer().await;
    let marker = unique_name();
    let mail = OutgoingMail {
        from: "Fanmail News <news@example.com>".into(),
        to: EmailAddress::parse("reader@example.com").unwrap(),
        reply_to: Some(EmailAddress::parse("help@example.com").unwrap()),
        subject: format!("Hello {marker}"),
        html: "<p>Hi <b>Kim</b></p>".into(),
        text: "Hi Kim".into(),
        headers: vec![
            ("List-Unsubscribe".into(), format!("<https://example.com/unsubscribe?token={marker}>")),
            ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
        ],
        tags: vec![("campaign".into(), "c1".into()), ("recipient".into(), "r1".into())],
    };
    let message_id = mailer.send(&mail).await.unwrap();
    assert!(!message_id.is_empty());

    let store = http("GET", &format!("{}/store", endpoints().sesv2), &[], Vec::new()).await.json();
    let emails = store["emails"].as_array().expect("store lists emails");
    let sent = emails
        .iter()
        .find(|e| e["subject"].as_str() == Some(mail.subject.as_str()))
        .unwrap_or_else(|| panic!("mail not in the store: {store}"));
    assert_eq!(sent["messageId"].as_str(), Some(message_id.as_str()));

    let raw = raw_mime(&message_id).await;
    assert_eq!(raw.matches("List-Unsubscribe: <https://example.com/unsubscribe?token=").count(), 1, "{raw}");
    assert_eq!(raw.matches("List-Unsubscribe-Post: List-Unsubscribe=One-Click").count(), 1, "{raw}");
    assert!(raw.contains("reader@example.com"));
}

#[tokio::test]
async fn the_quota_is_read_from_get_account() {
    let quota = mailer().await.quota().await.unwrap();
    // infra/local/ses-account.json
    assert_eq!(quota.max_send_rate, 1000.0);
    assert_eq!(quota.max_24_hour_send, 1_000_000.0);
}
