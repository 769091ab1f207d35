use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::ports::{MailError, Mailer, OutgoingMail, SendQuota};

/// Records sent mail. Scripted outcomes (`fail_next`) are consumed first, one per send.
#[derive(Debug, Clone)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<(String, OutgoingMail)>>>,
    script: Arc<Mutex<VecDeque<MailError>>>,
    quota: SendQuota,
    /// Every n-th call is throttled (0: never).
    throttle_every: Arc<AtomicU64>,
    calls: Arc<AtomicU64>,
}

impl Default for MemoryMailer {
    fn default() -> Self {
        Self {
            sent: Arc::default(),
            script: Arc::default(),
            quota: SendQuota { max_24_hour_send: 50_000.0, max_send_rate: 14.0, sent_last_24_hours: 0.0 },
            throttle_every: Arc::new(AtomicU64::new(0)),
            calls: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl MemoryMailer {
    pub fn with_quota(quota: SendQuota) -> Self {
        Self { quota, ..Self::default() }
    }

    /// Throttles every `n`-th call from now on, as SES does over its rate.
    pub fn throttle_every(&self, n: u64) {
        self.throttle_every.store(n, Ordering::Relaxed);
    }

    /// Calls made, sent or not.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub fn fail_next(&self, error: MailError) {
        self.script.lock().unwrap().push_back(error);
    }

    /// (message id, mail) in send order.
    pub fn sent(&self) -> Vec<(String, OutgoingMail)> {
        self.sent.lock().unwrap().clone()
    }
}

impl Mailer for MemoryMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(error) = self.script.lock().unwrap().pop_front() {
            return Err(error);
        }
        let every = self.throttle_every.load(Ordering::Relaxed);
        if every > 0 && call % every == 0 {
            return Err(MailError::Throttled);
        }
        let mut sent = self.sent.lock().unwrap();
        let id = format!("mem-{:08}", sent.len() + 1);
        sent.push((id.clone(), mail.clone()));
        Ok(id)
    }

    async fn quota(&self) -> Result<SendQuota, MailError> {
        let sent = self.sent.lock().unwrap().len() as f64;
        Ok(SendQuota { sent_last_24_hours: self.quota.sent_last_24_hours + sent, ..self.quota })
    }
}
