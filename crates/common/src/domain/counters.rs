//! A campaign's counters: each named once, as a [`Counter`] with its wire name.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One of a campaign's counters. Its wire name is the attribute it is stored under and the
/// field the API answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Counter {
    Total,
    Queued,
    Sent,
    Failed,
    Skipped,
    Stopped,
    Duplicates,
    RejectedRows,
    Delivered,
    Bounced,
    Complained,
    SoftBounced,
    Opened,
    Clicked,
    Unsubscribed,
}

impl Counter {
    /// Every counter, in the order used for storage and reports.
    pub const ALL: [Counter; 15] = [
        Self::Total,
        Self::Queued,
        Self::Sent,
        Self::Failed,
        Self::Skipped,
        Self::Stopped,
        Self::Duplicates,
        Self::RejectedRows,
        Self::Delivered,
        Self::Bounced,
        Self::Complained,
        Self::SoftBounced,
        Self::Opened,
        Self::Clicked,
        Self::Unsubscribed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Stopped => "stopped",
            Self::Duplicates => "duplicates",
            Self::RejectedRows => "rejected_rows",
            Self::Delivered => "delivered",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
            Self::SoftBounced => "soft_bounced",
            Self::Opened => "opened",
            Self::Clicked => "clicked",
            Self::Unsubscribed => "unsubscribed",
        }
    }
}

impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Per-campaign counters. The splitter, sender and recorder each add to their own fields with
/// atomic increments, so no writer overwrites another. When a campaign is done,
/// `total = sent + failed + skipped + stopped`; `rejected_rows` and `duplicates` count list rows
/// that were not recipients at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CampaignCounters {
    pub total: u64,
    pub queued: u64,
    pub sent: u64,
    pub failed: u64,
    /// Suppressed or unsubscribed addresses that were not mailed.
    pub skipped: u64,
    pub stopped: u64,
    /// Rows repeating an address already in the list (sent once).
    pub duplicates: u64,
    pub rejected_rows: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub complained: u64,
    /// Recipients with a transient (soft) bounce.
    pub soft_bounced: u64,
    pub opened: u64,
    pub clicked: u64,
    /// Recipients who unsubscribed through this campaign's link.
    pub unsubscribed: u64,
}

impl CampaignCounters {
    pub fn get(&self, counter: Counter) -> u64 {
        let mut copy = *self;
        *copy.slot(counter)
    }

    fn slot(&mut self, counter: Counter) -> &mut u64 {
        match counter {
            Counter::Total => &mut self.total,
            Counter::Queued => &mut self.queued,
            Counter::Sent => &mut self.sent,
            Counter::Failed => &mut self.failed,
            Counter::Skipped => &mut self.skipped,
            Counter::Stopped => &mut self.stopped,
            Counter::Duplicates => &mut self.duplicates,
            Counter::RejectedRows => &mut self.rejected_rows,
            Counter::Delivered => &mut self.delivered,
            Counter::Bounced => &mut self.bounced,
            Counter::Complained => &mut self.complained,
            Counter::SoftBounced => &mut self.soft_bounced,
            Counter::Opened => &mut self.opened,
            Counter::Clicked => &mut self.clicked,
            Counter::Unsubscribed => &mut self.unsubscribed,
        }
    }

    /// Adds a delta (as stored: counters never go below zero).
    pub fn apply(&mut self, delta: &CounterDelta) {
        for (counter, by) in &delta.0 {
            let slot = self.slot(*counter);
            *slot = slot.saturating_add_signed(*by);
        }
    }
}

/// Increments to apply to a campaign's counters in one atomic write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CounterDelta(pub BTreeMap<Counter, i64>);

impl CounterDelta {
    pub fn one(counter: Counter) -> Self {
        Self::default().add(counter, 1)
    }

    pub fn add(mut self, counter: Counter, by: i64) -> Self {
        *self.0.entry(counter).or_default() += by;
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.values().all(|v| *v == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_apply_deltas_and_never_go_negative() {
        let mut c = CampaignCounters::default();
        c.apply(&CounterDelta::one(Counter::Sent).add(Counter::Queued, 3));
        c.apply(&CounterDelta::one(Counter::Queued).add(Counter::Queued, -5));
        assert_eq!((c.sent, c.queued), (1, 0));
    }

    #[test]
    fn each_counter_is_its_own_field_under_its_serde_name() {
        let mut c = CampaignCounters::default();
        for (n, counter) in Counter::ALL.into_iter().enumerate() {
            c.apply(&CounterDelta::default().add(counter, n as i64 + 1));
        }
        let json = serde_json::to_value(c).unwrap();
        for (n, counter) in Counter::ALL.into_iter().enumerate() {
            assert_eq!(c.get(counter), n as u64 + 1, "{counter}");
            assert_eq!(json[counter.as_str()], n as u64 + 1, "{counter} is stored as '{counter}'");
        }
        assert_eq!(json.as_object().unwrap().len(), Counter::ALL.len());
    }
}
