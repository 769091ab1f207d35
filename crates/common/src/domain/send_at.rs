//! When a scheduled campaign is due: RFC 3339 with an offset (`2026-12-01T09:00:00+09:00`), or
//! a local time with an IANA zone (`2026-12-01T09:00` and `Asia/Seoul`).

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use super::zoned::zoned_to_utc;

/// The earliest a schedule may be set ahead of now (EventBridge needs a moment to arm it).
pub const MIN_LEAD: Duration = Duration::seconds(2);
/// The furthest ahead a send may be scheduled.
pub const MAX_LEAD: Duration = Duration::days(366);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendAtError {
    #[error("'{0}' is neither RFC 3339 with an offset nor a local time (YYYY-MM-DDTHH:MM[:SS]) with a 'timezone'")]
    Unreadable(String),
    #[error("'sendAt' has an offset; leave out 'timezone' or give the local time without one")]
    OffsetAndZone,
    #[error(transparent)]
    Zone(#[from] super::zoned::ZoneError),
    #[error("'sendAt' is in the past (or less than {} seconds ahead)", MIN_LEAD.whole_seconds())]
    InThePast,
    #[error("'sendAt' is more than {} days ahead", MAX_LEAD.whole_days())]
    TooFarAhead,
}

/// A validated send time: the instant, and the wall-clock time and zone a schedule fires at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAt {
    pub instant: OffsetDateTime,
    pub local: PrimitiveDateTime,
    pub zone: String,
}

impl SendAt {
    pub fn parse(send_at: &str, timezone: Option<&str>, now: OffsetDateTime) -> Result<Self, SendAtError> {
        let text = send_at.trim();
        let parsed = match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(at) => {
                if timezone.is_some() {
                    return Err(SendAtError::OffsetAndZone);
                }
                // Past the year 9999 in UTC (a late time with a negative offset) is too far ahead.
                let utc = at.checked_to_offset(UtcOffset::UTC).ok_or(SendAtError::TooFarAhead)?;
                let utc = utc.replace_nanosecond(0).expect("0 is a valid nanosecond");
                Self { instant: utc, local: PrimitiveDateTime::new(utc.date(), utc.time()), zone: "UTC".into() }
            }
            Err(_) => {
                let with_seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
                let without_seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]");
                let local = PrimitiveDateTime::parse(text, with_seconds)
                    .or_else(|_| PrimitiveDateTime::parse(text, without_seconds))
                    .map_err(|_| SendAtError::Unreadable(text.chars().take(60).collect()))?;
                let zone = timezone.unwrap_or("UTC").trim();
                Self { instant: zoned_to_utc(local, zone)?, local, zone: zone.to_string() }
            }
        };
        if parsed.instant < now + MIN_LEAD {
            return Err(SendAtError::InThePast);
        }
        if parsed.instant > now + MAX_LEAD {
            return Err(SendAtError::TooFarAhead);
        }
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

    #[test]
    fn reads_rfc3339_with_an_offset_as_utc() {
        let at = SendAt::parse("2026-12-01T09:00:00+09:00", None, NOW).unwrap();
        assert_eq!(at.instant, datetime!(2026-12-01 00:00 UTC));
        assert_eq!((at.local, at.zone.as_str()), (datetime!(2026-12-01 00:00), "UTC"));
    }

    #[test]
    fn reads_a_local_time_in_a_named_zone() {
        let at = SendAt::parse("2026-12-01T09:30", Some("Asia/Seoul"), NOW).unwrap();
        assert_eq!(at.instant, datetime!(2026-12-01 00:30 UTC));
        assert_eq!((at.local, at.zone.as_str()), (datetime!(2026-12-01 09:30), "Asia/Seoul"));
    }

    #[test]
    fn refuses_the_past_the_far_future_and_nonsense() {
        assert_eq!(SendAt::parse("2026-11-23T08:59:00Z", None, NOW), Err(SendAtError::InThePast));
        assert_eq!(SendAt::parse("2026-11-23T09:00:01Z", None, NOW), Err(SendAtError::InThePast));
        assert_eq!(SendAt::parse("2028-01-01T00:00:00Z", None, NOW), Err(SendAtError::TooFarAhead));
        assert!(matches!(SendAt::parse("next tuesday", None, NOW), Err(SendAtError::Unreadable(_))));
        assert_eq!(SendAt::parse("2026-12-01T09:00:00Z", Some("Asia/Seoul"), NOW), Err(SendAtError::OffsetAndZone));
        assert!(matches!(SendAt::parse("2026-12-01T09:00", Some("Mars/Base"), NOW), Err(SendAtError::Zone(_))));
    }

    #[test]
    fn no_time_at_the_ends_of_the_calendar_in_any_offset_or_zone_panics() {
        // The extremes one can write, in every offset from -23:59 to +23:59 and every zone:
        // each is refused (far past or far ahead), none panics.
        for at in ["0001-01-01T00:00:00", "9999-12-31T23:59:59"] {
            for minutes in (-(23 * 60 + 59)..=23_i32 * 60 + 59).step_by(7) {
                let sign = if minutes < 0 { '-' } else { '+' };
                let text = format!("{at}{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60);
                assert!(SendAt::parse(&text, None, NOW).is_err(), "{text}");
            }
            for zone in chrono_tz::TZ_VARIANTS {
                assert!(SendAt::parse(at, Some(zone.name()), NOW).is_err(), "{at} {zone}");
            }
        }
    }
}
