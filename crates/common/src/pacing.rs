//! Send pacing. Every sender instance paces itself to `account rate / maximum concurrency`
//! (the event source's `MaximumConcurrency` caps the instances), so together they stay within
//! the SES account's MaxSendRate without sharing state. A throttle pushes the next slot back.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// A token bucket: `rate` sends a second, bursts of up to `burst`.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    interval: Duration,
    burst: u32,
    /// When the next send may start if the bucket is empty.
    next: Instant,
}

impl Pacer {
    pub fn new(rate_per_second: f64, burst: u32) -> Self {
        Self {
            state: Mutex::new(State { interval: interval(rate_per_second), burst: burst.max(1), next: Instant::now() }),
        }
    }

    pub fn set_rate(&self, rate_per_second: f64) {
        self.state.lock().unwrap().interval = interval(rate_per_second);
    }

    pub fn rate(&self) -> f64 {
        1.0 / self.state.lock().unwrap().interval.as_secs_f64()
    }

    /// Waits for a send slot.
    pub async fn acquire(&self) {
        let slot = self.reserve(None).expect("a slot with no cutoff");
        tokio::time::sleep_until(slot).await;
    }

    /// Waits for a send slot that starts no later than `cutoff`; false at once, taking no
    /// slot, if the next free one starts after it.
    pub async fn acquire_by(&self, cutoff: Instant) -> bool {
        match self.reserve(Some(cutoff)) {
            Some(slot) => {
                tokio::time::sleep_until(slot).await;
                true
            }
            None => false,
        }
    }

    fn reserve(&self, cutoff: Option<Instant>) -> Option<Instant> {
        let mut state = self.state.lock().unwrap();
        let now = Instant::now();
        // Unused slots accumulate up to the burst size, no further.
        let earliest = now.checked_sub(state.interval * (state.burst - 1)).unwrap_or(now);
        let slot = state.next.max(earliest);
        if cutoff.is_some_and(|cutoff| slot > cutoff) {
            return None;
        }
        state.next = slot + state.interval;
        Some(slot)
    }

    /// After a throttle: nothing more for `pause`.
    pub fn back_off(&self, pause: Duration) {
        let mut state = self.state.lock().unwrap();
        state.next = state.next.max(Instant::now() + pause);
    }
}

fn interval(rate_per_second: f64) -> Duration {
    Duration::from_secs_f64(1.0 / rate_per_second.clamp(0.01, 1_000_000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sends_are_spaced_at_the_rate_after_the_burst() {
        let pacer = Pacer::new(10.0, 2);
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            pacer.acquire().await;
            at.push((Instant::now() - start).as_millis());
        }
        assert_eq!(at, [0, 100, 200, 300, 400]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_pacer_allows_a_burst_then_paces() {
        let pacer = Pacer::new(10.0, 3);
        tokio::time::advance(Duration::from_secs(5)).await;
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..5 {
            pacer.acquire().await;
            at.push((Instant::now() - start).as_millis());
        }
        assert_eq!(at, [0, 0, 0, 100, 200]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_past_the_cutoff_is_refused_at_once_and_not_taken() {
        let pacer = Pacer::new(1.0, 1);
        let start = Instant::now();
        let cutoff = start + Duration::from_millis(2500);
        let mut granted = Vec::new();
        while pacer.acquire_by(cutoff).await {
            granted.push((Instant::now() - start).as_millis());
        }
        assert_eq!(granted, [0, 1000, 2000]);
        assert_eq!(Instant::now() - start, Duration::from_secs(2), "the refusal did not wait");
        // The refused slot is still free for a later cutoff.
        assert!(pacer.acquire_by(start + Duration::from_secs(10)).await);
        assert_eq!((Instant::now() - start).as_millis(), 3000);
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_pushes_the_next_send_back() {
        let pacer = Pacer::new(100.0, 1);
        pacer.acquire().await;
        let start = Instant::now();
        pacer.back_off(Duration::from_secs(1));
        pacer.acquire().await;
        assert!(Instant::now() - start >= Duration::from_secs(1));
        pacer.set_rate(4.0);
        assert_eq!(pacer.rate(), 4.0);
    }
}
