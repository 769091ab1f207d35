use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use crate::ports::{OutgoingMessage, Queue, QueueError};

/// Records what was sent. Bodies listed in `refuse` are refused, as SQS refuses entries of a
/// batch, so callers' handling of partial failures can be tested.
#[derive(Debug, Default, Clone)]
pub struct MemoryQueue {
    sent: Arc<Mutex<Vec<OutgoingMessage>>>,
    refuse: Arc<Mutex<HashSet<String>>>,
}

impl MemoryQueue {
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.sent.lock().unwrap().clone()
    }

    pub fn refuse_body(&self, body: impl Into<String>) {
        self.refuse.lock().unwrap().insert(body.into());
    }
}

impl Queue for MemoryQueue {
    async fn send_all(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        if let Some(big) = messages.iter().find(|m| m.body.len() > Self::MAX_BODY_BYTES) {
            return Err(QueueError::TooLarge { id: big.id.clone(), size: big.body.len(), limit: Self::MAX_BODY_BYTES });
        }
        let refuse = self.refuse.lock().unwrap().clone();
        let (refused, accepted): (Vec<_>, Vec<_>) = messages.iter().cloned().partition(|m| refuse.contains(&m.body));
        self.sent.lock().unwrap().extend(accepted);
        if refused.is_empty() {
            Ok(())
        } else {
            Err(QueueError::Partial {
                failed_ids: refused.into_iter().map(|m| m.id).collect(),
                reason: "refused".into(),
            })
        }
    }
}
