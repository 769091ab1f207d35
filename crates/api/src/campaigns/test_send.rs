//! `POST /campaigns/{id}/test`: the campaign's real mail for one row, sent to up to
//! [`MAX_TEST_ADDRESSES`] given addresses, so a sender sees it in their own inbox first.
//!
//! The mail is composed as the sender composes the campaign's (pinned template version,
//! shared variables, From, unsubscribe link), marked `[TEST]` in its subject and tagged
//! `test=true`. It is sent at once from the API, ahead of every queued mail, and answered
//! with SES's message id or refusal for each address. It is not a recipient of the campaign:
//! nothing is stored and no counter moves (SES events for it join no recipient).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::compose::{compose, Envelope, MailInput};
use fanmail_common::domain::{CampaignId, EmailAddress, RecipientId, Sender, UnsubscribeKey};
use fanmail_common::ports::{IdGenerator, MailError, Mailer};
use fanmail_common::render::MailTemplate;
use fanmail_common::store::TemplateStore;
use serde::{Deserialize, Serialize};

use super::{campaign_id, existing, unprocessable};
use crate::preview::{resolve_row, RowSource};
use crate::{Deps, Ports};

pub const MAX_TEST_ADDRESSES: usize = 5;
/// Put before the subject of every test mail.
pub const TEST_SUBJECT_PREFIX: &str = "[TEST] ";
/// Tries of a throttled test mail (the campaign's own mails may be using the rate).
const THROTTLED_TRIES: u32 = 4;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TestInput {
    to: Vec<String>,
    /// A row of the campaign's list by its number; the first recipient's when neither this nor
    /// `row` is given.
    #[serde(default)]
    row_number: Option<u64>,
    /// Or a row given as names and values, as a preview takes it.
    #[serde(default)]
    row: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TestView {
    #[serde(skip_serializing_if = "Option::is_none")]
    campaign_id: Option<String>,
    template_version: u32,
    /// The list row the mail was made from (absent for a row given in the request).
    #[serde(skip_serializing_if = "Option::is_none")]
    row_number: Option<u64>,
    subject: String,
    sent: Vec<TestSent>,
    failed: Vec<TestFailed>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TestSent {
    to: String,
    message_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TestFailed {
    to: String,
    error: String,
    /// SES refused the mail itself (an unverified address in the sandbox, ...).
    #[serde(skip)]
    refused: bool,
}

pub async fn send_test<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let input: TestInput = request.json_body()?;
    let to = test_addresses(&input.to)?;
    let campaign = existing(&deps.campaigns, &id).await?;
    let template = deps
        .templates
        .get(&campaign.template_id, Some(campaign.template_version))
        .await?
        .ok_or_else(|| unprocessable("unknown_template", "the campaign's template version no longer exists"))?;
    let compiled = MailTemplate::compile(&template.subject, &template.html, &template.text)
        .map_err(|e| unprocessable("template_syntax", e.to_string()))?;
    let source = match (&input.row, input.row_number) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("invalid_test", "give 'row' or 'rowNumber', not both"));
        }
        (Some(row), None) => RowSource::Given(row),
        (None, number) => RowSource::List { key: &campaign.list_key, number },
    };
    let (row, row_number) = resolve_row(deps, source, &compiled, &campaign.shared_vars).await?;
    let key = deps.unsubscribe_key().await?;
    let mails = Mails {
        compiled: &compiled,
        sender: &campaign.sender,
        tag_campaign: &id,
        shared: &campaign.shared_vars,
        key: &key,
    };
    let (subject, sent, failed) = mails.send(deps, &row.vars, &to).await;
    answer(TestView {
        campaign_id: Some(id.to_string()),
        template_version: template.version,
        row_number,
        subject,
        sent,
        failed,
    })
}

/// `POST /templates/{id}/test`: a template's mail for one row (given, or of an uploaded list),
/// with a preview's `vars` and `from`, sent to the `to` addresses; no campaign needed.
pub async fn send_template_test<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let prepared = crate::preview::prepare(deps, request).await?;
    let to = test_addresses(&prepared.to)?;
    let tag_campaign = CampaignId::parse("test").expect("a valid id");
    let key = deps.unsubscribe_key().await?;
    let mails = Mails {
        compiled: &prepared.compiled,
        sender: &prepared.sender,
        tag_campaign: &tag_campaign,
        shared: &prepared.vars,
        key: &key,
    };
    let (subject, sent, failed) = mails.send(deps, &prepared.row.vars, &to).await;
    answer(TestView {
        campaign_id: None,
        template_version: prepared.template.version,
        row_number: prepared.row_number,
        subject,
        sent,
        failed,
    })
}

/// 200 when SES took at least one mail; otherwise why not.
fn answer(view: TestView) -> Result<ApiGatewayV2httpResponse, ApiError> {
    tracing::info!(sent = view.sent.len(), failed = view.failed.len(), "test mails sent");
    if view.sent.is_empty() {
        let reasons = view.failed.iter().map(|f| f.error.as_str()).collect::<Vec<_>>().join("; ");
        let message = format!("no test mail was accepted: {reasons}");
        if view.failed.iter().all(|f| f.refused) {
            return Err(unprocessable("test_refused", message));
        }
        return Err(ApiError::new(503, "test_send_failed", message));
    }
    Ok(json_response(200, &view))
}

/// What every test mail of one request shares.
struct Mails<'a> {
    compiled: &'a MailTemplate,
    sender: &'a Sender,
    /// The `campaign` tag (and unsubscribe scope) of the mails.
    tag_campaign: &'a CampaignId,
    shared: &'a BTreeMap<String, String>,
    key: &'a UnsubscribeKey,
}

impl Mails<'_> {
    /// Sends one mail per address; the subject sent, and what SES said to each.
    async fn send<P: Ports>(
        &self,
        deps: &Deps<P>,
        vars: &BTreeMap<String, String>,
        to: &[EmailAddress],
    ) -> (String, Vec<TestSent>, Vec<TestFailed>) {
        let unsubscribe_base = format!("{}/unsubscribe?token=", deps.config.public_base_url);
        let (mut subject, mut sent, mut failed) = (String::new(), Vec::new(), Vec::new());
        for address in to {
            // Never a recipient's id, so SES events for it join no recipient and count nowhere.
            let recipient = RecipientId::parse(format!("test-{}", deps.ids.new_id())).expect("ids are valid");
            let input = MailInput {
                envelope: Envelope {
                    sender: self.sender,
                    campaign: self.tag_campaign,
                    recipient: &recipient,
                    to: address,
                },
                shared: self.shared,
                vars,
                unsubscribe_base: &unsubscribe_base,
                unsubscribe_key: self.key.bytes(),
            };
            let mut mail = match compose(self.compiled, &input) {
                Ok(mail) => mail,
                Err(e) => {
                    failed.push(TestFailed { to: address.to_string(), error: e.to_string(), refused: true });
                    continue;
                }
            };
            mail.subject = format!("{TEST_SUBJECT_PREFIX}{}", mail.subject);
            mail.tags.push(("test".into(), "true".into()));
            subject.clone_from(&mail.subject);
            match send_with_retries(deps, &mail).await {
                Ok(message_id) => sent.push(TestSent { to: address.to_string(), message_id }),
                Err(e) => {
                    failed.push(TestFailed { to: address.to_string(), error: e.to_string(), refused: !e.retryable() })
                }
            }
        }
        (subject, sent, failed)
    }
}

fn test_addresses(raw: &[String]) -> Result<Vec<EmailAddress>, ApiError> {
    if raw.is_empty() || raw.len() > MAX_TEST_ADDRESSES {
        return Err(ApiError::bad_request(
            "invalid_test_addresses",
            format!("'to' takes 1 to {MAX_TEST_ADDRESSES} addresses"),
        ));
    }
    let mut addresses = Vec::new();
    for a in raw {
        let address = EmailAddress::parse(a)
            .map_err(|e| ApiError::bad_request("invalid_test_addresses", format!("'{a}' is not valid: {e}")))?;
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    Ok(addresses)
}

/// Sends, waiting out throttling a few times.
async fn send_with_retries<P: Ports>(
    deps: &Deps<P>,
    mail: &fanmail_common::ports::OutgoingMail,
) -> Result<String, MailError> {
    let mut tries = 0;
    loop {
        tries += 1;
        match deps.mailer.send(mail).await.map_err(MailError::redacted) {
            Err(MailError::Throttled) if tries < THROTTLED_TRIES => {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(tries))).await;
            }
            other => return other,
        }
    }
}
