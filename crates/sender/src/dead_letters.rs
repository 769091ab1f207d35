//! Messages that reached the recipients' dead-letter queue (three failed receives: claims
//! that kept failing, invocations that kept dying). Each recipient still unsettled is
//! recorded as failed, retryably, with the reason, so the campaign's counts add up, it can
//! complete, and `retry-failed` sends it again; one whose mail SES accepted is recorded as
//! sent. Nothing that reaches the queue is left uncounted.

use aws_lambda_events::sqs::SqsMessage;
use fanmail_common::domain::{accepted_key, Recipient, RecipientJob, RecipientStatus, SendOutcome};
use fanmail_common::ports::Clock;
use fanmail_common::sqs_batch::decode;
use fanmail_common::store::{Ledger, RecipientStore, SendLog, StoreError};
use fanmail_common::wiring::Ports;

use crate::{Deps, LEASE};

/// Settles each dead-lettered message; returns the ids to report failed (tried again after
/// the dead-letter queue's visibility timeout).
pub(crate) async fn settle<P: Ports>(deps: &Deps<P>, records: Vec<SqsMessage>) -> Vec<String> {
    let mut failed = Vec::new();
    for record in records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let job = match decode::<RecipientJob>(&record) {
            Ok(job) => job,
            Err(reason) => {
                // No recipient to settle: it stays in the queue for someone to look at.
                tracing::error!(message_id = %message_id, reason = %reason, "undecodable dead letter; left in the queue");
                failed.push(message_id);
                continue;
            }
        };
        if let Err(e) = settle_one(deps, &job).await {
            tracing::warn!(campaign = %job.campaign_id, recipient = %job.recipient_id, error = %e, "dead letter not settled yet");
            failed.push(message_id);
        }
    }
    failed
}

async fn settle_one<P: Ports>(deps: &Deps<P>, job: &RecipientJob) -> Result<(), StoreError> {
    let now = deps.clock.now();
    let current = deps.recipients.get(&job.campaign_id, &job.recipient_id).await?;
    // Failed already (the sender records a transient failure on the last receive) or done.
    if current.as_ref().is_some_and(|r| !matches!(r.status, RecipientStatus::Queued | RecipientStatus::Sending)) {
        return Ok(());
    }
    // Taken as a sender takes it; a claim some sender still holds is refused (`Conflict`),
    // and the message is tried again once that claim has run out.
    deps.recipients.claim(&Recipient::from_job(job, now), now, now + LEASE).await?;
    let outcome = match deps.ledger.read(&accepted_key(&job.campaign_id, &job.recipient_id), now).await? {
        Some(ses_message_id) => {
            let mut sent = SendOutcome::new(job.recipient_id.clone(), RecipientStatus::Sent);
            sent.message_id = Some(ses_message_id);
            sent
        }
        None => {
            let mut failed = SendOutcome::new(job.recipient_id.clone(), RecipientStatus::Failed);
            failed.retryable = true;
            failed.error =
                Some("its message failed three deliveries and was dead-lettered; retry-failed sends it again".into());
            failed
        }
    };
    tracing::warn!(campaign = %job.campaign_id, recipient = %job.recipient_id, status = %outcome.status, "dead letter settled");
    deps.send_log.record(&job.campaign_id, &[outcome], now).await?;
    if let Err(e) = deps.complete_if_done(&job.campaign_id).await {
        tracing::warn!(campaign = %job.campaign_id, error = %e, "could not check whether the campaign is done");
    }
    Ok(())
}
