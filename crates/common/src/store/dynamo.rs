//! Helpers every DynamoDB store shares: attribute values, serde items, errors, cursors, reads.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use crate::aws::{classify, Fault};
use crate::store::{Page, StoreError};

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).expect("every OffsetDateTime formats")
}

pub(crate) fn epoch_ms(at: OffsetDateTime) -> i128 {
    at.unix_timestamp_nanos() / 1_000_000
}

pub(crate) fn fault<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> StoreError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(err) {
        Fault::Throttled => StoreError::Throttled,
        Fault::Transient(m) => StoreError::Unavailable(m),
        Fault::Service { code, message } => StoreError::Unavailable(format!("{code}: {message}")),
    }
}

pub(crate) fn condition_failed<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

/// Opaque page cursor: the last evaluated key as base64url JSON.
pub(crate) fn encode_cursor(key: Option<&Item>) -> Result<Option<String>, StoreError> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    let json: serde_json::Value = from_item(key.clone())?;
    Ok(Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string())))
}

pub(crate) fn decode_cursor(cursor: Option<&str>) -> Result<Option<Item>, StoreError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::BadCursor)?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if !json.is_object() {
        return Err(StoreError::BadCursor);
    }
    serde_dynamo::to_item(json).map(Some).map_err(|_| StoreError::BadCursor)
}

/// A strongly consistent read of one item.
pub(crate) async fn read_item<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    key: Item,
) -> Result<Option<T>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| fault(&e))?;
    out.item.map(from_item).transpose()
}

/// One page of a scan, optionally filtered.
pub(crate) async fn scan_page<T: DeserializeOwned>(
    client: &Client,
    table: &str,
    filter: Option<(&str, &str, AttributeValue)>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<T>, StoreError> {
    let mut request = client
        .scan()
        .table_name(table)
        .limit(limit.clamp(1, 1000) as i32)
        .set_exclusive_start_key(decode_cursor(cursor)?);
    if let Some((expression, placeholder, value)) = filter {
        request = request.filter_expression(expression).expression_attribute_values(placeholder, value);
    }
    let out = request.send().await.map_err(|e| fault(&e))?;
    let items = out.items().iter().cloned().map(from_item).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, next: encode_cursor(out.last_evaluated_key())? })
}

/// One page of a query (key condition, index and order already set on `query`).
pub(crate) async fn query_page<T: DeserializeOwned>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    limit: u32,
    cursor: Option<&str>,
) -> Result<Page<T>, StoreError> {
    let out = query
        .limit(limit.clamp(1, 1000) as i32)
        .set_exclusive_start_key(decode_cursor(cursor)?)
        .send()
        .await
        .map_err(|e| fault(&e))?;
    let items = out.items().iter().cloned().map(from_item).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, next: encode_cursor(out.last_evaluated_key())? })
}

/// BatchGetItem takes at most 100 keys.
pub(crate) const BATCH_GET_MAX: usize = 100;

/// Reads up to 100 keys, retrying the ones DynamoDB leaves unprocessed.
pub(crate) async fn batch_get(client: &Client, table: &str, mut keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut rounds = 0;
    while !keys.is_empty() {
        rounds += 1;
        if rounds > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(25 << rounds.min(6))).await;
        }
        if rounds > 8 {
            return Err(StoreError::Throttled);
        }
        let request =
            KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().expect("keys are set");
        let mut out = client.batch_get_item().request_items(table, request).send().await.map_err(|e| fault(&e))?;
        items.extend(out.responses.as_mut().and_then(|r| r.remove(table)).unwrap_or_default());
        keys = out.unprocessed_keys.as_mut().and_then(|u| u.remove(table)).map(|k| k.keys).unwrap_or_default();
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let key: Item = HashMap::from([("id".to_string(), s("t1")), ("version".to_string(), n(3))]);
        let cursor = encode_cursor(Some(&key)).unwrap().unwrap();
        assert_eq!(decode_cursor(Some(&cursor)).unwrap(), Some(key));
        assert!(matches!(decode_cursor(Some("%%%")), Err(StoreError::BadCursor)));
        assert!(matches!(decode_cursor(Some("WzFd")), Err(StoreError::BadCursor)));
    }
}

/// Why a `TransactWriteItems` call wrote nothing.
#[derive(Debug)]
pub(crate) enum Refused {
    /// These items' conditions failed (by position in the request); nothing else stood in the way.
    Conditions(Vec<usize>),
    /// Throttled, in conflict with another transaction on one of its items, or a fault: nothing
    /// is known of the conditions, and trying again may succeed.
    Failed(StoreError),
}

/// Sends a transaction, reading a cancellation's reasons (one per item, in order): DynamoDB
/// cancels a transaction for a failed condition, and also for a throttled item or a
/// conflicting transaction on one of them (`TransactionConflict`), which say nothing of the
/// conditions and must be retried whole.
///
/// Each call carries a token of its own: the SDK's retry of an attempt whose answer was lost
/// is then taken as the same transaction (DynamoDB answers it as done for ten minutes) instead
/// of being cancelled by the conditions the first attempt already moved on.
pub(crate) async fn transact(
    request: aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder,
) -> Result<(), Refused> {
    let request = request.client_request_token(uuid::Uuid::new_v4().to_string());
    let err = match request.send().await {
        Ok(_) => return Ok(()),
        Err(err) => err,
    };
    let Some(reasons) = err.as_service_error().filter(|se| se.is_transaction_canceled_exception()).and_then(|se| {
        match se {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                cancelled,
            ) => Some(cancelled.cancellation_reasons().to_vec()),
            _ => None,
        }
    }) else {
        return Err(Refused::Failed(fault(&err)));
    };
    let code = |r: &aws_sdk_dynamodb::types::CancellationReason| r.code().unwrap_or("None").to_string();
    let failed: Vec<usize> =
        reasons.iter().enumerate().filter(|(_, r)| code(r) == "ConditionalCheckFailed").map(|(i, _)| i).collect();
    let other = reasons.iter().map(code).find(|c| c != "None" && c != "ConditionalCheckFailed");
    match other.as_deref() {
        Some("ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded") => {
            Err(Refused::Failed(StoreError::Throttled))
        }
        Some("TransactionConflict") => Err(Refused::Failed(StoreError::Unavailable("transaction conflict".into()))),
        // ItemCollectionSizeLimitExceeded, ValidationError: the same request fails again.
        Some(c) => Err(Refused::Failed(StoreError::Refused(format!("transaction cancelled: {c}")))),
        None if failed.is_empty() => Err(Refused::Failed(fault(&err))),
        None => Err(Refused::Conditions(failed)),
    }
}
