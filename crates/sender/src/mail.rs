//! Sending the claimed mails of one batch: render, skip the suppressed, send through SES
//! within the pacer, and turn each result into an outcome.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanmail_common::compose::{compose, Envelope, MailInput};
use fanmail_common::domain::{Campaign, EmailAddress, RecipientId, RecipientStatus, SendOutcome};
use fanmail_common::pacing::Pacer;
use fanmail_common::ports::{MailError, Mailer, OutgoingMail};
use fanmail_common::render::MailTemplate;
use fanmail_common::store::SuppressionStore;
use fanmail_common::wiring::Ports;
use futures::stream::{self, StreamExt};

use crate::*;

/// What became of a batch's claimed mails, and why the account cannot send, if it cannot.
pub(crate) struct BatchResult {
    pub results: Vec<(SendOutcome, Disposition)>,
    pub blocked: Option<String>,
}

pub(crate) async fn send_claimed<P: Ports>(
    deps: &Deps<P>,
    campaign: &Campaign,
    claimed: &[Delivery],
    send_by: Option<tokio::time::Instant>,
) -> BatchResult {
    let failed_all = |reason: String, retryable: bool| BatchResult {
        results: claimed.iter().map(|d| (give_back_or_fail(d, reason.clone(), retryable), Disposition::Fail)).collect(),
        blocked: None,
    };
    let template = match deps.template(campaign).await {
        Ok(Some(template)) => template,
        result => {
            let (reason, retryable) = match result {
                Err(e) => (format!("the template could not be read: {e}"), true),
                _ => ("the campaign's template version is missing or does not compile".to_string(), false),
            };
            return failed_all(reason, retryable);
        }
    };
    let addresses: Vec<EmailAddress> = claimed.iter().map(|d| d.job.address.clone()).collect();
    let suppressed: HashSet<EmailAddress> =
        match deps.suppressions.suppressed_among(&addresses, &campaign.sender.address).await {
            Ok(suppressed) => suppressed,
            Err(e) => {
                return failed_all(format!("the suppression list could not be read: {e}"), true);
            }
        };
    let prepared = Prepared {
        send_by,
        unsubscribe_base: format!("{}/unsubscribe?token=", deps.config.public_base_url),
        template,
        suppressed,
        blocked: Mutex::new(deps.warm.blocked()),
    };
    let sends: Vec<_> = claimed.iter().map(|delivery| deliver_one(deps, campaign, &prepared, delivery)).collect();
    let results = stream::iter(sends).buffered(IN_FLIGHT).collect().await;
    BatchResult { results, blocked: prepared.blocked.into_inner().unwrap() }
}

/// What every mail of a batch shares.
struct Prepared {
    /// The last moment a send may start in this invocation.
    send_by: Option<tokio::time::Instant>,
    /// The unsubscribe URL up to its token.
    unsubscribe_base: String,
    template: Arc<MailTemplate>,
    suppressed: HashSet<EmailAddress>,
    /// Set once SES says the account cannot send (paused, suspended, daily quota used up):
    /// the batch's other mails are parked rather than tried.
    blocked: Mutex<Option<String>>,
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
    if prepared.blocked.lock().unwrap().is_some() {
        return parked(id);
    }
    let input = MailInput {
        envelope: Envelope {
            sender: &campaign.sender,
            campaign: &campaign.id,
            recipient: &id,
            to: &delivery.job.address,
        },
        shared: &campaign.shared_vars,
        vars: &delivery.job.vars,
        unsubscribe_base: &prepared.unsubscribe_base,
        unsubscribe_key: deps.unsubscribe_key.bytes(),
    };
    let mail = match compose(&prepared.template, &input) {
        Ok(mail) => mail,
        Err(e) => {
            let mut outcome = SendOutcome::new(id, RecipientStatus::Failed);
            outcome.error = Some(e.to_string());
            return (outcome, Disposition::Ack);
        }
    };
    send_one(deps, campaign, delivery, mail, prepared).await
}

/// Parked until the campaign is resumed (which re-queues it): acknowledged, never failed.
fn parked(id: RecipientId) -> (SendOutcome, Disposition) {
    (SendOutcome::new(id, RecipientStatus::Paused), Disposition::Ack)
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

/// A send slot from `pacer` (none: no limit), starting by `send_by` if there is one.
async fn take_slot(pacer: Option<&Pacer>, send_by: Option<tokio::time::Instant>) -> bool {
    match (pacer, send_by) {
        (None, _) => true,
        (Some(pacer), Some(send_by)) => pacer.acquire_by(send_by).await,
        (Some(pacer), None) => {
            pacer.acquire().await;
            true
        }
    }
}

/// One to two seconds, spread by recipient and try.
fn throttle_pause(id: &RecipientId, tries: u32) -> Duration {
    let spread =
        id.as_str().bytes().fold(u64::from(tries) * 7919, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    Duration::from_millis(1000 + spread % 1000)
}

async fn send_one<P: Ports>(
    deps: &Deps<P>,
    campaign: &Campaign,
    delivery: &Delivery,
    mail: OutgoingMail,
    prepared: &Prepared,
) -> (SendOutcome, Disposition) {
    let id = delivery.job.recipient_id.clone();
    let (mut attempt, mut throttles) = (0, 0);
    let mut pause_before_retry: Option<Duration> = None;
    loop {
        let slot = match (pause_before_retry.take(), prepared.send_by) {
            // A throttled send used none of the account's rate: it goes again after the pause,
            // in no new slot, if that is still before the cut-off.
            (Some(pause), send_by) => {
                let fits = send_by.is_none_or(|by| tokio::time::Instant::now() + pause <= by);
                if fits {
                    tokio::time::sleep(pause).await;
                }
                fits
            }
            // The campaign's own ceiling first, then the account's.
            (None, send_by) => {
                let campaign_pacer = deps.warm.campaign_pacer(campaign, deps.config.sender_concurrency);
                take_slot(campaign_pacer.as_deref(), send_by).await && take_slot(Some(&deps.warm.pacer), send_by).await
            }
        };
        if !slot {
            // At this rate the mail cannot start before the invocation's end: it goes back
            // to the queue, as a throttled one does, and another invocation sends it.
            return (SendOutcome::new(id, RecipientStatus::Queued), Disposition::Requeue);
        }
        if prepared.blocked.lock().unwrap().is_some() {
            return parked(id);
        }
        match deps.mailer.send(&mail).await.map_err(MailError::redacted) {
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
                // SES did not take it, so trying again is safe. At a low rate, after a pause of
                // a second or two (jittered, so instances that collided do not collide again)
                // within this invocation if it fits: a trip through the queue would cost
                // several of the instance's slots. Otherwise through the queue, which frees
                // this send's place among the ten in flight at once.
                deps.warm.pacer.back_off(Duration::from_secs(1));
                throttles += 1;
                if throttles < THROTTLE_TRIES && deps.warm.pacer.rate() < RETRY_IN_PLACE_BELOW {
                    pause_before_retry = Some(throttle_pause(&id, throttles));
                    continue;
                }
                return (SendOutcome::new(id, RecipientStatus::Queued), Disposition::Requeue);
            }
            Err(MailError::AccountBlocked(reason)) => {
                tracing::warn!(campaign = %campaign.id, reason = %reason, "the SES account cannot send now");
                prepared.blocked.lock().unwrap().get_or_insert(reason);
                return parked(id);
            }
            Err(MailError::Unknown(reason)) => {
                // Sending again now could mail twice. The message returns after SES's own
                // record of the mails it accepted has had time to arrive, and is checked first.
                tracing::warn!(campaign = %campaign.id, recipient = %id, reason = %reason, "SES's answer was lost; the mail is checked before any resend");
                return (SendOutcome::new(id, RecipientStatus::Queued), Disposition::Recheck);
            }
            Err(MailError::Transient(reason)) => {
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
