//! What every send log does, run against each adapter with the stores it writes.

use time::Duration;

use crate::domain::{Recipient, RecipientStatus, SendOutcome};
use crate::store::fixtures::*;
use crate::store::{CampaignStore, Ledger, RecipientStore, SendLog};

pub async fn run(
    log: &impl SendLog,
    recipients: &impl RecipientStore,
    campaigns: &impl CampaignStore,
    ledger: &impl Ledger,
) {
    let c = campaign("c1");
    campaigns.create(&c).await.unwrap();
    let lease = T0 + Duration::minutes(2);
    let batch: Vec<Recipient> = (1..=4).map(|n| recipient("c1", n, RecipientStatus::Sending)).collect();
    recipients.claim_batch(&batch, T0, lease).await.unwrap();
    let mut rejected = SendOutcome::new(batch[1].recipient_id.clone(), RecipientStatus::Failed);
    rejected.error = Some("MessageRejected".into());
    let outcomes = vec![
        sent(&batch[0].recipient_id, "m-1"),
        rejected,
        SendOutcome::new(batch[2].recipient_id.clone(), RecipientStatus::Suppressed),
        SendOutcome::new(batch[3].recipient_id.clone(), RecipientStatus::Queued),
    ];
    log.record(&c.id, &outcomes, T0).await.unwrap();
    let counters = campaigns.get(&c.id).await.unwrap().unwrap().counters;
    assert_eq!((counters.sent, counters.failed, counters.skipped), (1, 1, 1));
    assert_eq!(ledger.sent_between(T0, T0).await.unwrap(), 1);
    let status = |n: usize| recipients.get(&c.id, &batch[n].recipient_id);
    assert_eq!(status(0).await.unwrap().unwrap().message_id.as_deref(), Some("m-1"));
    assert_eq!(status(3).await.unwrap().unwrap().status, RecipientStatus::Queued, "a given-back claim");

    // Recording again (a replay) counts nothing: those recipients are no longer `sending`.
    recipients.claim(&batch[3], T0, lease).await.unwrap();
    log.record(&c.id, &[sent(&batch[0].recipient_id, "m-1"), sent(&batch[3].recipient_id, "m-4")], T0).await.unwrap();
    let counters = campaigns.get(&c.id).await.unwrap().unwrap().counters;
    assert_eq!(counters.sent, 2, "only the recipient still claimed is counted");
    assert_eq!(ledger.sent_between(T0, T0).await.unwrap(), 2);

    // A retry releases only what failed for a transient reason, and only once.
    let transient: Vec<Recipient> = (5..=6).map(|n| recipient("c1", n, RecipientStatus::Sending)).collect();
    recipients.claim_batch(&transient, T0, lease).await.unwrap();
    let failed_retryably = |r: &Recipient| {
        let mut outcome = SendOutcome::new(r.recipient_id.clone(), RecipientStatus::Failed);
        outcome.retryable = true;
        outcome
    };
    log.record(&c.id, &[failed_retryably(&transient[0]), failed_retryably(&transient[1])], T0).await.unwrap();
    assert_eq!(campaigns.get(&c.id).await.unwrap().unwrap().counters.failed, 3);
    let ids = [batch[1].recipient_id.clone(), transient[0].recipient_id.clone(), transient[1].recipient_id.clone()];
    assert_eq!(log.release_failed(&c.id, &ids, T0).await.unwrap(), 2, "the rejected one stays failed");
    assert_eq!(log.release_failed(&c.id, &ids, T0).await.unwrap(), 0, "a repeated release changes nothing");
    assert_eq!(campaigns.get(&c.id).await.unwrap().unwrap().counters.failed, 1);
    assert_eq!(status(1).await.unwrap().unwrap().status, RecipientStatus::Failed);
    let released = recipients.get(&c.id, &transient[0].recipient_id).await.unwrap().unwrap();
    assert_eq!(released.status, RecipientStatus::Queued);
}
