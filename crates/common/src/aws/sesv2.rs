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
            Err(e) => Err(send_error(&e, &mail.from)),
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

/// What a refused or failed SendEmail means. A refusal no recipient caused stops every mail of
/// the campaign alike — an unverified sender, a deleted configuration set, a denied
/// permission, the day's quota used up — and is [`MailError::AccountBlocked`], which pauses the
/// campaign with the reason rather than failing each recipient in turn.
fn send_error(e: &SdkError<SendEmailError, HttpResponse>, from: &str) -> MailError {
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    let (code, message) =
        e.as_service_error().map_or(("", ""), |se| (se.code().unwrap_or(""), se.message().unwrap_or("")));
    if campaign_wide(code, message, from) {
        return MailError::AccountBlocked(describe(e));
    }
    match e.as_service_error() {
        Some(SendEmailError::TooManyRequestsException(_)) => MailError::Throttled,
        Some(SendEmailError::SendingPausedException(_)) | Some(SendEmailError::AccountSuspendedException(_)) => {
            MailError::AccountBlocked(describe(e))
        }
        Some(SendEmailError::LimitExceededException(_)) => MailError::AccountBlocked(describe(e)),
        Some(SendEmailError::MessageRejected(_))
        | Some(SendEmailError::MailFromDomainNotVerifiedException(_))
        | Some(SendEmailError::BadRequestException(_))
        | Some(SendEmailError::NotFoundException(_)) => MailError::Rejected(describe(e)),
        _ if outcome_unknown(e) => MailError::Unknown(describe(e)),
        _ => match classify(e) {
            Fault::Throttled => MailError::Throttled,
            Fault::Transient(m) => MailError::Transient(m),
            Fault::Service { code, message } => MailError::Rejected(format!("{code}: {message}")),
        },
    }
}

/// Whether SES's answer (its error code and text) stops every mail sent from `from` alike.
fn campaign_wide(code: &str, message: &str, from: &str) -> bool {
    let text = message.to_ascii_lowercase();
    // SES says the day's quota is used up in a throttling error's text ("Daily message quota
    // exceeded"; its knowledge centre also quotes "Daily sending quota exceeded").
    if text.contains("daily message quota exceeded") || text.contains("daily sending quota exceeded") {
        return true;
    }
    match code {
        // The sender's MAIL FROM domain, the configuration set, or this function's permission.
        "MailFromDomainNotVerifiedException" | "NotFoundException" | "AccessDeniedException" | "AccessDenied" => true,
        // The function's credentials or its request's signature (a clock far off).
        "ExpiredTokenException"
        | "UnrecognizedClientException"
        | "InvalidClientTokenId"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "RequestExpired"
        | "MissingAuthenticationTokenException" => true,
        // "Email address is not verified. The following identities failed the check in region
        // US-EAST-1: news@example.com". In the SES sandbox an unverified recipient is named
        // instead, and only its mail is refused.
        "MessageRejected" => text.contains("not verified") && names_sender(&text, from),
        _ => false,
    }
}

/// Whether a refusal's (lower-cased) text names the sender's address or domain, as a whole
/// identity of its list (`thenews@example.com` is not `news@example.com`).
fn names_sender(text: &str, from: &str) -> bool {
    let address = from.rsplit('<').next().unwrap_or(from).trim_end_matches('>').trim().to_ascii_lowercase();
    let domain = address.rsplit('@').next().unwrap_or_default();
    text.split([' ', ',', ':', ';'])
        .map(|token| token.trim_end_matches('.'))
        .any(|token| token == address || token == domain)
}

#[cfg(test)]
mod tests {
    use aws_sdk_sesv2::operation::send_email::SendEmailError;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::send_error;
    use crate::ports::MailError;

    const FROM: &str = "Fanmail News <news@example.com>";

    fn refused(status: u16, code: &str, message: &str) -> MailError {
        let err = SendEmailError::generic(ErrorMetadata::builder().code(code).message(message).build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        send_error(&SdkError::service_error(err, raw), FROM)
    }

    #[test]
    fn a_refusal_no_recipient_caused_pauses_the_campaign() {
        for (status, code, message) in [
            (400, "MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: news@example.com"),
            (400, "MessageRejected", "Email address is not verified. The following identities failed the check in region US-EAST-1: example.com, kim@example.org"),
            (400, "MailFromDomainNotVerifiedException", "MAIL FROM domain is not verified"),
            (404, "NotFoundException", "Configuration set <fanmail> does not exist."),
            (403, "AccessDeniedException", "User is not authorized to perform: ses:SendEmail"),
            (403, "ExpiredTokenException", "The security token included in the request is expired"),
            (403, "InvalidSignatureException", "Signature expired: 20261207T100000Z is now earlier than ..."),
            (429, "TooManyRequestsException", "Daily message quota exceeded."),
            (400, "ThrottlingException", "Throttling: Daily message quota exceeded."),
        ] {
            let error = refused(status, code, message);
            assert!(matches!(error, MailError::AccountBlocked(_)), "{code}: {message} → {error:?}");
        }
    }

    #[test]
    fn a_refusal_of_one_recipient_or_a_slowdown_stays_what_it_was() {
        let unverified_recipient = refused(
            400,
            "MessageRejected",
            "Email address is not verified. The following identities failed the check in region US-EAST-1: kim@example.org",
        );
        assert!(matches!(unverified_recipient, MailError::Rejected(_)), "{unverified_recipient:?}");
        for lookalike in ["thenews@example.com", "news@example.com.au"] {
            let text = format!("Email address is not verified. The following identities failed the check in region US-EAST-1: {lookalike}");
            let refused = refused(400, "MessageRejected", &text);
            assert!(matches!(refused, MailError::Rejected(_)), "{lookalike}: {refused:?}");
        }
        assert!(matches!(
            refused(429, "TooManyRequestsException", "Maximum sending rate exceeded."),
            MailError::Throttled
        ));
        assert!(matches!(refused(400, "BadRequestException", "Illegal header"), MailError::Rejected(_)));
    }
}
