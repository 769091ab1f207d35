//! Each store's contract (`fanmail_common::store::<table>::contract`) run against its DynamoDB
//! adapter: the real SDK on the local endpoint. The unit tests run the same contracts against
//! the in-memory adapters, so both give the same answers, conditional writes included.

use fanmail_common::store::{
    campaigns, ledger, recipients, result_log, send_log, suppressions, templates, DynamoCampaignStore, DynamoLedger,
    DynamoRecipientStore, DynamoResultLog, DynamoSendLog, DynamoSuppressionStore, DynamoTemplateStore,
};

use crate::support::stack;

async fn dynamo() -> (aws_sdk_dynamodb::Client, fanmail_local::provision::Stack) {
    let (sdk, stack) = stack().await;
    (aws_sdk_dynamodb::Client::new(&sdk), stack)
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
