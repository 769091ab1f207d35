//! `GET /stats/sent?hours=N`: mails sent in the last N hours (whole hours, UTC).

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::ports::Clock;
use fanmail_common::store::Ledger;

use crate::{Deps, Ports};

/// Hourly counts are kept eight days.
const MAX_HOURS: i64 = 168;

pub async fn sent<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let hours: i64 = match request.query("hours") {
        None => 24,
        Some(raw) => raw.parse().ok().filter(|h| (1..=MAX_HOURS).contains(h)).ok_or_else(|| {
            ApiError::bad_request("bad_hours", format!("'hours' must be a whole number from 1 to {MAX_HOURS}"))
        })?,
    };
    let now = deps.clock.now();
    // The current hour counts as one of the N.
    let from = now - time::Duration::hours(hours - 1);
    let sent = deps.ledger.sent_between(from, now).await?;
    Ok(json_response(200, &serde_json::json!({ "hours": hours, "sent": sent })))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{call, deps};
    use fanmail_common::store::Ledger;
    use time::macros::datetime;

    #[tokio::test]
    async fn counts_the_last_n_whole_hours() {
        let deps = deps();
        deps.ledger.add_sent(datetime!(2026-11-23 08:59 UTC), 5).await.unwrap();
        deps.ledger.add_sent(datetime!(2026-11-23 09:00 UTC), 2).await.unwrap();
        deps.ledger.add_sent(datetime!(2026-11-22 08:00 UTC), 100).await.unwrap();
        let (_, json) = call(&deps, "GET /stats/sent", None, &[], None).await;
        assert_eq!((json["hours"].as_i64(), json["sent"].as_u64()), (Some(24), Some(7)));
        let (_, json) = call(&deps, "GET /stats/sent", None, &[("hours", "1")], None).await;
        assert_eq!(json["sent"], 2);
        let (status, _) = call(&deps, "GET /stats/sent", None, &[("hours", "0")], None).await;
        assert_eq!(status, 400);
    }
}
