//! A queue with the SQS semantics the pipeline relies on: receives of at most ten, a visibility
//! timeout after which an unacknowledged message comes back, deletes that need the latest
//! receipt, delayed sends, redrive to a dead-letter list after `max_receives`, (at a chosen
//! rate) the occasional second delivery SQS's at-least-once promise allows, and fair-queue
//! delivery: messages sent with a group (`MessageGroupId` on a standard queue) are received
//! from the group with the fewest messages in flight first, so a backlog of one group does not
//! hold back another, as AWS describes SQS fair queues.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
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
    /// Visible now, oldest first, by group ("" for messages sent without one).
    ready: BTreeMap<Box<str>, VecDeque<u64>>,
    /// Receives not yet deleted or returned, by group.
    in_flight: HashMap<Box<str>, u64>,
    /// Invisible until the instant: delayed sends and received messages (with the receipt that
    /// made them invisible; a later receive or a delete makes the entry stale).
    hidden: BinaryHeap<Reverse<(Instant, u64, u32)>>,
    dead_letters: Vec<Box<str>>,
    stats: QueueStats,
    rng: Rng,
}

struct Stored {
    body: Box<str>,
    group: Box<str>,
    receives: u32,
    receipt: u32,
    /// Receives in flight (two after a double delivery).
    in_flight: u32,
}

impl State {
    fn make_visible(&mut self, id: u64) {
        let group = self.messages[&id].group.clone();
        self.ready.entry(group).or_default().push_back(id);
    }

    /// The message's receives are over (deleted, or back to visible): they leave the count.
    fn land(&mut self, id: u64) {
        let Some(message) = self.messages.get_mut(&id) else { return };
        let landed = std::mem::take(&mut message.in_flight);
        if let Some(count) = self.in_flight.get_mut(&message.group) {
            *count = count.saturating_sub(u64::from(landed));
        }
    }

    /// The next visible message: from the group with the fewest in flight.
    fn next_ready(&mut self) -> Option<u64> {
        let group = self
            .ready
            .iter()
            .filter(|(_, ids)| !ids.is_empty())
            .min_by_key(|(group, _)| self.in_flight.get(*group).copied().unwrap_or(0))
            .map(|(group, _)| group.clone())?;
        let ids = self.ready.get_mut(&group).expect("present");
        let id = ids.pop_front();
        if ids.is_empty() {
            self.ready.remove(&group);
        }
        id
    }
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
                state.land(id);
                state.make_visible(id);
            }
        }
        let mut batch = Vec::new();
        while batch.len() < max.min(MAX_BATCH) {
            let Some(id) = state.next_ready() else { break };
            let Some(message) = state.messages.get_mut(&id) else { continue };
            if message.receives >= self.max_receives {
                let message = state.messages.remove(&id).expect("present");
                state.dead_letters.push(message.body);
                continue;
            }
            message.receives += 1;
            message.receipt += 1;
            message.in_flight += 1;
            *state.in_flight.entry(message.group.clone()).or_default() += 1;
            let message = &state.messages[&id];
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
                state.make_visible(id);
                state.stats.duplicates_delivered += 1;
            }
        }
        batch
    }

    /// Deletes a message if `receipt` is its latest; an older receipt is ignored, as SQS may.
    pub fn delete(&self, id: u64, receipt: u32) {
        let mut state = self.state.lock().unwrap();
        if state.messages.get(&id).is_some_and(|m| m.receipt == receipt) {
            state.land(id);
            state.messages.remove(&id);
            state.stats.deleted += 1;
        } else {
            state.stats.stale_deletes += 1;
        }
    }

    fn push(&self, state: &mut State, message: &OutgoingMessage) {
        let id = state.next_id;
        state.next_id += 1;
        let group = message.group.as_deref().unwrap_or_default().into();
        state
            .messages
            .insert(id, Stored { body: message.body.as_str().into(), group, receives: 0, receipt: 0, in_flight: 0 });
        match message.delay {
            Some(delay) if !delay.is_zero() => {
                state.hidden.push(Reverse((Instant::now() + delay.div_f64(self.delay_scale), id, 0)));
            }
            _ => state.make_visible(id),
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
                self.push(&mut state, message);
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

    #[tokio::test]
    async fn a_group_with_a_backlog_does_not_hold_back_another() {
        let queue = queue();
        let big: Vec<_> =
            (0..100).map(|i| OutgoingMessage::new(i.to_string(), format!("big-{i}")).in_group("big")).collect();
        queue.send_all(&big).await.unwrap();
        let small: Vec<_> =
            (0..5).map(|i| OutgoingMessage::new(i.to_string(), format!("small-{i}")).in_group("small")).collect();
        queue.send_all(&small).await.unwrap();
        let first = queue.receive(10);
        let smalls = first.iter().filter(|m| m.body.starts_with("small")).count();
        assert_eq!(smalls, 5, "the later group's messages come in the first receive");
        // Once the small group's are handled, its next message goes ahead of the big group's,
        // which still has messages in flight.
        for m in first.iter().filter(|m| m.body.starts_with("small")) {
            queue.delete(m.id, m.receipt);
        }
        queue.send_all(&[OutgoingMessage::new("x", "small-late").in_group("small")]).await.unwrap();
        assert_eq!(queue.receive(1)[0].body, "small-late");
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
