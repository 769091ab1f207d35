//! What a simulation run models: list size, quota, senders, latency, faults and crashes.

use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde::Serialize;

use super::*;

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Rows in the generated list (3 % invalid, 2 % duplicates, like `fanmail-bench list`).
    pub rows: u64,
    /// The SES account's send rate, mails per second.
    pub quota: f64,
    /// What the account reports as its rate; above `quota` makes the senders overrun it.
    pub reported_quota: f64,
    pub latency_ms: (u64, u64),
    pub transient_error_rate: f64,
    /// Sender instances (the event source's MaximumConcurrency).
    pub concurrency: u32,
    /// Chance, per invocation and per crash point, that the instance dies there.
    pub crash_rate: f64,
    /// Crashes happen only in this first part of the run (seconds).
    pub crash_for_seconds: f64,
    /// Chance that a received message is also delivered to a second instance.
    pub duplicate_delivery_rate: f64,
    /// DynamoDB refuses every this-many-th claim or outcome write of the senders (0: none).
    pub store_throttle_every: u64,
    /// Speed-up of the visibility timeout and the claim lease.
    pub time_scale: f64,
    pub template_bytes: usize,
    /// Every this-many-th row's address is on the suppression list (0: none).
    pub suppress_every: u64,
    /// Give up after this long (seconds).
    pub max_wall_seconds: f64,
    pub seed: u64,
    /// A planted fault for checking the checker: the queue drops this many recipient messages.
    pub lose_messages: u64,
    /// The account's 24-hour quota (`Max24HourSend`); SES refuses mails beyond it (0: none).
    pub daily_quota: u64,
    /// SES pauses the account after accepting this many mails (0: never)...
    pub pause_after: u64,
    /// ...and lifts the pause this long after (seconds), when the user resumes the campaign.
    pub reinstate_after_seconds: f64,
    /// Chance that SES accepts a mail but its answer comes after the SDK's timeout.
    pub slow_reply_rate: f64,
    /// Rows of a second campaign's list (0: none), started this long after the first (seconds).
    pub second_rows: u64,
    pub second_after_seconds: f64,
}

impl Settings {
    /// The target run: a million rows at a 3,500/s quota.
    pub fn target() -> Self {
        Self {
            rows: 1_000_000,
            quota: 3500.0,
            reported_quota: 3500.0,
            latency_ms: (50, 100),
            transient_error_rate: 0.001,
            concurrency: 50,
            crash_rate: 0.0005,
            crash_for_seconds: 60.0,
            duplicate_delivery_rate: 0.0001,
            store_throttle_every: 0,
            time_scale: 1.0,
            template_bytes: 100_000,
            suppress_every: 1000,
            max_wall_seconds: 900.0,
            seed: 7,
            lose_messages: 0,
            daily_quota: 0,
            pause_after: 0,
            reinstate_after_seconds: 5.0,
            slow_reply_rate: 0.0,
            second_rows: 0,
            second_after_seconds: 60.0,
        }
    }

    /// The CI-sized run `make test` checks: small, fast timers, many faults.
    pub fn ci() -> Self {
        Self {
            rows: 20_000,
            quota: 1500.0,
            // The senders believe in a higher rate than SES allows: they get throttled.
            reported_quota: 3000.0,
            latency_ms: (5, 15),
            transient_error_rate: 0.005,
            concurrency: 12,
            crash_rate: 0.02,
            crash_for_seconds: 8.0,
            duplicate_delivery_rate: 0.005,
            store_throttle_every: 199,
            time_scale: 60.0,
            template_bytes: 5_000,
            suppress_every: 250,
            max_wall_seconds: 240.0,
            seed: 11,
            lose_messages: 0,
            daily_quota: 0,
            pause_after: 0,
            reinstate_after_seconds: 2.0,
            slow_reply_rate: 0.002,
            second_rows: 0,
            second_after_seconds: 2.0,
        }
    }

    /// Reads `--name value` flags over these settings.
    pub fn parse_flags(mut self, args: &[String]) -> Result<Self> {
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let value = args.next().with_context(|| format!("{flag} needs a value"))?;
            let number = || value.parse::<f64>().with_context(|| format!("{flag}: not a number: {value}"));
            match flag.as_str() {
                "--rows" => self.rows = number()? as u64,
                "--quota" => {
                    self.quota = number()?;
                    self.reported_quota = self.quota;
                }
                "--reported-quota" => self.reported_quota = number()?,
                "--latency-ms" => {
                    let (low, high) = value.split_once('-').context("--latency-ms: LOW-HIGH")?;
                    self.latency_ms = (low.parse()?, high.parse()?);
                }
                "--error-rate" => self.transient_error_rate = number()?,
                "--concurrency" => self.concurrency = number()? as u32,
                "--crash-rate" => self.crash_rate = number()?,
                "--crash-for" => self.crash_for_seconds = number()?,
                "--duplicate-rate" => self.duplicate_delivery_rate = number()?,
                "--store-throttle-every" => self.store_throttle_every = number()? as u64,
                "--time-scale" => self.time_scale = number()?,
                "--template-bytes" => self.template_bytes = number()? as usize,
                "--suppress-every" => self.suppress_every = number()? as u64,
                "--max-wall" => self.max_wall_seconds = number()?,
                "--seed" => self.seed = number()? as u64,
                "--daily-quota" => self.daily_quota = number()? as u64,
                "--pause-after" => self.pause_after = number()? as u64,
                "--reinstate-after" => self.reinstate_after_seconds = number()?,
                "--slow-reply-rate" => self.slow_reply_rate = number()?,
                "--second-rows" => self.second_rows = number()? as u64,
                "--second-after" => self.second_after_seconds = number()?,
                other => bail!("unknown flag {other}"),
            }
        }
        if self.quota <= 0.0 || self.concurrency == 0 || self.time_scale <= 0.0 {
            bail!("quota, concurrency and time scale must be above 0");
        }
        Ok(self)
    }

    pub(super) fn visibility(&self) -> Duration {
        VISIBILITY_TIMEOUT.div_f64(self.time_scale)
    }
}
