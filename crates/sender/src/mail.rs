//! Sending the claimed mails of one batch: render, skip the suppressed, send through SES
//! within the pacer, and turn each result into an outcome.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use fanmail_common::domain::{Campaign, EmailAddress, RecipientStatus, SendOutcome, UnsubscribeToken};
use fanmail_common::ports::{MailError, Mailer, OutgoingMail};
use fanmail_common::render::{MailData, MailTemplate};
use fanmail_common::store::SuppressionStore;
use fanmail_common::wiring::Ports;
use futures::stream::{self, StreamExt};

use crate::*;

pub(crate) async fn send_claimed<P: Ports>(
    deps: &Deps<P>,
    campaign: &Campaign,
    claimed: &[Delivery],
    send_by: Option<tokio::time::Instant>,
) -> Vec<(SendOutcome, Disposition)> {
    let template = match deps.template(campaign).await {
        Ok(Some(template)) => template,
        result => {
            let (reason, retryable) = match result {
                Err(e) => (format!("the template could not be read: {e}"), true),
                _ => ("the campaign's template version is missing or does not compile".to_string(), false),
            };
            return claimed
                .iter()
                .map(|d| (give_back_or_fail(d, reason.clone(), retryable), Disposition::Fail))
                .collect();
        }
    };
    let addresses: Vec<EmailAddress> = claimed.iter().map(|d| d.job.address.clone()).collect();
    let suppressed: HashSet<EmailAddress> = match deps
        .suppressions
        .suppressed_among(&addresses, &campaign.sender.address)
        .await
    {
        Ok(suppressed) => suppressed,
        Err(e) => {
            let reason = format!("the suppression list could not be read: {e}");
            return claimed.iter().map(|d| (give_back_or_fail(d, reason.clone(), true), Disposition::Fail)).collect();
        }
    };
    let prepared = Prepared {
        send_by,
        from: campaign.from_header(),
        unsubscribe_base: format!("{}/unsubscribe?token=", deps.config.public_base_url),
        template,
        suppressed,
    };
    let sends: Vec<_> = claimed.iter().map(|delivery| deliver_one(deps, campaign, &prepared, delivery)).collect();
    stream::iter(sends).buffered(IN_FLIGHT).collect().await
}

/// What every mail of a batch shares.
struct Prepared {
    /// The last moment a send may start in this invocation.
    send_by: Option<tokio::time::Instant>,
    from: String,
    /// The unsubscribe URL up to its token.
    unsubscribe_base: String,
    template: Arc<MailTemplate>,
    suppressed: HashSet<EmailAddress>,
}

async fn deliver_one<P: Ports>(
    deps: &Deps<P>,
    campaign: &Campaign,
    prepared: &Prepared,
    delivery: &Delivery,
) -> (SendOutcome, Disposition) {
    let id = delivery.job.recipient_id.clone();
    if prepared.suppressed.contains(&delivery.job.address) {
        return (SendOutcome::new(id, RecipientStatus::Suppressed), Disposition::Ack);
    }
    let token = UnsubscribeToken {
        address: delivery.job.address.clone(),
        sender: campaign.sender.address.clone(),
        campaign: campaign.id.clone(),
    }
    .sign(deps.unsubscribe_key.bytes())
    .expect("the key's length is checked when it is loaded");
    let unsubscribe_url = format!("{}{token}", prepared.unsubscribe_base);
    let data =
        MailData { shared: &campaign.shared_vars, recipient: &delivery.job.vars, unsubscribe_url: &unsubscribe_url };
    let rendered = match prepared.template.render(&data) {
        Ok(rendered) => rendered,
        Err(e) => {
            let mut outcome = SendOutcome::new(id, RecipientStatus::Failed);
            outcome.error = Some(e.to_string());
            return (outcome, Disposition::Ack);
        }
    };
    let mail = OutgoingMail {
        from: prepared.from.clone(),
        to: delivery.job.address.clone(),
        reply_to: campaign.sender.reply_to.clone(),
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        // RFC 8058 one-click unsubscribe: mailbox providers POST `List-Unsubscribe=One-Click`
        // to the link.
        headers: vec![
            ("List-Unsubscribe".into(), format!("<{unsubscribe_url}>")),
            ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
        ],
        tags: vec![("campaign".into(), campaign.id.to_string()), ("recipient".into(), id.to_string())],
    };
    send_one(deps, campaign, delivery, mail, prepared.send_by).await
}

/// Before the last receive a claim is given back (the message returns); on it, the recipient
/// is recorded as failed, retryable, and the message goes on to the DLQ.
fn give_back_or_fail(delivery: &Delivery, reason: String, retryable: bool) -> SendOutcome {
    let id = delivery.job.recipient_id.clone();
    if retryable && delivery.receive_count < LAST_RECEIVE {
        return SendOutcome::new(id, RecipientStatus::Queued);
    }
    let mut outcome = SendOutcome::new(id, RecipientStatus::Failed);
    outcome.error = Some(reason);
    outcome.retryable = retryable;
    outcome
}

async fn send_one<P: Ports>(
    deps: &Deps<P>,
    campaign: &Campaign,
    delivery: &Delivery,
    mail: OutgoingMail,
    send_by: Option<tokio::time::Instant>,
) -> (SendOutcome, Disposition) {
    let id = delivery.job.recipient_id.clone();
    let mut attempt = 0;
    loop {
        let slot = match send_by {
            Some(send_by) => deps.warm.pacer.acquire_by(send_by).await,
            None => {
                deps.warm.pacer.acquire().await;
                true
            }
        };
        if !slot {
            // At this rate the mail cannot start before the invocation's end: it goes back
            // to the queue, as a throttled one does, and another invocation sends it.
            return (SendOutcome::new(id, RecipientStatus::Queued), Disposition::Requeue);
        }
        match deps.mailer.send(&mail).await {
            Ok(message_id) => {
                tracing::debug!(campaign = %campaign.id, recipient = %id, ses_message_id = %message_id, to = %mail.to.redacted(), "sent");
                let mut outcome = SendOutcome::new(id, RecipientStatus::Sent);
                outcome.message_id = Some(message_id);
                return (outcome, Disposition::Ack);
            }
            Err(MailError::Rejected(reason)) => {
                tracing::warn!(campaign = %campaign.id, recipient = %id, reason = %reason, "mail rejected");
                let mut outcome = SendOutcome::new(id, RecipientStatus::Failed);
                outcome.error = Some(reason);
                return (outcome, Disposition::Ack);
            }
            Err(MailError::Throttled) => {
                deps.warm.pacer.back_off(Duration::from_secs(1));
                return (SendOutcome::new(id, RecipientStatus::Queued), Disposition::Requeue);
            }
            Err(MailError::Transient(reason) | MailError::AccountBlocked(reason)) => {
                attempt += 1;
                if attempt < 3 {
                    tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                    continue;
                }
                tracing::warn!(campaign = %campaign.id, recipient = %id, reason = %reason, receive = delivery.receive_count, "send failed");
                return (give_back_or_fail(delivery, reason, true), Disposition::Fail);
            }
        }
    }
}
