//! Exactly one mail per recipient where only DynamoDB's answers show it: the sender wired as in
//! production (`Deps::aws`), its stores on the local DynamoDB, its mail to the SES stand-in.

use std::collections::BTreeMap;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use fanmail_common::domain::*;
use fanmail_common::ports::Clock;
use fanmail_common::store::fixtures;
use fanmail_common::store::{
    CampaignReader, CampaignStore, DynamoCampaignStore, DynamoLedger, DynamoRecipientStore, DynamoTemplateStore,
    Ledger, RecipientStore, TemplateStore,
};
use fanmail_common::system::SystemClock;
use fanmail_local::functions::SENDER;

use crate::campaign_e2e::mails_to;
use crate::support::{functions_only, unique_name};

fn job(campaign: &CampaignId, domain: &str, n: u32) -> RecipientJob {
    RecipientJob {
        campaign_id: campaign.clone(),
        recipient_id: RecipientId::parse(format!("r{n}")).unwrap(),
        address: EmailAddress::parse(&format!("user{n}@{domain}")).unwrap(),
        vars: BTreeMap::from([("name".into(), format!("User {n}"))]),
        row: u64::from(n) + 1,
    }
}

fn event(jobs: &[RecipientJob]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (i, job) in jobs.iter().enumerate() {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m{i}"));
        m.body = Some(serde_json::to_string(job).unwrap());
        m.attributes.insert("ApproximateReceiveCount".into(), "1".into());
        event.records.push(m);
    }
    event
}

/// SES's answer to a batch of ten was lost (the sender's call timed out, or it died after SES
/// accepted): each recipient was claimed once and given back for a recheck, and SES's `Send`
/// events recorded what it accepted. The recheck, a batch of ten in one claim transaction,
/// reads those records and mails nobody again.
#[tokio::test]
async fn a_lost_answer_in_a_batch_of_ten_is_settled_without_a_second_mail() {
    let (sdk, stack, functions) = functions_only().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = |name: &str| stack.reference(name).unwrap().to_string();
    let templates = DynamoTemplateStore::new(dynamodb.clone(), table("TemplatesTable"));
    let campaigns = DynamoCampaignStore::new(dynamodb.clone(), table("CampaignsTable"));
    let recipients = DynamoRecipientStore::new(dynamodb.clone(), table("RecipientsTable"));
    let ledger = DynamoLedger::new(dynamodb, table("LedgerTable"));

    let domain = format!("{}.example", unique_name());
    let mut campaign = fixtures::campaign("lost-answer");
    templates.put_version(&fixtures::template("welcome", campaign.template_version)).await.unwrap();
    campaign.status = CampaignStatus::Sending;
    campaign.counters = CampaignCounters { total: 10, queued: 10, ..Default::default() };
    (campaign.split_rows, campaign.split_finished) = (10, true);
    campaigns.create(&campaign).await.unwrap();

    let jobs: Vec<RecipientJob> = (1..=10).map(|n| job(&campaign.id, &domain, n)).collect();
    let now = SystemClock.now();
    let first: Vec<Recipient> = jobs.iter().map(|j| Recipient::from_job(j, now)).collect();
    for claim in recipients.claim_batch(&first, now, now + time::Duration::minutes(2)).await.unwrap() {
        assert!(claim.is_ok(), "{claim:?}");
    }
    for job in &jobs {
        let outcome = SendOutcome::new(job.recipient_id.clone(), RecipientStatus::Queued);
        recipients.finish(&campaign.id, &outcome, now).await.unwrap();
        let key = accepted_key(&campaign.id, &job.recipient_id);
        ledger.record_once(&key, &format!("ses-{}", job.recipient_id), now, ACCEPTED_LIFETIME).await.unwrap();
    }

    let response = functions.sqs(SENDER, event(&jobs)).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);

    assert!(mails_to(&domain).await.is_empty(), "SES had accepted every one of them: no second mail");
    for job in &jobs {
        let r = recipients.get(&campaign.id, &job.recipient_id).await.unwrap().unwrap();
        assert_eq!((r.status, r.attempts), (RecipientStatus::Sent, 2), "{}", job.recipient_id);
        assert_eq!(r.message_id, Some(format!("ses-{}", job.recipient_id)), "SES's own message id");
    }
    let counters = campaigns.get(&campaign.id).await.unwrap().unwrap().counters;
    assert_eq!(counters.sent, 10);
}
