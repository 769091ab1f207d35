//! What happened to a mail after SES accepted it, and the sender-reputation rules fanmail
//! applies to those results.

use super::{CampaignCounters, Counter, RecipientStatus};

/// One delivery result of a sent recipient, as the recorder (or the unsubscribe route) reports
/// it. Each result counts once per recipient and campaign, however often its event arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryResult {
    Delivered,
    /// A permanent bounce: the address does not take mail.
    HardBounce,
    /// A transient or undetermined bounce: mailbox full, message too large, ...
    SoftBounce,
    Complaint,
    Open,
    Click,
    Unsubscribed,
}

impl DeliveryResult {
    /// The campaign counter the result adds one to.
    pub fn counter(self) -> Counter {
        match self {
            Self::Delivered => Counter::Delivered,
            Self::HardBounce => Counter::Bounced,
            Self::SoftBounce => Counter::SoftBounced,
            Self::Complaint => Counter::Complained,
            Self::Open => Counter::Opened,
            Self::Click => Counter::Clicked,
            Self::Unsubscribed => Counter::Unsubscribed,
        }
    }

    /// The status the recipient moves forward to, if the result is one.
    pub fn status(self) -> Option<RecipientStatus> {
        match self {
            Self::Delivered => Some(RecipientStatus::Delivered),
            Self::HardBounce => Some(RecipientStatus::Bounced),
            Self::Complaint => Some(RecipientStatus::Complained),
            Self::SoftBounce | Self::Open | Self::Click | Self::Unsubscribed => None,
        }
    }
}

/// A campaign is paused when its bounce rate reaches this (SES puts an account under review
/// at 5 % and may pause it at 10 %).
pub const PAUSE_BOUNCE_RATE: f64 = 0.05;
/// ... or its complaint rate reaches this (SES reviews at 0.1 %, pauses at 0.5 %).
pub const PAUSE_COMPLAINT_RATE: f64 = 0.001;
/// Rates are judged once this many mails were sent: below it one bounce is noise.
pub const PAUSE_MIN_SENT: u64 = 100;
/// An address with this many soft bounces (from distinct mails) within
/// [`SOFT_BOUNCE_WINDOW`] is suppressed like a hard bounce.
pub const SOFT_BOUNCE_LIMIT: u32 = 3;
pub const SOFT_BOUNCE_WINDOW: time::Duration = time::Duration::days(30);

/// Why a campaign with these counters must be paused, if it must.
pub fn auto_pause_reason(counters: &CampaignCounters) -> Option<String> {
    if counters.sent < PAUSE_MIN_SENT {
        return None;
    }
    let sent = counters.sent as f64;
    let bounce_rate = counters.bounced as f64 / sent;
    let complaint_rate = counters.complained as f64 / sent;
    if complaint_rate >= PAUSE_COMPLAINT_RATE {
        return Some(format!(
            "complaint rate {:.2}% reached the {:.1}% limit ({} of {} sent)",
            complaint_rate * 100.0,
            PAUSE_COMPLAINT_RATE * 100.0,
            counters.complained,
            counters.sent
        ));
    }
    if bounce_rate >= PAUSE_BOUNCE_RATE {
        return Some(format!(
            "bounce rate {:.1}% reached the {:.0}% limit ({} of {} sent)",
            bounce_rate * 100.0,
            PAUSE_BOUNCE_RATE * 100.0,
            counters.bounced,
            counters.sent
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(sent: u64, bounced: u64, complained: u64) -> CampaignCounters {
        CampaignCounters { sent, bounced, complained, ..Default::default() }
    }

    #[test]
    fn pauses_at_the_bounce_or_complaint_limit_once_enough_was_sent() {
        assert_eq!(auto_pause_reason(&counters(1000, 49, 0)), None);
        let reason = auto_pause_reason(&counters(1000, 50, 0)).unwrap();
        assert!(reason.starts_with("bounce rate 5.0%"), "{reason}");
        assert_eq!(auto_pause_reason(&counters(2000, 0, 1)), None);
        let reason = auto_pause_reason(&counters(1000, 0, 1)).unwrap();
        assert!(reason.starts_with("complaint rate 0.10%"), "{reason}");
        assert_eq!(auto_pause_reason(&counters(PAUSE_MIN_SENT - 1, 50, 5)), None, "too few mails to judge");
    }

    #[test]
    fn every_result_names_a_counter_and_only_outcomes_move_the_status() {
        use DeliveryResult::*;
        let all = [Delivered, HardBounce, SoftBounce, Complaint, Open, Click, Unsubscribed];
        let counters: std::collections::BTreeSet<Counter> = all.iter().map(|r| r.counter()).collect();
        assert_eq!(counters.len(), all.len(), "each result has a counter of its own");
        assert_eq!(Complaint.status(), Some(RecipientStatus::Complained));
        assert_eq!(Open.status(), None);
    }
}
