//! An SES stand-in: a latency per call, a send rate enforced on its side (a call over it is
//! throttled, as SES answers `TooManyRequests`), a rate of transient faults, and a record of
//! every accepted mail by recipient, for counting losses and duplicates afterwards. Like SES
//! with its configuration set, it publishes a `Send` event for each accepted mail, which the
//! recorder turns into the ledger's acceptance record: here it writes that record itself.
//! It can also keep a 24-hour quota, pause the account after some mails (lifting the pause a
//! while later), and answer some accepted mails only after the SDK's timeout.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanmail_common::domain::{accepted_key, CampaignId, RecipientId, ACCEPTED_LIFETIME};
use fanmail_common::ports::{Clock, MailError, Mailer, OutgoingMail, SendQuota};
use fanmail_common::store::{Ledger, MemoryLedger};
use tokio::time::Instant;

use super::crash::{Crash, CrashPoint};
use super::rng::Rng;
use super::SimClock;

pub struct SesSettings {
    /// The rate SES enforces, mails per second.
    pub max_rate: f64,
    /// The rate `GetAccount` reports (above `max_rate` to provoke throttling).
    pub reported_rate: f64,
    pub latency: (Duration, Duration),
    pub transient_error_rate: f64,
    pub seed: u64,
    /// `Max24HourSend` (0: none).
    pub daily_quota: u64,
    /// Pause the account after accepting this many mails (0: never), for `paused_for`.
    pub pause_after: u64,
    pub paused_for: Duration,
    pub slow_reply_rate: f64,
}

pub struct SimSes {
    settings: SesSettings,
    /// Where the recorder keeps SES's `Send` events, and the clock it stamps them with.
    send_events: (MemoryLedger, SimClock),
    state: Mutex<State>,
    started: Instant,
    throttled: AtomicU64,
    transient: AtomicU64,
    refused: AtomicU64,
    slow_replies: AtomicU64,
}

struct State {
    rng: Rng,
    /// Send tokens (one second of the rate at most) and when they were counted.
    tokens: f64,
    counted_at: Instant,
    accepted: HashMap<u128, Acceptances>,
    total_accepted: u64,
    last_accepted_at: Duration,
    paused_at: Option<Instant>,
}

/// The mails one recipient was sent.
#[derive(Debug, Clone, Copy)]
pub struct Acceptances {
    pub count: u32,
    /// When the first was accepted, since the start.
    pub first_at: Duration,
    /// The invocation that sent the first and, for a second mail, the one that sent that.
    pub first_by: u64,
    pub second_by: u64,
}

impl SimSes {
    pub fn new(settings: SesSettings, send_events: (MemoryLedger, SimClock)) -> Self {
        let now = Instant::now();
        let state = State {
            rng: Rng::new(settings.seed),
            tokens: settings.max_rate,
            counted_at: now,
            accepted: HashMap::new(),
            total_accepted: 0,
            last_accepted_at: Duration::ZERO,
            paused_at: None,
        };
        Self {
            settings,
            send_events,
            state: Mutex::new(state),
            started: now,
            throttled: AtomicU64::new(0),
            transient: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            slow_replies: AtomicU64::new(0),
        }
    }

    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    pub fn transient_errors(&self) -> u64 {
        self.transient.load(Ordering::Relaxed)
    }

    /// Sends refused because the account was paused or its daily quota used up.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Accepted mails whose answer came after the SDK's timeout.
    pub fn slow_replies(&self) -> u64 {
        self.slow_replies.load(Ordering::Relaxed)
    }

    /// Whether the account was paused and the pause has been lifted since.
    pub fn reinstated(&self) -> bool {
        self.state.lock().unwrap().paused_at.is_some_and(|at| at.elapsed() >= self.settings.paused_for)
    }

    pub fn total_accepted(&self) -> u64 {
        self.state.lock().unwrap().total_accepted
    }

    pub fn last_accepted_at(&self) -> Duration {
        self.state.lock().unwrap().last_accepted_at
    }

    pub fn take_acceptances(&self) -> HashMap<u128, Acceptances> {
        std::mem::take(&mut self.state.lock().unwrap().accepted)
    }

    /// One SendEmail call from `invocation`.
    async fn send(&self, mail: &OutgoingMail, invocation: u64) -> Result<String, MailError> {
        let recipient = mail
            .tags
            .iter()
            .find(|(name, _)| name == "recipient")
            .and_then(|(_, id)| u128::from_str_radix(id, 16).ok())
            .ok_or_else(|| MailError::Rejected("no recipient tag".into()))?;
        let (latency, verdict, answer_lost) = {
            let mut state = self.state.lock().unwrap();
            let (low, high) = self.settings.latency;
            let latency = low + (high.saturating_sub(low)).mul_f64(state.rng.unit());
            let now = Instant::now();
            let refill = now.duration_since(state.counted_at).as_secs_f64() * self.settings.max_rate;
            state.tokens = (state.tokens + refill).min(self.settings.max_rate);
            state.counted_at = now;
            let paused = state.paused_at.is_some_and(|at| at.elapsed() < self.settings.paused_for);
            let daily_used_up = self.settings.daily_quota > 0 && state.total_accepted >= self.settings.daily_quota;
            let verdict = if paused {
                Err(MailError::AccountBlocked("SendingPausedException: sending is paused for this account".into()))
            } else if daily_used_up {
                Err(MailError::AccountBlocked("LimitExceededException: daily message quota exceeded".into()))
            } else if state.tokens < 1.0 {
                Err(MailError::Throttled)
            } else if state.rng.chance(self.settings.transient_error_rate) {
                Err(MailError::Transient("service unavailable (simulated)".into()))
            } else {
                // Accepted on arrival: a caller that dies while waiting for the answer has still
                // sent the mail.
                state.tokens -= 1.0;
                state.total_accepted += 1;
                if self.settings.pause_after > 0 && state.total_accepted == self.settings.pause_after {
                    state.paused_at = Some(now);
                }
                let at = now.duration_since(self.started);
                state.last_accepted_at = at;
                let entry = state.accepted.entry(recipient).or_insert(Acceptances {
                    count: 0,
                    first_at: at,
                    first_by: invocation,
                    second_by: 0,
                });
                entry.count += 1;
                if entry.count == 2 {
                    entry.second_by = invocation;
                }
                Ok(format!("sim-{:x}-{}", recipient, entry.count))
            };
            let answer_lost = verdict.is_ok() && state.rng.chance(self.settings.slow_reply_rate);
            (latency, verdict, answer_lost)
        };
        if let Ok(ses_message_id) = &verdict {
            self.publish_send_event(mail, ses_message_id).await;
        }
        if answer_lost {
            self.slow_replies.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(self.settings.latency.1 * 3).await;
            return Err(MailError::Unknown("timed out waiting for the answer (simulated)".into()));
        }
        match &verdict {
            Err(MailError::AccountBlocked(_)) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.settings.latency.0).await;
            }
            Err(MailError::Throttled) => {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.settings.latency.0).await;
            }
            Err(_) => {
                self.transient.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(latency).await;
            }
            Ok(_) => tokio::time::sleep(latency).await,
        }
        verdict
    }
}

impl SimSes {
    async fn publish_send_event(&self, mail: &OutgoingMail, ses_message_id: &str) {
        let tag = |name: &str| mail.tags.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let (Some(campaign), Some(recipient)) = (tag("campaign"), tag("recipient")) else { return };
        let (Ok(campaign), Ok(recipient)) = (CampaignId::parse(campaign), RecipientId::parse(recipient)) else {
            return;
        };
        let (ledger, clock) = &self.send_events;
        let key = accepted_key(&campaign, &recipient);
        ledger.record_once(&key, ses_message_id, clock.now(), ACCEPTED_LIFETIME).await.expect("a memory ledger");
    }
}

/// The SES client of one sender instance: its calls are tagged with the instance's invocation,
/// and it may die right after a mail is accepted.
pub struct InstanceMailer {
    pub ses: Arc<SimSes>,
    pub crash: Arc<Crash>,
}

impl Mailer for InstanceMailer {
    async fn send(&self, mail: &OutgoingMail) -> Result<String, MailError> {
        let result = self.ses.send(mail, self.crash.invocation()).await;
        if result.is_ok() {
            self.crash.at(CrashPoint::AfterAccepted).await;
        }
        result
    }

    async fn quota(&self) -> Result<SendQuota, MailError> {
        let daily = match self.ses.settings.daily_quota {
            0 => 50_000_000.0,
            quota => quota as f64,
        };
        Ok(SendQuota {
            max_24_hour_send: daily,
            max_send_rate: self.ses.settings.reported_rate,
            sent_last_24_hours: self.ses.total_accepted() as f64,
        })
    }
}
