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
