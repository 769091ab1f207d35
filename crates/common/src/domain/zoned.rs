//! Wall-clock times in IANA time zones (`Asia/Seoul`), as EventBridge Scheduler reads them.

use std::str::FromStr;

use chrono::{NaiveDate, TimeZone};
use time::{OffsetDateTime, PrimitiveDateTime};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error("'{0}' is not an IANA time zone (for example Asia/Seoul or UTC)")]
    UnknownZone(String),
    #[error("{0} does not exist in {1} (skipped by a daylight-saving change)")]
    NonexistentTime(PrimitiveDateTime, String),
    #[error("{0} in {1} falls outside the years 0001 to 9999")]
    OutOfRange(PrimitiveDateTime, String),
}

/// The instant a local wall-clock time in `zone` names. An ambiguous time (clocks turned back)
/// resolves to its earlier instant, as EventBridge Scheduler does.
pub fn zoned_to_utc(local: PrimitiveDateTime, zone: &str) -> Result<OffsetDateTime, ZoneError> {
    let tz = chrono_tz::Tz::from_str(zone).map_err(|_| ZoneError::UnknownZone(zone.to_string()))?;
    let naive = NaiveDate::from_ymd_opt(local.year(), u8::from(local.month()).into(), local.day().into())
        .and_then(|d| d.and_hms_opt(local.hour().into(), local.minute().into(), local.second().into()))
        .expect("a valid PrimitiveDateTime is a valid NaiveDateTime");
    let zoned =
        tz.from_local_datetime(&naive).earliest().ok_or_else(|| ZoneError::NonexistentTime(local, zone.to_string()))?;
    OffsetDateTime::from_unix_timestamp(zoned.timestamp()).map_err(|_| ZoneError::OutOfRange(local, zone.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn converts_local_times_in_named_zones() {
        assert_eq!(zoned_to_utc(datetime!(2026-12-01 09:00), "Asia/Seoul").unwrap(), datetime!(2026-12-01 00:00 UTC));
        assert_eq!(zoned_to_utc(datetime!(2026-12-01 09:00), "UTC").unwrap(), datetime!(2026-12-01 09:00 UTC));
        assert_eq!(zoned_to_utc(datetime!(2026-07-01 12:00), "Europe/Paris").unwrap(), datetime!(2026-07-01 10:00 UTC));
        assert!(matches!(
            zoned_to_utc(datetime!(2026-03-29 02:30), "Europe/Paris"),
            Err(ZoneError::NonexistentTime(..))
        ));
        assert!(matches!(zoned_to_utc(datetime!(2026-01-01 00:00), "Mars/Olympus"), Err(ZoneError::UnknownZone(_))));
        // West of UTC, the last minute of 9999 is already year 10000 in UTC.
        assert!(matches!(
            zoned_to_utc(datetime!(9999-12-31 23:59), "America/Los_Angeles"),
            Err(ZoneError::OutOfRange(..))
        ));
    }
}
