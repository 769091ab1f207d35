//! Hour buckets for "mails sent in the last N hours".

use time::OffsetDateTime;

/// Key of the hourly sent counter for the hour containing `at`.
pub fn sent_hour_key(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("sent#{:04}-{:02}-{:02}T{:02}", at.year(), u8::from(at.month()), at.day(), at.hour())
}

/// Keys of every hour from the one containing `from` to the one containing `to`.
pub fn sent_hour_keys(from: OffsetDateTime, to: OffsetDateTime) -> Vec<String> {
    let mut keys = Vec::new();
    let mut at = from;
    while at <= to || sent_hour_key(at) == sent_hour_key(to) {
        keys.push(sent_hour_key(at));
        at += time::Duration::HOUR;
        if keys.len() > 24 * 400 {
            break;
        }
    }
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn hour_keys_cover_both_ends() {
        let keys = sent_hour_keys(datetime!(2026-11-23 05:59 UTC), datetime!(2026-11-23 07:01 UTC));
        assert_eq!(keys, ["sent#2026-11-23T05", "sent#2026-11-23T06", "sent#2026-11-23T07"]);
        let one = sent_hour_keys(datetime!(2026-11-23 05:10 UTC), datetime!(2026-11-23 05:50 UTC));
        assert_eq!(one, ["sent#2026-11-23T05"]);
    }
}
