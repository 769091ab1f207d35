//! Requeue jobs: a resume's parked recipients and a retry's failed ones, a page at a time.

use std::time::Duration;

use fanmail_common::domain::*;
use fanmail_common::ports::Clock;
use fanmail_common::store::{CampaignReader, CampaignStore, RecipientStore};
use fanmail_common::wiring::{MemoryAdapters, MemoryPorts};
use time::macros::datetime;

use crate::tests::{campaign_id, context_with_time_left, event, stored_campaign};
use crate::{handler, Deps, DEADLINE_MARGIN, SECOND_LOOK_DELAY};

type MemDeps = Deps<MemoryPorts>;

/// Campaign `c1` in `status`, with recipients `r<n>` in the given states.
async fn campaign_with(status: CampaignStatus, recipients: &[(u64, RecipientStatus, bool)]) -> MemDeps {
    let deps = Deps::memory(&MemoryAdapters::at(datetime!(2026-11-23 09:00 UTC)));
    let at = deps.clock.now();
    deps.campaigns.create(&Campaign { status, ..stored_campaign(at) }).await.unwrap();
    let mut failed = 0;
    for (n, state, retryable) in recipients {
        let job = RecipientJob {
            campaign_id: campaign_id(),
            recipient_id: RecipientId::parse(format!("r{n:05}")).unwrap(),
            address: EmailAddress::parse(&format!("u{n}@example.com")).unwrap(),
            vars: Default::default(),
            row: n + 2,
        };
        deps.recipients.claim(&Recipient::from_job(&job, at), at, at).await.unwrap();
        let mut outcome = SendOutcome::new(job.recipient_id.clone(), *state);
        outcome.retryable = *retryable;
        deps.recipients.finish(&campaign_id(), &outcome, at).await.unwrap();
        failed += i64::from(*state == RecipientStatus::Failed);
    }
    deps.campaigns.add_counters(&campaign_id(), &CounterDelta::default().add(Counter::Failed, failed)).await.unwrap();
    deps
}

/// Runs `job` and every continuation it queues (a second look only if `second_look`), each
/// run with `left` before its deadline; returns how many runs it took.
async fn drain(deps: &MemDeps, job: RequeueJob, left: Option<time::Duration>, second_look: bool) -> usize {
    let mut bodies = vec![serde_json::to_string(&job).unwrap()];
    let (mut runs, mut seen) = (0, deps.split_jobs.sent().len());
    while let Some(body) = bodies.pop() {
        let context = left.map(|left| context_with_time_left(deps, left)).unwrap_or_default();
        let response = handler(deps, lambda_runtime::LambdaEvent::new(event(&[body]), context)).await.unwrap();
        assert!(response.batch_item_failures.is_empty(), "every run succeeds");
        runs += 1;
        let sent = deps.split_jobs.sent();
        for message in &sent[seen..] {
            let next: RequeueJob = serde_json::from_str(&message.body).unwrap();
            if !next.second_look || second_look {
                bodies.push(message.body.clone());
            }
        }
        seen = sent.len();
    }
    runs
}

fn requeued_ids(deps: &MemDeps) -> Vec<String> {
    let jobs = deps.recipient_jobs.bulk.sent();
    jobs.iter().map(|m| serde_json::from_str::<RecipientJob>(&m.body).unwrap().recipient_id.to_string()).collect()
}

async fn campaign(deps: &MemDeps) -> Campaign {
    deps.campaigns.get(&campaign_id()).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_retry_requeues_only_transient_failures_and_given_back_recipients() {
    let deps = campaign_with(
        CampaignStatus::Completed,
        &[
            (1, RecipientStatus::Failed, true),
            (2, RecipientStatus::Failed, false),
            (3, RecipientStatus::Sent, false),
            (4, RecipientStatus::Queued, false),
        ],
    )
    .await;
    drain(&deps, RequeueJob::retry_failed(campaign_id()), None, false).await;
    // The released one is queued at once and, once the index shows it queued, again with the
    // given-back one: its claim makes the second harmless.
    assert_eq!(requeued_ids(&deps), ["r00001", "r00001", "r00004"]);
    let after = campaign(&deps).await;
    assert_eq!((after.status, after.counters.failed), (CampaignStatus::Sending, 1), "reopened, one released");
    let progress = after.requeue.expect("progress shown");
    assert_eq!(
        (progress.kind, progress.released, progress.requeued, progress.finished),
        (RequeueKind::RetryFailed, 1, 3, true)
    );

    // A repeated retry re-queues the still-queued ones again, which their claims make
    // harmless, and lowers nothing twice.
    drain(&deps, RequeueJob::retry_failed(campaign_id()), None, false).await;
    assert_eq!(requeued_ids(&deps).len(), 5);
    assert_eq!(campaign(&deps).await.counters.failed, 1, "lowered once");
}

#[tokio::test]
async fn a_retry_of_more_failed_recipients_than_one_run_has_time_for_releases_each_once() {
    let failed: Vec<(u64, RecipientStatus, bool)> = (0..2_345).map(|n| (n, RecipientStatus::Failed, true)).collect();
    let deps = campaign_with(CampaignStatus::Sending, &failed).await;
    let short = time::Duration::seconds(DEADLINE_MARGIN.as_secs() as i64 / 2);
    let runs = drain(&deps, RequeueJob::retry_failed(campaign_id()), Some(short), false).await;
    // One page a run near its deadline: 24 release pages of 100, then three queued pages of
    // 1,000 (each released one queued at once and again by the queued step).
    assert_eq!(runs, 24 + 3, "each run stops after a page and hands the rest on");
    let mut requeued = requeued_ids(&deps);
    requeued.sort();
    requeued.dedup();
    assert_eq!(requeued.len(), 2_345, "every one");
    assert_eq!(deps.recipient_jobs.bulk.sent().len(), 2 * 2_345, "twice at most");
    let after = campaign(&deps).await;
    assert_eq!(after.counters.failed, 0);
    assert_eq!(after.requeue.map(|p| (p.released, p.requeued, p.finished)), Some((2_345, 2 * 2_345, true)));
}

#[tokio::test]
async fn a_resume_requeues_the_parked_recipients_and_looks_again_a_minute_later() {
    let deps = campaign_with(
        CampaignStatus::Sending,
        &[(1, RecipientStatus::Paused, false), (2, RecipientStatus::Sent, false)],
    )
    .await;
    drain(&deps, RequeueJob::resume(campaign_id()), None, false).await;
    assert_eq!(requeued_ids(&deps), ["r00001"]);
    assert_eq!(
        campaign(&deps).await.requeue.map(|p| (p.kind, p.requeued, p.finished)),
        Some((RequeueKind::Resume, 1, true))
    );
    let second = deps.split_jobs.sent();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].delay, Some(SECOND_LOOK_DELAY), "a while later");
    assert!(SECOND_LOOK_DELAY >= Duration::from_secs(30));
    // The second look requeues what is parked still (here: the same one, whose claim decides)
    // and hands on nothing more.
    let runs = drain(&deps, serde_json::from_str(&second[0].body).unwrap(), None, false).await;
    assert_eq!((runs, requeued_ids(&deps).len(), deps.split_jobs.sent().len()), (1, 2, 1));
}

#[tokio::test]
async fn a_requeue_stops_when_the_campaign_was_paused_or_cancelled_again() {
    for status in [CampaignStatus::Paused, CampaignStatus::Cancelled] {
        let deps = campaign_with(status, &[(1, RecipientStatus::Paused, false)]).await;
        drain(&deps, RequeueJob::resume(campaign_id()), None, true).await;
        assert!(requeued_ids(&deps).is_empty(), "{status}");
        assert_eq!(campaign(&deps).await.requeue.map(|p| p.finished), Some(true), "{status}");
    }
}
