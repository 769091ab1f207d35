//! A queue with the SQS semantics the pipeline relies on: receives of at most ten, a visibility
//! timeout after which an unacknowledged message comes back, deletes that need the latest
//! receipt, delayed sends, redrive to a dead-letter list after `max_receives`, and (at a chosen
//! rate) the occasional second delivery SQS's at-least-once promise allows.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fanmail_common::ports::{OutgoingMessage, Queue, QueueError};
use tokio::time::Instant;

use super::rng::Rng;

/// Most messages one receive returns (SQS's limit, and the event source's batch size).
pub const MAX_BATCH: usize = 10;

#[derive(Clone)]
pub struct SimQueue {
    state: Arc<Mutex<State>>,
    visibility: Duration,
    max_receives: u32,
    duplicate_rate: f64,
    /// Delayed sends wait their delay divided by this (the simulation's time scale).
    delay_scale: f64,
    /// Sends to drop silently (a planted fault, to check that losses are counted).
    to_lose: Arc<AtomicU64>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    messages: HashMap<u64, Stored>,
    /// Visible now, oldest first.
    ready: VecDeque<u64>,
    /// Invisible until the instant: delayed sends and received messages (with the receipt that
    /// made them invisible; a later receive or a delete makes the entry stale).
    hidden: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    dead_letters: Vec<Box<str>>,
    stats: QueueStats,
    rng: Rng,
}

struct Stored {
    body: Box<str>,
    receives: u32,
    receipt: u32,
}

/// One received message.
pub struct Received {
    pub id: u64,
    pub receipt: u32,
    pub receive_count: u32,
    pub body: String,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct QueueStats {
    pub sent: u64,
    pub received: u64,
    /// Receives of a message that had been received before (redeliveries and duplicates).
    pub received_again: u64,
    pub deleted: u64,
    /// Deletes with an outdated receipt, which SQS ignores.
    pub stale_deletes: u64,
    pub duplicates_delivered: u64,
    pub peak_depth: u64,
}

impl SimQueue {
    pub fn new(visibility: Duration, max_receives: u32, duplicate_rate: f64, seed: u64) -> Self {
        Self {
            state: Arc::new(Mutex::new(State { rng: Rng::new(seed), ..State::default() })),
            visibility,
            max_receives,
            duplicate_rate,
            delay_scale: 1.0,
            to_lose: Default::default(),
        }
    }

    /// Runs delayed sends' delays `scale` times faster, like the visibility timeout.
    pub fn delays_sped_up(mut self, scale: f64) -> Self {
        self.delay_scale = scale;
        self
    }

    pub fn losing(self, messages: u64) -> Self {
        self.to_lose.store(messages, Ordering::Relaxed);
        self
    }

    /// Messages not yet deleted (visible, in flight or delayed), not counting dead letters.
    pub fn depth(&self) -> usize {
        self.state.lock().unwrap().messages.len()
    }

    pub fn stats(&self) -> QueueStats {
        self.state.lock().unwrap().stats
    }

    pub fn dead_letters(&self) -> Vec<String> {
        self.state.lock().unwrap().dead_letters.iter().map(|b| b.to_string()).collect()
    }

    pub fn receive(&self, max: usize) -> Vec<Received> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap();
        let state = &mut *state;
        while let Some(Reverse((at, id, receipt))) = state.hidden.peek().copied() {
            if at > now {
                break;
            }
            state.hidden.pop();
            if state.messages.get(&id).is_some_and(|m| m.receipt == receipt) {
                state.ready.push_back(id);
            }
        }
        let mut batch = Vec::new();
        while batch.len() < max.min(MAX_BATCH) {
            let Some(id) = state.ready.pop_front() else { break };
            let Some(message) = state.messages.get_mut(&id) else { continue };
            if message.receives >= self.max_receives {
                let message = state.messages.remove(&id).expect("present");
                state.dead_letters.push(message.body);
                continue;
            }
            message.receives += 1;
            message.receipt += 1;
            state.stats.received += 1;
            if message.receives > 1 {
                state.stats.received_again += 1;
            }
            state.hidden.push(Reverse((now + self.visibility, id, message.receipt)));
            batch.push(Received {
                id,
                receipt: message.receipt,
                receive_count: message.receives,
                body: message.body.to_string(),
            });
            if self.duplicate_rate > 0.0 && state.rng.chance(self.duplicate_rate) {
                // Another consumer gets it too; the first one's delete then holds an old receipt.
                state.ready.push_back(id);
                state.stats.duplicates_delivered += 1;
            }
        }
        batch
    }

    /// Deletes a message if `receipt` is its latest; an older receipt is ignored, as SQS may.
    pub fn delete(&self, id: u64, receipt: u32) {
        let mut state = self.state.lock().unwrap();
        if state.messages.get(&id).is_some_and(|m| m.receipt == receipt) {
            state.messages.remove(&id);
            state.stats.deleted += 1;
        } else {
            state.stats.stale_deletes += 1;
        }
    }

    fn push(&self, state: &mut State, body: &str, delay: Option<Duration>) {
        let id = state.next_id;
        state.next_id += 1;
        state.messages.insert(id, Stored { body: body.into(), receives: 0, receipt: 0 });
        match delay {
            Some(delay) if !delay.is_zero() => {
                state.hidden.push(Reverse((Instant::now() + delay.div_f64(self.delay_scale), id, 0)));
            }
            _ => state.ready.push_back(id),
        }
        state.stats.sent += 1;
        state.stats.peak_depth = state.stats.peak_depth.max(state.messages.len() as u64);
    }
}

impl Queue for SimQueue {
    async fn send_all(&self, messages: &[OutgoingMessage]) -> Result<(), QueueError> {
        if let Some(big) = messages.iter().find(|m| m.body.len() > Self::MAX_BODY_BYTES) {
            return Err(QueueError::TooLarge { id: big.id.clone(), size: big.body.len(), limit: Self::MAX_BODY_BYTES });
        }
        let mut state = self.state.lock().unwrap();
        for message in messages {
            let lose = self.to_lose.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1)).is_ok();
            if !lose {
                self.push(&mut state, &message.body, message.delay);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> SimQueue {
        SimQueue::new(Duration::from_secs(30), 3, 0.0, 1)
    }

    async fn send(queue: &SimQueue, bodies: &[&str]) {
        let messages: Vec<_> =
            bodies.iter().enumerate().map(|(i, b)| OutgoingMessage::new(i.to_string(), *b)).collect();
        queue.send_all(&messages).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn an_unacknowledged_message_returns_after_the_visibility_timeout_then_goes_to_the_dead_letters() {
        let queue = queue();
        send(&queue, &["a"]).await;
        for receive in 1..=3 {
            let batch = queue.receive(10);
            assert_eq!(batch.len(), 1);
            assert_eq!(batch[0].receive_count, receive);
            assert!(queue.receive(10).is_empty(), "invisible while in flight");
            tokio::time::advance(Duration::from_secs(31)).await;
        }
        assert!(queue.receive(10).is_empty());
        assert_eq!(queue.dead_letters(), ["a"]);
        assert_eq!(queue.depth(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn receives_take_at_most_ten_and_a_delete_needs_the_latest_receipt() {
        let queue = queue();
        let bodies: Vec<String> = (0..25).map(|i| i.to_string()).collect();
        send(&queue, &bodies.iter().map(String::as_str).collect::<Vec<_>>()).await;
        let first = queue.receive(100);
        assert_eq!(first.len(), 10);
        tokio::time::advance(Duration::from_secs(31)).await;
        // The first ten come back after the other fifteen.
        let mut all = queue.receive(10);
        assert_eq!(all[0].body, "10");
        all.extend(queue.receive(10));
        all.extend(queue.receive(10));
        assert_eq!(all.iter().filter(|m| m.receive_count == 2).count(), 10);
        // A delete with a message's first receipt is ignored.
        queue.delete(first[0].id, first[0].receipt);
        assert_eq!(queue.depth(), 25);
        for m in &all {
            queue.delete(m.id, m.receipt);
        }
        assert_eq!((queue.depth(), queue.stats().stale_deletes), (0, 1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_delayed_message_is_invisible_until_its_delay_passes() {
        let queue = queue();
        let mut message = OutgoingMessage::new("0", "later");
        message.delay = Some(Duration::from_secs(5));
        queue.send_all(&[message]).await.unwrap();
        assert!(queue.receive(10).is_empty());
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(queue.receive(10)[0].body, "later");
    }
}
