use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;
use futures::stream::{self, StreamExt};

use super::{classify, Fault};
use crate::ports::{OutgoingMessage, Queue, QueueError};

/// SQS accepts at most ten entries per `SendMessageBatch`.
const BATCH: usize = 10;
/// Batches in flight at once.
const IN_FLIGHT: usize = 4;
/// Tries per batch before its still-failing entries are reported to the caller.
const ATTEMPTS: u32 = 5;

/// SQS refuses a `SendMessageBatch` whose bodies together exceed the queue's maximum message
/// size: 256 KiB for a queue at the long-standing default (1 MiB where it is raised).
const BATCH_BYTES: usize = 256 * 1024;

/// The messages cut into batches SQS accepts: at most ten, and at most [`BATCH_BYTES`] of
/// bodies, in order.
fn batches(messages: &[OutgoingMessage]) -> Vec<&[OutgoingMessage]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, message) in messages.iter().enumerate() {
        if i > start && (i - start == BATCH || bytes + message.body.len() > BATCH_BYTES) {
            batches.push(&messages[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += message.body.len();
    }
    if start < messages.len() {
        batches.push(&messages[start..]);
    }
    batches
}

/// One SQS queue.
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends one batch, retrying the entries SQS refused for reasons not their own. Returns the
    /// ids still unsent and the last reason.
    async fn send_batch(&self, batch: &[OutgoingMessage]) -> Result<(), (Vec<String>, String)> {
        let mut pending: Vec<&OutgoingMessage> = batch.iter().collect();
        let mut reason = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
            }
            let entries = pending
                .iter()
                .map(|m| {
                    SendMessageBatchRequestEntry::builder()
                        .id(&m.id)
                        .message_body(&m.body)
                        .set_delay_seconds(m.delay.map(|d| d.as_secs().min(900) as i32))
                        .set_message_group_id(m.group.clone())
                        .build()
                        .expect("id and body are set")
                })
                .collect::<Vec<_>>();
            let output =
                match self.client.send_message_batch().queue_url(&self.url).set_entries(Some(entries)).send().await {
                    Ok(output) => output,
                    Err(e) => match classify(&e) {
                        Fault::Throttled => {
                            reason = "throttled".into();
                            continue;
                        }
                        Fault::Transient(m) => {
                            reason = m;
                            continue;
                        }
                        Fault::Service { code, message } => {
                            return Err((pending.iter().map(|m| m.id.clone()).collect(), format!("{code}: {message}")));
                        }
                    },
                };
            let failed = output.failed();
            if failed.is_empty() {
                return Ok(());
            }
            // An entry refused for its own content (sender fault) will be refused again.
            if let Some(bad) = failed.iter().find(|f| f.sender_fault()) {
                return Err((
                    failed.iter().map(|f| f.id().to_string()).collect(),
                    format!("{}: {}", bad.code(), bad.message().unwrap_or_default()),
                ));
            }
            reason = failed.iter().map(|f| f.code().to_string()).collect::<Vec<_>>().join(", ");
            pending.retain(|m| failed.iter().any(|f| f.id() == m.id));
        }
        Err((pending.iter().map(|m| m.id.clone()).collect(), reason))
    }
}

impl Queue for SqsQueue {
    async fn send_all(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        if let Some(big) = messages.iter().find(|m| m.body.len() > Self::MAX_BODY_BYTES) {
            return Err(QueueError::TooLarge { id: big.id.clone(), size: big.body.len(), limit: Self::MAX_BODY_BYTES });
        }
        let batches: Vec<_> = batches(messages).into_iter().map(|batch| self.send_batch(batch)).collect();
        let results: Vec<_> = stream::iter(batches).buffer_unordered(IN_FLIGHT).collect().await;
        let mut failed_ids = Vec::new();
        let mut reason = String::new();
        for result in results {
            if let Err((ids, why)) = result {
                failed_ids.extend(ids);
                reason = why;
            }
        }
        if failed_ids.is_empty() {
            Ok(())
        } else {
            Err(QueueError::Partial { failed_ids, reason })
        }
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;

    fn sized(n: usize, kib: usize) -> Vec<OutgoingMessage> {
        (0..n).map(|i| OutgoingMessage::new(i.to_string(), "x".repeat(kib * 1024))).collect()
    }

    #[test]
    fn batches_are_cut_at_ten_messages_or_256_kib_whichever_comes_first() {
        let sizes = |messages: &[OutgoingMessage]| batches(messages).iter().map(|b| b.len()).collect::<Vec<_>>();
        assert_eq!(sizes(&sized(25, 1)), [10, 10, 5]);
        // Ten rows of 30 KiB: 300 KiB, over the limit as one batch.
        assert_eq!(sizes(&sized(10, 30)), [8, 2]);
        assert_eq!(sizes(&sized(3, 256)), [1, 1, 1], "a message at the limit goes alone");
        assert!(batches(&[]).is_empty());
        let all = sized(17, 40);
        let cut = batches(&all);
        assert!(cut.iter().all(|b| b.iter().map(|m| m.body.len()).sum::<usize>() <= BATCH_BYTES));
        assert_eq!(cut.iter().map(|b| b.len()).sum::<usize>(), 17, "nothing lost or repeated");
    }
}
