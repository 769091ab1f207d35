use aws_sdk_scheduler::types::{
    ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, Target,
};
use aws_sdk_scheduler::Client;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::PrimitiveDateTime;

use super::{classify, Fault};
use crate::ports::{ScheduleSpec, ScheduleState, Scheduler, SchedulerError};

const AT_FORMAT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

/// `at(yyyy-mm-ddThh:mm:ss)`, EventBridge Scheduler's one-time expression.
pub fn at_expression(at: PrimitiveDateTime) -> String {
    format!("at({})", at.format(AT_FORMAT).expect("fixed format"))
}

/// Reads an `at(...)` expression back; other expressions (rate, cron) are not fanmail's.
pub fn parse_at_expression(expression: &str) -> Option<PrimitiveDateTime> {
    let inner = expression.strip_prefix("at(")?.strip_suffix(')')?;
    PrimitiveDateTime::parse(inner, AT_FORMAT).ok()
}

/// Where a schedule delivers and how: the trigger function, the role Scheduler assumes to
/// invoke it, and the queue that receives deliveries that failed every retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleTarget {
    pub group: String,
    pub target_arn: String,
    pub role_arn: String,
    pub dead_letter_arn: Option<String>,
}

/// EventBridge Scheduler, one-time schedules in the stack's group.
#[derive(Clone)]
pub struct EventBridgeScheduler {
    client: Client,
    target: ScheduleTarget,
}

/// Scheduler retries a failed delivery this many times before the dead-letter queue.
const RETRY_ATTEMPTS: i32 = 5;
/// ...for at most this long (seconds).
const RETRY_MAX_AGE_SECONDS: i32 = 3600;

impl EventBridgeScheduler {
    pub fn new(client: Client, target: ScheduleTarget) -> Self {
        Self { client, target }
    }

    fn target(&self, payload: &str) -> Result<Target, SchedulerError> {
        let mut target =
            Target::builder().arn(&self.target.target_arn).role_arn(&self.target.role_arn).input(payload).retry_policy(
                RetryPolicy::builder()
                    .maximum_retry_attempts(RETRY_ATTEMPTS)
                    .maximum_event_age_in_seconds(RETRY_MAX_AGE_SECONDS)
                    .build(),
            );
        if let Some(dlq) = &self.target.dead_letter_arn {
            target = target.dead_letter_config(DeadLetterConfig::builder().arn(dlq).build());
        }
        target.build().map_err(|e| SchedulerError::Invalid(e.to_string()))
    }
}

fn off_window() -> FlexibleTimeWindow {
    FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().expect("mode is set")
}

fn to_error<E>(
    err: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    name: &str,
) -> SchedulerError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    match classify(err) {
        Fault::Throttled => SchedulerError::Throttled,
        Fault::Transient(m) => SchedulerError::Unavailable(m),
        Fault::Service { code, .. } if code == "ResourceNotFoundException" => {
            SchedulerError::NotFound(name.to_string())
        }
        Fault::Service { code, .. } if code == "ConflictException" => SchedulerError::AlreadyExists(name.to_string()),
        Fault::Service { code, message } => SchedulerError::Invalid(format!("{code}: {message}")),
    }
}

impl Scheduler for EventBridgeScheduler {
    async fn create(&self, spec: &ScheduleSpec) -> Result<(), SchedulerError> {
        self.client
            .create_schedule()
            .name(&spec.name)
            .group_name(&self.target.group)
            .schedule_expression(at_expression(spec.at))
            .schedule_expression_timezone(&spec.timezone)
            .flexible_time_window(off_window())
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(self.target(&spec.payload)?)
            .send()
            .await
            .map_err(|e| to_error(&e, &spec.name))?;
        Ok(())
    }

    async fn update(&self, spec: &ScheduleSpec) -> Result<(), SchedulerError> {
        self.client
            .update_schedule()
            .name(&spec.name)
            .group_name(&self.target.group)
            .schedule_expression(at_expression(spec.at))
            .schedule_expression_timezone(&spec.timezone)
            .flexible_time_window(off_window())
            .action_after_completion(ActionAfterCompletion::Delete)
            .target(self.target(&spec.payload)?)
            .send()
            .await
            .map_err(|e| to_error(&e, &spec.name))?;
        Ok(())
    }

    async fn delete(&self, name: &str) -> Result<(), SchedulerError> {
        self.client
            .delete_schedule()
            .name(name)
            .group_name(&self.target.group)
            .send()
            .await
            .map_err(|e| to_error(&e, name))?;
        Ok(())
    }

    async fn get(&self, name: &str) -> Result<Option<ScheduleState>, SchedulerError> {
        let out = match self.client.get_schedule().name(name).group_name(&self.target.group).send().await {
            Ok(out) => out,
            Err(e) => {
                return match to_error(&e, name) {
                    SchedulerError::NotFound(_) => Ok(None),
                    other => Err(other),
                }
            }
        };
        let expression = out.schedule_expression().unwrap_or_default();
        let at = parse_at_expression(expression).ok_or_else(|| {
            SchedulerError::Invalid(format!("schedule {name} has expression '{expression}', not at(...)"))
        })?;
        Ok(Some(ScheduleState {
            spec: ScheduleSpec {
                name: name.to_string(),
                at,
                timezone: out.schedule_expression_timezone().unwrap_or("UTC").to_string(),
                payload: out.target().and_then(|t| t.input()).unwrap_or_default().to_string(),
            },
            enabled: out.state().is_none_or(|s| *s == aws_sdk_scheduler::types::ScheduleState::Enabled),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn at_expressions_round_trip() {
        let at = datetime!(2026-12-01 09:30:00);
        assert_eq!(at_expression(at), "at(2026-12-01T09:30:00)");
        assert_eq!(parse_at_expression("at(2026-12-01T09:30:00)"), Some(at));
        assert_eq!(parse_at_expression("rate(5 minutes)"), None);
    }
}
