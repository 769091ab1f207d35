//! What every ledger does, run against each adapter.

use time::Duration;

use crate::store::fixtures::*;
use crate::store::Ledger;

pub async fn run(ledger: &impl Ledger) {
    let day = Duration::days(1);
    assert_eq!(ledger.record_once("idem#k1", "c1", T0, day).await.unwrap(), None);
    assert_eq!(ledger.record_once("idem#k1", "c2", T0 + Duration::hours(23), day).await.unwrap(), Some("c1".into()));
    assert_eq!(
        ledger.record_once("idem#k1", "c3", T0 + Duration::hours(25), day).await.unwrap(),
        None,
        "a key past its lifetime at the caller's time may be recorded again"
    );
    assert_eq!(
        ledger.record_once("idem#k1", "c4", T0 + Duration::hours(26), day).await.unwrap(),
        Some("c3".into()),
        "and is then kept for a new lifetime"
    );
    assert_eq!(ledger.read("idem#k1", T0 + Duration::hours(27)).await.unwrap(), Some("c3".into()));
    assert_eq!(ledger.read("idem#k1", T0 + Duration::hours(51)).await.unwrap(), None, "expired at the caller's time");
    assert_eq!(ledger.read("idem#never", T0).await.unwrap(), None);

    ledger.add_sent(T0, 3).await.unwrap();
    ledger.add_sent(T0 + Duration::minutes(10), 2).await.unwrap();
    ledger.add_sent(T0 + Duration::hours(2), 7).await.unwrap();
    ledger.add_sent(T0 - Duration::hours(30), 100).await.unwrap();
    assert_eq!(ledger.sent_between(T0 - Duration::hours(23), T0 + Duration::hours(2)).await.unwrap(), 12);
    assert_eq!(ledger.sent_between(T0, T0).await.unwrap(), 5);
}
