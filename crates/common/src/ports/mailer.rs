use std::future::Future;

use crate::domain::EmailAddress;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Over the account's send rate; slow down and try again.
    #[error("mail service throttled the send")]
    Throttled,
    /// A network or service fault; the same mail may be retried.
    #[error("mail service unavailable: {0}")]
    Transient(String),
    /// The service will never accept this mail (bad address, unverified sender, ...).
    #[error("mail rejected: {0}")]
    Rejected(String),
    /// The request may have reached the service and its answer was lost (a timeout, a broken
    /// connection): the mail may have been accepted. Sending it again could mail twice.
    #[error("mail service outcome unknown: {0}")]
    Unknown(String),
    /// Nothing of the campaign can be sent until someone acts: the account's sending is paused
    /// or its daily quota used up, or the sender's identity is unverified, the configuration
    /// set gone, the permission denied. The campaign is paused with the reason.
    #[error("account cannot send now: {0}")]
    AccountBlocked(String),
}

impl MailError {
    pub fn retryable(&self) -> bool {
        !matches!(self, Self::Rejected(_))
    }

    /// The same error with every address in its text redacted (SES names the address it
    /// refused), fit to be logged and stored.
    pub fn redacted(self) -> Self {
        use crate::domain::redact_addresses as r;
        match self {
            Self::Throttled => Self::Throttled,
            Self::Transient(m) => Self::Transient(r(&m)),
            Self::Rejected(m) => Self::Rejected(r(&m)),
            Self::Unknown(m) => Self::Unknown(r(&m)),
            Self::AccountBlocked(m) => Self::AccountBlocked(r(&m)),
        }
    }
}

/// One rendered mail, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    pub from: String,
    pub to: EmailAddress,
    pub reply_to: Option<EmailAddress>,
    pub subject: String,
    pub html: String,
    pub text: String,
    /// Extra headers (List-Unsubscribe, ...).
    pub headers: Vec<(String, String)>,
    /// Message tags, echoed back in every SES event so results join to campaign and recipient.
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendQuota {
    pub max_24_hour_send: f64,
    pub max_send_rate: f64,
    pub sent_last_24_hours: f64,
}

pub trait Mailer: Send + Sync {
    /// Sends one mail; returns the provider's message id.
    fn send(&self, mail: &OutgoingMail) -> impl Future<Output = Result<String, MailError>> + Send;

    fn quota(&self) -> impl Future<Output = Result<SendQuota, MailError>> + Send;
}
