//! SQS event source handling shared by the queue consumers: each record is decoded and handled
//! on its own and only its own failure is reported back (`ReportBatchItemFailures`), so one bad
//! record never fails the batch.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::de::DeserializeOwned;

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Handled (or deliberately skipped); delete it.
    Done,
    /// Try again later: the record is reported as a batch item failure and redelivered after
    /// its visibility timeout; after the queue's maxReceiveCount it moves to the DLQ.
    Retry(String),
    /// Can never succeed (undecodable body, unknown campaign...): logged as an error and
    /// reported failed, so the queue moves it to its dead-letter queue after maxReceiveCount,
    /// where it is kept for inspection rather than lost.
    Poison(String),
}

/// Decodes a record's JSON body.
pub fn decode<T: DeserializeOwned>(message: &SqsMessage) -> Result<T, String> {
    let body = message.body.as_deref().ok_or("message has no body")?;
    serde_json::from_str(body).map_err(|e| format!("body is not valid: {e}"))
}

/// Runs `handle` on every record, in order, and builds the partial batch response.
pub async fn process<F, Fut>(event: SqsEvent, mut handle: F) -> SqsBatchResponse
where
    F: FnMut(SqsMessage) -> Fut,
    Fut: Future<Output = RecordOutcome>,
{
    let mut response = SqsBatchResponse::default();
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        match handle(message).await {
            RecordOutcome::Done => {}
            RecordOutcome::Retry(reason) => {
                tracing::warn!(message_id = %id, reason = %reason, "record will be retried");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
            RecordOutcome::Poison(reason) => {
                tracing::error!(message_id = %id, reason = %reason, "poison record; it will go to the dead-letter queue");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(bodies: &[&str]) -> SqsEvent {
        let mut event = SqsEvent::default();
        for (i, body) in bodies.iter().enumerate() {
            let mut m = SqsMessage::default();
            m.message_id = Some(format!("m{i}"));
            m.body = Some(body.to_string());
            event.records.push(m);
        }
        event
    }

    #[tokio::test]
    async fn only_failed_records_are_reported_and_successes_are_not() {
        let response = process(event(&["ok", "retry", "poison"]), |m| async move {
            match m.body.as_deref() {
                Some("retry") => RecordOutcome::Retry("busy".into()),
                Some("poison") => RecordOutcome::Poison("bad".into()),
                _ => RecordOutcome::Done,
            }
        })
        .await;
        let ids: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(ids, ["m1", "m2"]);
    }

    #[test]
    fn decode_names_the_problem() {
        let e = event(&["{\"a\":"]);
        let err = decode::<serde_json::Value>(&e.records[0]).unwrap_err();
        assert!(err.starts_with("body is not valid"), "{err}");
    }
}
