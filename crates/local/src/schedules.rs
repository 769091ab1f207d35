//! Plays EventBridge Scheduler, which the local endpoint stores but never fires: every second
//! it reads the schedules of the stack's group, and at each one's time (its `at(...)` in its
//! time zone) invokes the trigger with the schedule's input, as Scheduler would. A schedule is
//! deleted after its delivery (`ActionAfterCompletion: DELETE`); a delivery that keeps failing
//! is retried, then sent to the target's dead-letter queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Result};
use fanmail_common::aws::parse_at_expression;
use fanmail_common::domain::zoned_to_utc;
use fanmail_common::ports::Clock;
use fanmail_common::system::SystemClock;
use time::OffsetDateTime;

use crate::functions::Functions;

/// Deliveries tried before a schedule's input goes to its dead-letter queue.
const ATTEMPTS: u32 = 3;

pub struct ScheduleClock {
    pub scheduler: aws_sdk_scheduler::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub group: String,
    /// Queue ARN to URL, for dead-letter delivery.
    pub queue_urls: HashMap<String, String>,
    failures: HashMap<String, u32>,
}

impl ScheduleClock {
    pub fn new(
        scheduler: aws_sdk_scheduler::Client,
        sqs: aws_sdk_sqs::Client,
        group: String,
        queue_urls: HashMap<String, String>,
    ) -> Self {
        Self { scheduler, sqs, group, queue_urls, failures: HashMap::new() }
    }

    /// Fires every schedule due at `now`; returns the names fired.
    pub async fn tick(&mut self, functions: &Functions, now: OffsetDateTime) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self.scheduler.list_schedules().group_name(&self.group).into_paginator().send();
        while let Some(page) = pages.next().await {
            names.extend(page?.schedules().iter().filter_map(|s| s.name().map(str::to_string)));
        }
        let mut fired = Vec::new();
        for name in names {
            let schedule = self.scheduler.get_schedule().group_name(&self.group).name(&name).send().await?;
            let expression = schedule.schedule_expression().unwrap_or_default();
            let Some(local) = parse_at_expression(expression) else {
                tracing::warn!(schedule = %name, expression, "only one-time at(...) schedules are played locally");
                continue;
            };
            let zone = schedule.schedule_expression_timezone().unwrap_or("UTC");
            let due = zoned_to_utc(local, zone).map_err(|e| anyhow!("schedule {name}: {e}"))?;
            if due > now {
                continue;
            }
            let target = schedule.target().ok_or_else(|| anyhow!("schedule {name} has no target"))?;
            let input = target.input().unwrap_or("{}");
            let payload: serde_json::Value =
                serde_json::from_str(input).unwrap_or(serde_json::Value::String(input.to_string()));
            match functions.scheduled(payload).await {
                Ok(result) => tracing::info!(schedule = %name, result = %result, "schedule fired"),
                Err(e) => {
                    let failures = self.failures.entry(name.clone()).or_default();
                    *failures += 1;
                    tracing::warn!(schedule = %name, attempt = *failures, error = %e, "schedule delivery failed");
                    if *failures < ATTEMPTS {
                        continue;
                    }
                    if let Some(url) =
                        target.dead_letter_config().and_then(|d| d.arn()).and_then(|arn| self.queue_urls.get(arn))
                    {
                        self.sqs.send_message().queue_url(url).message_body(input).send().await?;
                    }
                }
            }
            self.failures.remove(&name);
            self.scheduler.delete_schedule().group_name(&self.group).name(&name).send().await?;
            fired.push(name);
        }
        Ok(fired)
    }

    /// Ticks every second until the task is dropped.
    pub async fn run(mut self, functions: Arc<Functions>) {
        loop {
            if let Err(e) = self.tick(&functions, SystemClock.now()).await {
                tracing::warn!(error = %e, "schedule clock tick failed");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
