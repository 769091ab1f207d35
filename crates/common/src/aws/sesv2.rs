use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageHeader, MessageTag};
use aws_sdk_sesv2::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::retry::RetryConfig;

use super::{classify, describe, Fault};
use crate::ports::{MailError, Mailer, OutgoingMail, SendQuota};

/// Amazon SES v2, sending simple content (SES builds the MIME) through a configuration set
/// whose event destination publishes results to SNS.
#[derive(Clone)]
pub struct SesMailer {
    client: Client,
    configuration_set: Option<String>,
}

impl SesMailer {
    /// SendEmail is not idempotent: the client must never send a request twice by itself (an
    /// attempt that timed out may have been accepted). Retries are the sender's decision.
    pub fn new(client: Client, configuration_set: Option<String>) -> Self {
        let config = client.config().to_builder().retry_config(RetryConfig::disabled()).build();
        Self { client: Client::from_conf(config), configuration_set }
    }
}

fn content(data: &str) -> Content {
    Content::builder().data(data).charset("UTF-8").build().expect("data is set")
}

fn build_message(mail: &OutgoingMail) -> Result<Message, MailError> {
    let mut message = Message::builder()
        .subject(content(&mail.subject))
        .body(Body::builder().html(content(&mail.html)).text(content(&mail.text)).build());
    for (name, value) in &mail.headers {
        let header = MessageHeader::builder()
            .name(name)
            .value(value)
            .build()
            .map_err(|e| MailError::Rejected(format!("bad header {name}: {e}")))?;
        message = message.headers(header);
    }
    Ok(message.build())
}

/// Whether SES may have received the request: everything but a connection never made. Its
/// answer timing out or breaking off leaves the mail's fate unknown.
fn outcome_unknown<E>(err: &SdkError<E, HttpResponse>) -> bool {
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        SdkError::DispatchFailure(failure) => !failure.is_timeout(),
        _ => false,
    }
}

impl Mailer for SesMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let mut request = self
            .client
            .send_email()
            .from_email_address(&mail.from)
            .destination(Destination::builder().to_addresses(mail.to.as_str()).build())
            .content(EmailContent::builder().simple(build_message(mail)?).build())
            .set_configuration_set_name(self.configuration_set.clone());
        if let Some(reply_to) = &mail.reply_to {
            request = request.reply_to_addresses(reply_to.as_str());
        }
        for (name, value) in &mail.tags {
            let tag = MessageTag::builder()
                .name(name)
                .value(value)
                .build()
                .map_err(|e| MailError::Rejected(format!("bad tag {name}: {e}")))?;
            request = request.email_tags(tag);
        }
        match request.send().await {
            Ok(out) => out
                .message_id()
                .map(str::to_string)
                .ok_or_else(|| MailError::Transient("SES answered without a message id".into())),
            Err(e) => Err(match e.as_service_error() {
                Some(SendEmailError::TooManyRequestsException(_)) => MailError::Throttled,
                Some(SendEmailError::SendingPausedException(_))
                | Some(SendEmailError::AccountSuspendedException(_)) => MailError::AccountBlocked(describe(&e)),
                Some(SendEmailError::LimitExceededException(_)) => MailError::AccountBlocked(describe(&e)),
                Some(SendEmailError::MessageRejected(_))
                | Some(SendEmailError::MailFromDomainNotVerifiedException(_))
                | Some(SendEmailError::BadRequestException(_))
                | Some(SendEmailError::NotFoundException(_)) => MailError::Rejected(describe(&e)),
                _ if outcome_unknown(&e) => MailError::Unknown(describe(&e)),
                _ => match classify(&e) {
                    Fault::Throttled => MailError::Throttled,
                    Fault::Transient(m) => MailError::Transient(m),
                    Fault::Service { code, message } => MailError::Rejected(format!("{code}: {message}")),
                },
            }),
        }
    }

    async fn quota(&self) -> Result<SendQuota, MailError> {
        let account = self.client.get_account().send().await.map_err(|e| match classify(&e) {
            Fault::Throttled => MailError::Throttled,
            Fault::Transient(m) => MailError::Transient(m),
            Fault::Service { code, message } => MailError::Transient(format!("GetAccount {code}: {message}")),
        })?;
        let quota = account
            .send_quota()
            .ok_or_else(|| MailError::Transient("GetAccount answered without a send quota".into()))?;
        Ok(SendQuota {
            max_24_hour_send: quota.max24_hour_send(),
            max_send_rate: quota.max_send_rate(),
            sent_last_24_hours: quota.sent_last24_hours(),
        })
    }
}
