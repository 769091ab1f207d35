use fanmail_common::aws::{EventBridgeScheduler, ScheduleTarget};
use fanmail_common::ports::{ScheduleSpec, Scheduler, SchedulerError};
use time::macros::datetime;

use crate::support::stack;

async fn scheduler() -> EventBridgeScheduler {
    let (sdk, stack) = stack().await;
    EventBridgeScheduler::new(
        aws_sdk_scheduler::Client::new(&sdk),
        ScheduleTarget {
            group: stack.reference("ScheduleGroup").unwrap().to_string(),
            target_arn: stack.attribute("TriggerFunction", "Arn").unwrap().to_string(),
            role_arn: stack.attribute("SchedulerRole", "Arn").unwrap().to_string(),
            dead_letter_arn: Some(stack.attribute("ScheduleDeadLetterQueue", "Arn").unwrap().to_string()),
        },
    )
}

fn spec(name: &str, hour: u8) -> ScheduleSpec {
    ScheduleSpec {
        name: name.into(),
        at: datetime!(2030-01-02 00:00:00).replace_hour(hour).unwrap(),
        timezone: "Asia/Seoul".into(),
        payload: format!(r#"{{"campaignId":"c1","generation":{hour}}}"#),
    }
}

#[tokio::test]
async fn a_schedule_is_created_read_back_updated_and_deleted() {
    let scheduler = scheduler().await;
    scheduler.create(&spec("campaign-c1", 9)).await.unwrap();
    let state = scheduler.get("campaign-c1").await.unwrap().unwrap();
    assert_eq!(state.spec, spec("campaign-c1", 9));

    scheduler.update(&spec("campaign-c1", 10)).await.unwrap();
    assert_eq!(scheduler.get("campaign-c1").await.unwrap().unwrap().spec, spec("campaign-c1", 10));

    scheduler.delete("campaign-c1").await.unwrap();
    assert!(scheduler.get("campaign-c1").await.unwrap().is_none());
}

#[tokio::test]
async fn duplicates_and_missing_schedules_are_named_errors() {
    let scheduler = scheduler().await;
    scheduler.create(&spec("dup", 9)).await.unwrap();
    assert!(matches!(scheduler.create(&spec("dup", 9)).await, Err(SchedulerError::AlreadyExists(_))));
    assert!(matches!(scheduler.delete("never-made").await, Err(SchedulerError::NotFound(_))));
}
