//! After a batch's sends: outcomes recorded (retried while the store is busy), mails put back
//! on the queue with a delay, the campaign paused when the account cannot send.

use std::time::Duration;

use fanmail_common::domain::{CampaignId, Priority, SendOutcome};
use fanmail_common::ports::{Clock, OutgoingMessage, Queue};
use fanmail_common::store::campaigns::pause_running;
use fanmail_common::store::{SendLog, StoreError};
use fanmail_common::wiring::Ports;

use crate::{Delivery, Deps};

/// The account cannot send (paused or suspended by SES, or its daily quota is used up): the
/// campaign is paused with the reason, its parked recipients wait for the resume.
pub(crate) async fn pause_for_account<P: Ports>(deps: &Deps<P>, campaign_id: &CampaignId, reason: &str) {
    let reason = format!("SES cannot send now ({reason}); resume once the account can send again");
    match pause_running(&deps.campaigns, campaign_id, &reason, deps.clock.now()).await {
        Ok(Some(_)) => tracing::warn!(campaign = %campaign_id, reason = %reason, "campaign paused"),
        Ok(None) => {}
        // Its recipients are parked either way; the next batch tries the pause again.
        Err(e) => tracing::error!(campaign = %campaign_id, error = %e, "could not pause the campaign"),
    }
    deps.warm.campaigns.lock().unwrap().remove(campaign_id);
}

/// Sends these messages again with a short delay, to be acknowledged; returns the ids of those
/// that could not be re-queued (the queue redelivers them after the visibility timeout).
pub(crate) async fn requeue<P: Ports>(
    deps: &Deps<P>,
    priority: Priority,
    deliveries: &[&Delivery],
    delay: fn(usize) -> Duration,
) -> Vec<String> {
    if deliveries.is_empty() {
        return Vec::new();
    }
    let messages: Vec<OutgoingMessage> = deliveries
        .iter()
        .enumerate()
        .map(|(i, d)| OutgoingMessage {
            id: i.to_string(),
            body: d.body.clone(),
            delay: Some(delay(i)),
            group: Some(d.job.campaign_id.to_string()),
        })
        .collect();
    match deps.requeue.for_priority(priority).send_all(&messages).await {
        Ok(()) => Vec::new(),
        Err(e) => {
            tracing::warn!(error = %e, "re-queueing failed; the queue will redeliver these messages");
            deliveries.iter().map(|d| d.message_id.clone()).collect()
        }
    }
}

/// Spread re-queued mails over a few seconds so they do not return as one burst.
pub(crate) fn requeue_delay(i: usize) -> Duration {
    Duration::from_secs(2 + (i as u64 % 8))
}

pub(crate) async fn record_with_retries<P: Ports>(
    deps: &Deps<P>,
    campaign: &CampaignId,
    outcomes: &[SendOutcome],
) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        match deps.send_log.record(campaign, outcomes, deps.clock.now()).await {
            Err(e) if e.retryable() && attempt < 4 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            other => return other,
        }
    }
}
