use std::future::Future;

use time::PrimitiveDateTime;

#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error("schedule not found: {0}")]
    NotFound(String),
    #[error("schedule already exists: {0}")]
    AlreadyExists(String),
    #[error("scheduler refused the request: {0}")]
    Invalid(String),
    #[error("scheduler throttled the request")]
    Throttled,
    #[error("scheduler unavailable: {0}")]
    Unavailable(String),
}

impl SchedulerError {
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable(_))
    }
}

/// A one-time schedule that delivers `payload` to the trigger function at a wall-clock time in
/// a time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSpec {
    pub name: String,
    /// Local time in `timezone`, to the second.
    pub at: PrimitiveDateTime,
    /// IANA zone name, e.g. `Asia/Seoul` or `UTC`.
    pub timezone: String,
    /// JSON delivered as the trigger's event.
    pub payload: String,
}

/// A schedule as the scheduler reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleState {
    pub spec: ScheduleSpec,
    pub enabled: bool,
}

pub trait Scheduler: Send + Sync {
    fn create(&self, spec: &ScheduleSpec) -> impl Future<Output = Result<(), SchedulerError>> + Send;
    fn update(&self, spec: &ScheduleSpec) -> impl Future<Output = Result<(), SchedulerError>> + Send;
    fn delete(&self, name: &str) -> impl Future<Output = Result<(), SchedulerError>> + Send;
    fn get(&self, name: &str) -> impl Future<Output = Result<Option<ScheduleState>, SchedulerError>> + Send;
}
