//! The CI-sized pipeline simulation (`make scale` runs the full one): 20,000 rows through the
//! real splitter and sender handlers, with crashes at every point of the send path, SES
//! throttling, transient faults and answers lost to the SDK's timeout, DynamoDB throttling of
//! claims and outcome writes, and duplicate deliveries from the queue; then the sandbox's rate,
//! a used-up daily quota, and an account SES pauses mid-campaign. Asserts correctness only;
//! timings are `make scale`'s business.

use fanmail_bench::scale::{simulate, Settings};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_throttling_and_faults_lose_nobody_and_mail_nobody_twice() {
    let report = simulate(Settings::ci()).await.unwrap();
    let summary = serde_json::to_string_pretty(&report).unwrap();
    assert!(report.completed, "{summary}");
    assert_eq!(report.lost, 0, "{summary}");
    assert_eq!(report.duplicated_outside_crash_window, 0, "{summary}");
    // A sender that died after SES accepted a mail: the recipient's next sender finds SES's
    // record of it and does not mail again.
    assert_eq!(report.duplicated_in_crash_window, 0, "{summary}");
    assert_eq!(report.suppressed_but_mailed, 0, "{summary}");
    assert!(report.counters_add_up, "{summary}");
    assert!(report.correct());
    assert_eq!(report.recipients_sent + report.recipients_failed + report.recipients_skipped, report.valid_unique);
    assert!(report.recipients_skipped > 0, "suppressed addresses are skipped: {summary}");

    // The faults did happen, so the counts above mean something.
    for point in ["before_claim", "after_claim", "after_ses_accepted"] {
        assert!(report.crashes.get(point).is_some_and(|n| *n > 0), "no crash {point}: {summary}");
    }
    assert!(report.throttled_calls > 0, "{summary}");
    assert!(report.transient_errors > 0, "{summary}");
    assert!(report.slow_replies > 0, "SES answered after the SDK's timeout: {summary}");
    assert!(report.store_throttled > 0, "DynamoDB refused claims and outcome writes: {summary}");
    assert!(report.duplicate_deliveries > 0, "{summary}");
    assert!(report.redelivered_messages > 0, "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_the_queue_drops_is_counted_lost() {
    let settings = Settings { rows: 2000, lose_messages: 3, crash_rate: 0.0, ..Settings::ci() };
    let report = simulate(settings).await.unwrap();
    assert_eq!(report.lost, 3);
    assert!(!report.completed);
    assert!(!report.correct());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_sandbox_rate_every_invocation_ends_before_its_timeout_and_everyone_is_mailed_once() {
    // A new SES account (1 mail/s) shared by the template's default five senders: 0.2/s each,
    // so a batch of ten would need 45 s of a 30 s invocation.
    let settings = Settings {
        rows: 20,
        quota: 1.0,
        reported_quota: 1.0,
        concurrency: 5,
        transient_error_rate: 0.0,
        crash_rate: 0.0,
        duplicate_delivery_rate: 0.0,
        time_scale: 1.0,
        suppress_every: 0,
        max_wall_seconds: 240.0,
        ..Settings::ci()
    };
    let report = simulate(settings).await.unwrap();
    let summary = serde_json::to_string_pretty(&report).unwrap();
    assert!(report.completed, "{summary}");
    assert_eq!((report.lost, report.duplicated_outside_crash_window), (0, 0), "{summary}");
    assert_eq!(report.crashes.get("timed_out"), None, "no invocation ran into its timeout: {summary}");
    assert!(report.correct(), "{summary}");
}

/// A quiet run: no crash, fault or double delivery, so what happens is the scenario's doing.
fn quiet(rows: u64, quota: f64, concurrency: u32) -> Settings {
    Settings {
        rows,
        quota,
        reported_quota: quota,
        concurrency,
        transient_error_rate: 0.0,
        crash_rate: 0.0,
        duplicate_delivery_rate: 0.0,
        store_throttle_every: 0,
        slow_reply_rate: 0.0,
        suppress_every: 0,
        max_wall_seconds: 120.0,
        ..Settings::ci()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_up_daily_quota_pauses_the_campaign_with_the_reason_and_parks_the_rest() {
    let settings = Settings { daily_quota: 20, ..quiet(60, 50.0, 2) };
    let report = simulate(settings).await.unwrap();
    let summary = serde_json::to_string_pretty(&report).unwrap();
    assert!(report.paused_with_reason && !report.stuck, "{summary}");
    assert!(report.status_reason.as_deref().is_some_and(|r| r.contains("daily message quota")), "{summary}");
    assert_eq!(report.mails_accepted, 20, "the quota is respected: {summary}");
    assert_eq!((report.recipients_sent, report.recipients_parked), (20, report.valid_unique - 20), "{summary}");
    assert_eq!((report.lost, report.duplicated_outside_crash_window), (0, 0), "{summary}");
    assert!(report.counters_add_up && report.correct(), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_paused_mid_campaign_pauses_it_and_the_resume_mails_everyone_else_once() {
    let settings = Settings { pause_after: 150, reinstate_after_seconds: 2.0, ..quiet(600, 200.0, 3) };
    let report = simulate(settings).await.unwrap();
    let summary = serde_json::to_string_pretty(&report).unwrap();
    assert!(report.refused_sends > 0, "SES refused sends while paused: {summary}");
    assert_eq!(report.resumed, 1, "{summary}");
    assert!(report.completed, "{summary}");
    assert_eq!(report.recipients_sent, report.valid_unique, "{summary}");
    assert_eq!((report.lost, report.duplicated_outside_crash_window), (0, 0), "{summary}");
    assert!(report.correct(), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_campaign_started_during_a_large_one_goes_through_beside_it_not_behind_it() {
    let settings = Settings { second_rows: 300, second_after_seconds: 2.0, ..quiet(20_000, 1000.0, 4) };
    let report = simulate(settings).await.unwrap();
    let summary = serde_json::to_string_pretty(&report).unwrap();
    let second = report.second_campaign.clone().unwrap();
    assert!(report.completed && second.completed, "{summary}");
    assert_eq!((second.sent, second.lost, second.duplicated), (second.recipients, 0, 0), "{summary}");
    // Behind the large one's backlog it would complete after nearly all of it was sent.
    assert!(
        second.first_campaign_sent_by_then < report.valid_unique / 2,
        "the small campaign waited for the large one: {summary}"
    );
    assert!(report.correct(), "{summary}");
}
