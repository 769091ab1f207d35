//! What every result log does, run against each adapter with the stores it writes.

use time::Duration;

use crate::domain::{DeliveryResult, Recipient, RecipientId, RecipientStatus};
use crate::store::fixtures::*;
use crate::store::{CampaignStore, RecipientStore, Recorded, ResultLog, StoreError};

pub async fn run(log: &impl ResultLog, recipients: &impl RecipientStore, campaigns: &impl CampaignStore) {
    let c = campaign("c1");
    campaigns.create(&c).await.unwrap();
    let lease = T0 + Duration::minutes(2);
    let batch: Vec<Recipient> = (1..=3).map(|n| recipient("c1", n, RecipientStatus::Sending)).collect();
    recipients.claim_batch(&batch, T0, lease).await.unwrap();
    let (r1, r2, r3) = (&batch[0].recipient_id, &batch[1].recipient_id, &batch[2].recipient_id);
    recipients.finish(&c.id, &sent(r1, "ses-1"), T0).await.unwrap();
    recipients.finish(&c.id, &sent(r3, "ses-3"), T0).await.unwrap();
    let record = |id, result| log.record(&c.id, id, result, T0);

    let first = record(r1, DeliveryResult::Delivered).await.unwrap();
    assert_eq!(first, Recorded { counted: true, advanced: true });
    assert_eq!(record(r1, DeliveryResult::Delivered).await.unwrap(), Recorded::default(), "a replay changes nothing");
    assert_eq!(record(r1, DeliveryResult::HardBounce).await.unwrap(), Recorded { counted: true, advanced: true });
    assert_eq!(record(r1, DeliveryResult::Open).await.unwrap(), Recorded { counted: true, advanced: false });
    // A complaint, then the delivery that preceded it arriving late: counted, status kept.
    assert_eq!(record(r3, DeliveryResult::Complaint).await.unwrap(), Recorded { counted: true, advanced: true });
    assert_eq!(record(r3, DeliveryResult::Delivered).await.unwrap(), Recorded { counted: true, advanced: false });
    let status = |id| recipients.get(&c.id, id);
    assert_eq!(status(r1).await.unwrap().unwrap().status, RecipientStatus::Bounced);
    assert_eq!(status(r3).await.unwrap().unwrap().status, RecipientStatus::Complained);
    let counters = campaigns.get(&c.id).await.unwrap().unwrap().counters;
    assert_eq!(
        (counters.delivered, counters.bounced, counters.complained, counters.opened),
        (2, 1, 1, 1),
        "once per recipient and result"
    );
    // Early: the send is not recorded yet; nothing is counted and the claim is untouched.
    match record(r2, DeliveryResult::Delivered).await {
        Err(StoreError::Conflict { current }) => assert_eq!(current, RecipientStatus::Sending),
        other => panic!("an early result must be refused: {other:?}"),
    }
    assert_eq!(status(r2).await.unwrap().unwrap().status, RecipientStatus::Sending);
    assert_eq!(campaigns.get(&c.id).await.unwrap().unwrap().counters.delivered, 2);
    let nobody = RecipientId::parse("nobody").unwrap();
    assert!(matches!(record(&nobody, DeliveryResult::Delivered).await, Err(StoreError::NotFound(_))));
    // Events without tags join by SES message id.
    assert_eq!(recipients.find_by_message_id("ses-3").await.unwrap(), Some((c.id.clone(), r3.clone())));
    assert_eq!(recipients.find_by_message_id("ses-unknown").await.unwrap(), None);
}
