//! Plays SES event publishing: the local SES endpoint stores mail but publishes no events, so
//! the runner puts a pass-through proxy in front of it. For every mail accepted with a
//! configuration set, the proxy makes the events SES would publish to the configuration set's
//! SNS topic, following the SES mailbox simulator:
//!
//! | recipient (`+label` allowed) at `simulator.amazonses.com` | events |
//! |---|---|
//! | `success@`, `ooto@`, any other address anywhere | Send, Delivery |
//! | `bounce@` | Send, Bounce (Permanent, General) |
//! | `complaint@` | Send, Delivery, Complaint (abuse) |
//! | `suppressionlist@` | Send, Bounce (Permanent, OnAccountSuppressionList) |
//!
//! Each event reaches the recorder as an SNS → Lambda event, a second after the send (SES
//! publishes within seconds). An invocation that fails is retried like Lambda retries an
//! asynchronous invocation (twice more, here after 2 and 4 seconds instead of minutes).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use aws_config::SdkConfig;
use aws_lambda_events::sns::SnsEvent;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use bytes::Bytes;
use fanmail_common::ports::Clock;
use fanmail_common::system::SystemClock;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::functions::Functions;

pub const SIMULATOR_DOMAIN: &str = "simulator.amazonses.com";
const SEND_EMAIL_PATH: &str = "/v2/email/outbound-emails";
const ACCOUNT_ID: &str = "123456789012";
/// How long after a send its events reach the recorder.
const PUBLISH_DELAY: Duration = Duration::from_secs(1);
/// Lambda's asynchronous invocation tries an event three times in all.
const ATTEMPTS: u32 = 3;

/// What the mailbox simulator does with one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simulated {
    Delivered,
    HardBounce,
    Complaint,
    OnSuppressionList,
}

/// The simulator's behaviour for an address (anything outside the simulator is delivered).
pub fn simulate(address: &str) -> Simulated {
    let Some((local, domain)) = address.rsplit_once('@') else { return Simulated::Delivered };
    if !domain.eq_ignore_ascii_case(SIMULATOR_DOMAIN) {
        return Simulated::Delivered;
    }
    match local.split('+').next().unwrap_or_default().to_ascii_lowercase().as_str() {
        "bounce" => Simulated::HardBounce,
        "complaint" => Simulated::Complaint,
        "suppressionlist" => Simulated::OnSuppressionList,
        _ => Simulated::Delivered,
    }
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The `mail` object of every event about one sent mail, built from the SendEmail request.
fn mail_object(request: &Value, message_id: &str, at: OffsetDateTime) -> Value {
    let source = request["FromEmailAddress"].as_str().unwrap_or_default();
    let destination: Vec<&str> =
        request["Destination"]["ToAddresses"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let subject = request["Content"]["Simple"]["Subject"]["Data"].as_str().unwrap_or_default();
    let domain = source.rsplit_once('@').map(|(_, d)| d.trim_end_matches('>')).unwrap_or_default();
    let mut headers = vec![
        json!({"name": "From", "value": source}),
        json!({"name": "To", "value": destination.join(", ")}),
        json!({"name": "Subject", "value": subject}),
    ];
    for header in request["Content"]["Simple"]["Headers"].as_array().into_iter().flatten() {
        headers.push(json!({"name": header["Name"], "value": header["Value"]}));
    }
    let mut tags = serde_json::Map::new();
    tags.insert("ses:operation".into(), json!(["SendEmail"]));
    tags.insert("ses:configuration-set".into(), json!([request["ConfigurationSetName"]]));
    tags.insert("ses:from-domain".into(), json!([domain]));
    tags.insert("ses:source-ip".into(), json!(["127.0.0.1"]));
    for tag in request["EmailTags"].as_array().into_iter().flatten() {
        if let Some(name) = tag["Name"].as_str() {
            tags.insert(name.to_string(), json!([tag["Value"]]));
        }
    }
    json!({
        "timestamp": timestamp(at),
        "source": source,
        "sourceArn": format!("arn:aws:ses:us-east-1:{ACCOUNT_ID}:identity/{domain}"),
        "sendingAccountId": ACCOUNT_ID,
        "messageId": message_id,
        "destination": destination,
        "headersTruncated": false,
        "headers": headers,
        "commonHeaders": {"from": [source], "to": destination, "messageId": message_id, "subject": subject},
        "tags": tags,
    })
}

/// The events SES would publish for one accepted SendEmail call (none without a
/// configuration set: SES publishes through one).
pub fn events_for(request: &Value, message_id: &str, at: OffsetDateTime) -> Vec<Value> {
    if request["ConfigurationSetName"].as_str().is_none_or(str::is_empty) {
        return Vec::new();
    }
    let mail = mail_object(request, message_id, at);
    let later = timestamp(at + time::Duration::seconds(1));
    let mut events = vec![json!({"eventType": "Send", "mail": mail, "send": {}})];
    for to in mail["destination"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let delivery = json!({
            "eventType": "Delivery", "mail": mail,
            "delivery": {"timestamp": later, "processingTimeMillis": 1000, "recipients": [to],
                         "smtpResponse": "250 2.6.0 Message received", "reportingMTA": "a1-1.smtp-out.amazonses.com"}
        });
        let bounce = |sub_type: &str, diagnostic: &str| {
            json!({
                "eventType": "Bounce", "mail": mail,
                "bounce": {"bounceType": "Permanent", "bounceSubType": sub_type, "timestamp": later,
                           "feedbackId": format!("{message_id}-bounce"),
                           "reportingMTA": "dns; a1-1.smtp-out.amazonses.com",
                           "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": "5.1.1",
                                                  "diagnosticCode": diagnostic}]}
            })
        };
        match simulate(to) {
            Simulated::Delivered => events.push(delivery),
            Simulated::HardBounce => events.push(bounce("General", "smtp; 550 5.1.1 user unknown")),
            Simulated::OnSuppressionList => events.push(bounce(
                "OnAccountSuppressionList",
                "Amazon SES did not send the message to this address because it is on the suppression list for your account.",
            )),
            Simulated::Complaint => {
                events.push(delivery);
                events.push(json!({
                    "eventType": "Complaint", "mail": mail,
                    "complaint": {"complainedRecipients": [{"emailAddress": to}], "timestamp": later,
                                  "feedbackId": format!("{message_id}-complaint"), "userAgent": "Amazon SES Mailbox Simulator",
                                  "complaintFeedbackType": "abuse", "arrivalDate": later}
                }));
            }
        }
    }
    events
}

/// One SES event as SNS delivers it to a Lambda function.
pub fn sns_event(topic_arn: &str, ses_event: &Value, at: OffsetDateTime) -> SnsEvent {
    let id = uuid::Uuid::new_v4();
    let record = json!({
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic_arn}:{}", uuid::Uuid::new_v4()),
        "Sns": {
            "Type": "Notification",
            "MessageId": id.to_string(),
            "TopicArn": topic_arn,
            "Subject": "Amazon SES Email Event Notification",
            "Message": ses_event.to_string(),
            "Timestamp": timestamp(at),
            "SignatureVersion": "1",
            "Signature": "LOCAL",
            "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/local.pem",
            "UnsubscribeUrl": format!("https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}"),
            "MessageAttributes": {}
        }
    });
    serde_json::from_value(json!({ "Records": [record] })).expect("the SNS record shape is fixed")
}

/// Points the SDK's SES v2 clients at the proxy; every other setting comes from `inner`.
#[derive(Debug)]
struct SesEndpoint {
    url: String,
    inner: SdkConfig,
}

impl LoadServiceConfig for SesEndpoint {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.service_id().eq_ignore_ascii_case("sesv2") && key.env() == "AWS_ENDPOINT_URL" {
            return Some(self.url.clone());
        }
        self.inner.service_config().and_then(|config| config.load_config(key))
    }
}

/// `sdk`, with SES v2 calls going to `proxy_url`.
pub fn through_proxy(sdk: &SdkConfig, proxy_url: &str) -> SdkConfig {
    sdk.to_builder().service_config(SesEndpoint { url: proxy_url.to_string(), inner: sdk.clone() }).build()
}

struct Proxy {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    published: mpsc::UnboundedSender<Value>,
}

impl Proxy {
    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        match self.forward(request).await {
            Ok(response) => response,
            Err(e) => {
                tracing::warn!(error = %e, "SES proxy could not reach the local SES endpoint");
                let mut response = Response::new(Full::new(Bytes::from_static(b"{\"message\":\"bad gateway\"}")));
                *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
                response
            }
        }
    }

    async fn forward(&self, request: Request<Incoming>) -> Result<Response<Full<Bytes>>> {
        let (mut parts, body) = request.into_parts();
        let body = body.collect().await?.to_bytes();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        let is_send = parts.method == hyper::Method::POST && parts.uri.path() == SEND_EMAIL_PATH;
        parts.uri = format!("{}{path}", self.upstream).parse()?;
        parts.headers.remove(hyper::header::HOST);
        let upstream = self.client.request(Request::from_parts(parts, Full::new(body.clone()))).await?;
        let (parts, answer) = upstream.into_parts();
        let answer = answer.collect().await?.to_bytes();
        if is_send && parts.status.is_success() {
            let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let response: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
            if let Some(message_id) = response["MessageId"].as_str() {
                for event in events_for(&request, message_id, SystemClock.now()) {
                    let _ = self.published.send(event);
                }
            }
        }
        Ok(Response::from_parts(parts, Full::new(answer)))
    }
}

/// Serves the proxy on `listener`, forwarding to `upstream`; published events come out of the
/// returned channel.
pub fn serve(
    listener: TcpListener,
    upstream: &str,
) -> (impl std::future::Future<Output = ()>, mpsc::UnboundedReceiver<Value>) {
    let (published, events) = mpsc::unbounded_channel();
    let proxy = Arc::new(Proxy {
        upstream: upstream.trim_end_matches('/').to_string(),
        client: Client::builder(TokioExecutor::new()).build_http(),
        published,
    });
    let server = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let proxy = proxy.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let proxy = proxy.clone();
                    async move { Ok::<_, Infallible>(proxy.handle(request).await) }
                });
                if let Err(e) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                    tracing::debug!(error = %e, "SES proxy connection ended");
                }
            });
        }
    };
    (server, events)
}

/// The recorder's dead-letter queue, where Lambda puts an asynchronous invocation's event
/// after its retries.
#[derive(Clone)]
pub struct DeadLetters {
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
}

/// Delivers each published event to the recorder as SNS would, with Lambda's retries, then to
/// the recorder's dead-letter queue. While `open` is false events wait (a benchmark measures
/// sending and recording apart).
pub async fn deliver(
    mut events: mpsc::UnboundedReceiver<Value>,
    functions: Arc<Functions>,
    topic_arn: String,
    mut open: watch::Receiver<bool>,
    dead_letters: Option<DeadLetters>,
) {
    while let Some(event) = events.recv().await {
        if open.wait_for(|open| *open).await.is_err() {
            return;
        }
        let functions = functions.clone();
        let topic_arn = topic_arn.clone();
        let dead_letters = dead_letters.clone();
        tokio::spawn(async move {
            tokio::time::sleep(PUBLISH_DELAY).await;
            let sns = sns_event(&topic_arn, &event, SystemClock.now());
            for attempt in 1..=ATTEMPTS {
                match functions.sns(sns.clone()).await {
                    Ok(_) => return,
                    Err(e) if attempt < ATTEMPTS => {
                        tracing::debug!(error = %e, attempt, "recorder failed; retrying like Lambda does");
                        tokio::time::sleep(Duration::from_secs(2u64 << (attempt - 1))).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "recorder failed three times; the event goes to its dead-letter queue");
                        let Some(dlq) = &dead_letters else { return };
                        let body = serde_json::to_string(&sns).expect("events serialise");
                        if let Err(e) = dlq.sqs.send_message().queue_url(&dlq.queue_url).message_body(body).send().await
                        {
                            tracing::error!(error = %e, "the event could not be dead-lettered; it is lost");
                        }
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(to: &str) -> Value {
        json!({
            "FromEmailAddress": "\"News\" <news@example.com>",
            "Destination": {"ToAddresses": [to]},
            "ConfigurationSetName": "fanmail",
            "Content": {"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "x"}},
                        "Headers": [{"Name": "List-Unsubscribe", "Value": "<https://u>"}]}},
            "EmailTags": [{"Name": "campaign", "Value": "c1"}, {"Name": "recipient", "Value": "r1"}]
        })
    }

    fn kinds(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["eventType"].as_str().unwrap()).collect()
    }

    #[test]
    fn the_mailbox_simulator_addresses_decide_the_events() {
        let at = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(kinds(&events_for(&request("success@simulator.amazonses.com"), "m", at)), ["Send", "Delivery"]);
        assert_eq!(kinds(&events_for(&request("bounce+x1@simulator.amazonses.com"), "m", at)), ["Send", "Bounce"]);
        assert_eq!(
            kinds(&events_for(&request("complaint+x@simulator.amazonses.com"), "m", at)),
            ["Send", "Delivery", "Complaint"]
        );
        let listed = events_for(&request("suppressionlist@simulator.amazonses.com"), "m", at);
        assert_eq!(listed[1]["bounce"]["bounceSubType"], "OnAccountSuppressionList");
        assert_eq!(kinds(&events_for(&request("kim@example.com"), "m", at)), ["Send", "Delivery"]);
        let mut without_set = request("kim@example.com");
        without_set["ConfigurationSetName"] = Value::Null;
        assert!(events_for(&without_set, "m", at).is_empty(), "SES publishes only through a configuration set");
    }

    #[test]
    fn events_carry_the_message_tags_and_headers_the_recorder_joins_by() {
        let events = events_for(&request("bounce@simulator.amazonses.com"), "0100-abc", OffsetDateTime::UNIX_EPOCH);
        let mail = &events[1]["mail"];
        assert_eq!(mail["messageId"], "0100-abc");
        assert_eq!(mail["tags"]["campaign"], json!(["c1"]));
        assert_eq!(mail["tags"]["recipient"], json!(["r1"]));
        assert_eq!(mail["tags"]["ses:configuration-set"], json!(["fanmail"]));
        assert!(mail["headers"].as_array().unwrap().iter().any(|h| h["name"] == "List-Unsubscribe"));
        let sns = sns_event("arn:aws:sns:us-east-1:123456789012:t", &events[1], OffsetDateTime::UNIX_EPOCH);
        let inner: Value = serde_json::from_str(&sns.records[0].sns.message).unwrap();
        assert_eq!(inner, events[1], "the SES event travels as a JSON string in the SNS message");
    }
}
