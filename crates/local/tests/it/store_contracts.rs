//! Each store's contract (`fanmail_common::store::<table>::contract`) run against its DynamoDB
//! adapter: the real SDK on the local endpoint. The unit tests run the same contracts against
//! the in-memory adapters, so both give the same answers, conditional writes included.

use fanmail_common::store::{
    audit, campaigns, ledger, recipients, result_log, send_log, suppressions, templates, DynamoAuditLog,
    DynamoCampaignStore, DynamoLedger, DynamoRecipientStore, DynamoResultLog, DynamoSendLog, DynamoSuppressionStore,
    DynamoTemplateStore,
};

use crate::support::stack;

async fn dynamo() -> (aws_sdk_dynamodb::Client, fanmail_local::provision::Stack) {
    let (sdk, stack) = stack().await;
    (aws_sdk_dynamodb::Client::new(&sdk), stack)
}

#[tokio::test]
async fn the_audit_log_keeps_its_contract_on_dynamodb() {
    let (client, stack) = dynamo().await;
    audit::contract::run(&DynamoAuditLog::new(client, stack.reference("AuditTable").unwrap())).await;
}

#[tokio::test]
async fn the_template_store_keeps_its_contract_on_dynamodb() {
    let (client, stack) = dynamo().await;
    templates::contract::run(&DynamoTemplateStore::new(client, stack.reference("TemplatesTable").unwrap())).await;
}

#[tokio::test]
async fn the_campaign_store_keeps_its_contract_on_dynamodb() {
    let (client, stack) = dynamo().await;
    campaigns::contract::run(&DynamoCampaignStore::new(client, stack.reference("CampaignsTable").unwrap())).await;
}

#[tokio::test]
async fn the_recipient_store_keeps_its_contract_on_dynamodb() {
    let (client, stack) = dynamo().await;
    recipients::contract::run(&DynamoRecipientStore::new(client, stack.reference("RecipientsTable").unwrap())).await;
}

/// Recipients' data is kept no longer than the retention setting: each claim sets the item's
/// TTL attribute (the one the template enables on the table) to `now + retention`, and a later
/// claim (a retry) moves it on.
#[tokio::test]
async fn a_recipient_item_expires_its_retention_after_its_latest_claim() {
    use fanmail_common::domain::{CampaignId, RecipientRetention, RecipientStatus, SendOutcome};
    use fanmail_common::store::fixtures::{recipient, T0};
    use fanmail_common::store::RecipientStore;
    use time::Duration;

    let (client, stack) = dynamo().await;
    let table = stack.reference("RecipientsTable").unwrap();
    let ttl = client.describe_time_to_live().table_name(table).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"), "the table's TTL reads the attribute the store writes");

    let store = DynamoRecipientStore::new(client.clone(), table).kept_for("20".parse::<RecipientRetention>().unwrap());
    let r = recipient("ttl", 1, RecipientStatus::Sending);
    let expires_at = || async {
        let item = client
            .get_item()
            .table_name(table)
            .key("campaign_id", aws_sdk_dynamodb::types::AttributeValue::S("ttl".into()))
            .key("recipient_id", aws_sdk_dynamodb::types::AttributeValue::S(r.recipient_id.to_string()))
            .send()
            .await
            .unwrap();
        let value = item.item().unwrap()["expires_at"].as_n().unwrap().clone();
        value.parse::<i64>().unwrap()
    };
    store.claim(&r, T0, T0 + Duration::minutes(5)).await.unwrap();
    assert_eq!(expires_at().await, (T0 + Duration::days(20)).unix_timestamp());

    let mut failed = SendOutcome::new(r.recipient_id.clone(), RecipientStatus::Failed);
    failed.retryable = true;
    let campaign = CampaignId::parse("ttl").unwrap();
    store.finish(&campaign, &failed, T0).await.unwrap();
    let retried = T0 + Duration::days(3);
    // Claimed again in a batch (one transaction), as the sender claims.
    let batch = [r.clone(), recipient("ttl", 2, RecipientStatus::Sending)];
    let claims = store.claim_batch(&batch, retried, retried + Duration::minutes(5)).await.unwrap();
    assert!(claims.iter().all(Result::is_ok), "{claims:?}");
    assert_eq!(expires_at().await, (retried + Duration::days(20)).unix_timestamp());
}

#[tokio::test]
async fn the_send_log_transaction_keeps_its_contract_on_dynamodb() {
    let (client, stack) = dynamo().await;
    let (recipients_table, campaigns_table, ledger_table) = (
        stack.reference("RecipientsTable").unwrap(),
        stack.reference("CampaignsTable").unwrap(),
        stack.reference("LedgerTable").unwrap(),
    );
    send_log::contract::run(
        &DynamoSendLog::new(client.clone(), recipients_table, campaigns_table, ledger_table),
        &DynamoRecipientStore::new(client.clone(), recipients_table),
        &DynamoCampaignStore::new(client.clone(), campaigns_table),
        &DynamoLedger::new(client, ledger_table),
    )
    .await;
}

#[tokio::test]
async fn the_result_log_transaction_keeps_its_contract_on_dynamodb() {
    let (client, stack) = dynamo().await;
    let (recipients_table, campaigns_table) =
        (stack.reference("RecipientsTable").unwrap(), stack.reference("CampaignsTable").unwrap());
    result_log::contract::run(
        &DynamoResultLog::new(client.clone(), recipients_table, campaigns_table),
        &DynamoRecipientStore::new(client.clone(), recipients_table),
        &DynamoCampaignStore::new(client, campaigns_table),
    )
    .await;
}

#[tokio::test]
async fn the_suppression_store_keeps_its_contract_on_dynamodb() {
    let (client, stack) = dynamo().await;
    suppressions::contract::run(&DynamoSuppressionStore::new(client, stack.reference("SuppressionsTable").unwrap()))
        .await;
}

#[tokio::test]
async fn the_ledger_keeps_its_contract_on_dynamodb() {
    let (client, stack) = dynamo().await;
    ledger::contract::run(&DynamoLedger::new(client, stack.reference("LedgerTable").unwrap())).await;
}

/// A DynamoDB client whose writes to `table` fail, as a dropped connection does, while the
/// switch is on, once the first of them has gone through.
fn failing_after_first_write(
    sdk: &aws_config::SdkConfig,
    table: &str,
) -> (aws_sdk_dynamodb::Client, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let (on, seen) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let (switch, name) = (on.clone(), format!("\"TableName\":\"{table}\""));
    let sdk = fanmail_local::metering::gated(
        sdk,
        Arc::new(move |request| {
            let body = request.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
            let target = request.headers().get("x-amz-target").unwrap_or_default();
            let write = target.ends_with("UpdateItem") || target.ends_with("TransactWriteItems");
            if !(write && body.contains(&name) && switch.load(Ordering::SeqCst)) {
                return true;
            }
            seen.fetch_add(1, Ordering::SeqCst) == 0
        }),
    );
    (aws_sdk_dynamodb::Client::new(&sdk), on)
}

/// A batch's transaction is refused for one lost claim, and the write after it (whatever
/// carries the counts) fails: nothing of it may stay written uncounted, so the retry counts
/// the recipient that was sent.
#[tokio::test]
async fn a_batch_whose_count_could_not_be_written_is_counted_on_its_retry() {
    use fanmail_common::domain::RecipientStatus;
    use fanmail_common::store::fixtures::{campaign, recipient, sent, T0};
    use fanmail_common::store::{CampaignReader, CampaignStore, RecipientStore, SendLog};
    use std::sync::atomic::Ordering;

    let (sdk, stack) = crate::support::stack().await;
    let (recipients_table, campaigns_table, ledger_table) = (
        stack.reference("RecipientsTable").unwrap(),
        stack.reference("CampaignsTable").unwrap(),
        stack.reference("LedgerTable").unwrap(),
    );
    let plain = aws_sdk_dynamodb::Client::new(&sdk);
    let recipients = DynamoRecipientStore::new(plain.clone(), recipients_table);
    let campaigns = DynamoCampaignStore::new(plain, campaigns_table);
    let c = campaign("lost-count");
    campaigns.create(&c).await.unwrap();
    let (mine, lost) =
        (recipient("lost-count", 1, RecipientStatus::Sending), recipient("lost-count", 2, RecipientStatus::Sending));
    let lease = T0 + time::Duration::minutes(2);
    recipients.claim_batch(&[mine.clone(), lost.clone()], T0, lease).await.unwrap();
    // Another sender took over the second one and recorded it: this sender's claim is lost.
    recipients.finish(&c.id, &sent(&lost.recipient_id, "ses-other"), T0).await.unwrap();

    let (client, failing) = failing_after_first_write(&sdk, campaigns_table);
    let log = DynamoSendLog::new(client, recipients_table, campaigns_table, ledger_table);
    let outcomes = [sent(&mine.recipient_id, "ses-mine"), sent(&lost.recipient_id, "ses-mine-2")];
    failing.store(true, Ordering::SeqCst);
    assert!(log.record(&c.id, &outcomes, T0).await.is_err(), "the count could not be written");
    failing.store(false, Ordering::SeqCst);
    log.record(&c.id, &outcomes, T0).await.unwrap();

    assert_eq!(campaigns.get(&c.id).await.unwrap().unwrap().counters.sent, 1, "the sent recipient is counted once");
    let r = recipients.get(&c.id, &mine.recipient_id).await.unwrap().unwrap();
    assert_eq!((r.status, r.message_id.as_deref()), (RecipientStatus::Sent, Some("ses-mine")));
    let other = recipients.get(&c.id, &lost.recipient_id).await.unwrap().unwrap();
    assert_eq!(other.message_id.as_deref(), Some("ses-other"), "the lost claim's outcome is not written");
}

/// A delivery result whose first transaction is refused (the recipient is further on: a
/// bounce came first) and whose count then fails to be written is counted on its retry.
#[tokio::test]
async fn a_result_whose_count_could_not_be_written_is_counted_on_its_retry() {
    use fanmail_common::domain::{DeliveryResult, RecipientStatus};
    use fanmail_common::store::fixtures::{campaign, recipient, sent, T0};
    use fanmail_common::store::{CampaignReader, CampaignStore, RecipientStore, ResultLog};
    use std::sync::atomic::Ordering;

    let (sdk, stack) = crate::support::stack().await;
    let (recipients_table, campaigns_table) =
        (stack.reference("RecipientsTable").unwrap(), stack.reference("CampaignsTable").unwrap());
    let plain = aws_sdk_dynamodb::Client::new(&sdk);
    let recipients = DynamoRecipientStore::new(plain.clone(), recipients_table);
    let campaigns = DynamoCampaignStore::new(plain, campaigns_table);
    let c = campaign("late-result");
    campaigns.create(&c).await.unwrap();
    let r = recipient("late-result", 1, RecipientStatus::Sending);
    recipients.claim(&r, T0, T0 + time::Duration::minutes(2)).await.unwrap();
    recipients.finish(&c.id, &sent(&r.recipient_id, "ses-1"), T0).await.unwrap();
    recipients.advance(&c.id, &r.recipient_id, RecipientStatus::Bounced, T0).await.unwrap();

    let (client, failing) = failing_after_first_write(&sdk, campaigns_table);
    let log = DynamoResultLog::new(client, recipients_table, campaigns_table);
    failing.store(true, Ordering::SeqCst);
    assert!(log.record(&c.id, &r.recipient_id, DeliveryResult::Delivered, T0).await.is_err());
    failing.store(false, Ordering::SeqCst);
    let recorded = log.record(&c.id, &r.recipient_id, DeliveryResult::Delivered, T0).await.unwrap();

    assert!(recorded.counted && !recorded.advanced, "{recorded:?}");
    assert_eq!(campaigns.get(&c.id).await.unwrap().unwrap().counters.delivered, 1);
    assert_eq!(recipients.get(&c.id, &r.recipient_id).await.unwrap().unwrap().status, RecipientStatus::Bounced);
}
