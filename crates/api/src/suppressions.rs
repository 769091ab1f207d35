//! The suppression list: addresses fanmail does not mail (bounced, complained, unsubscribed,
//! or added by hand).
//!
//! - `GET /suppressions?limit=&cursor=`: every suppression, a page at a time.
//! - `POST /suppressions` `{"address", "sender"?}`: suppresses by hand, for every sender or
//!   (with `sender`) for that sender's domain, as an unsubscribe is.
//! - `GET /suppressions/{address}`: an address's suppressions, 404 if it has none.
//! - `DELETE /suppressions/{address}?sender=&force=`: lifts them all, or only the unsubscribe
//!   from that sender's domain; 404 if there was nothing to lift. One that followed a complaint
//!   (the recipient marked a mail as spam) is lifted only with `force=true`, else 409
//!   `complaint_suppression`: mailing them again harms the sender's reputation with SES.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{empty_response, json_response, ApiError, RequestExt};
use fanmail_common::domain::{
    AuditAction, AuditSubject, EmailAddress, Suppression, SuppressionReason, SuppressionScope,
};
use fanmail_common::ports::Clock;
use fanmail_common::store::SuppressionStore;
use serde::Deserialize;

use crate::audit;
use crate::views::{SuppressionList, SuppressionView};
use crate::{page_params, Deps, Ports};

fn address_param(request: &ApiGatewayV2httpRequest) -> Result<EmailAddress, ApiError> {
    let raw = request.path_param("address").unwrap_or_default();
    // API Gateway passes the path segment as sent; `@` often arrives as `%40`.
    let decoded = raw.replace("%40", "@").replace("%2B", "+").replace("%2b", "+");
    EmailAddress::parse(&decoded).map_err(|e| ApiError::bad_request("invalid_address", e.to_string()))
}

/// The scope `sender` names, as an unsubscribe link writes it: the verified domain for a
/// sender in it or one of its subdomains.
fn sender_scope(sender: Option<&str>, verified_domain: &str) -> Result<SuppressionScope, ApiError> {
    match sender {
        None => Ok(SuppressionScope::All),
        Some(raw) => EmailAddress::parse(raw)
            .map(|sender| SuppressionScope::of_sender_in(&sender, verified_domain))
            .map_err(|e| ApiError::bad_request("invalid_sender", format!("'sender': {e}"))),
    }
}

pub async fn list<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let (limit, cursor) = page_params(request)?;
    let page = deps.suppressions.list(limit, cursor).await?;
    let items = page.items.iter().map(SuppressionView::from).collect();
    Ok(json_response(200, &SuppressionList { items, next_cursor: page.next }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddSuppression {
    address: String,
    sender: Option<String>,
}

pub async fn add<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let input: AddSuppression = request.json_body()?;
    let address = EmailAddress::parse(&input.address)
        .map_err(|e| ApiError::bad_request("invalid_address", format!("'address': {e}")))?;
    let scope = sender_scope(input.sender.as_deref(), &deps.config.sender_domain)?;
    let suppression = Suppression {
        address,
        scope,
        reason: SuppressionReason::Manual,
        campaign_id: None,
        created_at: deps.clock.now(),
    };
    // A complaint stays what it is: written over by hand, it could be lifted without `force`.
    let existing = deps.suppressions.find(&suppression.address).await?;
    if let Some(complaint) =
        existing.iter().find(|s| s.scope == suppression.scope && s.reason == SuppressionReason::Complaint)
    {
        return Ok(json_response(200, &SuppressionView::from(complaint)));
    }
    deps.suppressions.put(&suppression).await?;
    audit::record(
        deps,
        request,
        AuditAction::SuppressionAdded,
        AuditSubject::suppression(&suppression.address),
        &[("scope", suppression.scope.key())],
    )
    .await;
    tracing::info!(address = %suppression.address.redacted(), "address suppressed by hand");
    Ok(json_response(201, &SuppressionView::from(&suppression)))
}

pub async fn get<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let address = address_param(request)?;
    let found = deps.suppressions.find(&address).await?;
    if found.is_empty() {
        return Err(ApiError::not_found(format!("'{address}' is not suppressed")));
    }
    let items = found.iter().map(SuppressionView::from).collect();
    Ok(json_response(200, &SuppressionList { items, next_cursor: None }))
}

pub async fn remove<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let address = address_param(request)?;
    let force = match request.query("force") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request("invalid_force", format!("'force' is true or false, not '{other}'")))
        }
    };
    let only =
        request.query("sender").map(|sender| sender_scope(Some(sender), &deps.config.sender_domain)).transpose()?;
    let found: Vec<Suppression> = deps
        .suppressions
        .find(&address)
        .await?
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|scope| &s.scope == scope))
        .collect();
    let complaint = found.iter().any(|s| s.reason == SuppressionReason::Complaint);
    if complaint && !force {
        return Err(ApiError::new(
            409,
            "complaint_suppression",
            format!("'{address}' was suppressed after a complaint; lifting it needs force=true"),
        ));
    }
    let mut removed = false;
    for suppression in &found {
        removed |= deps.suppressions.remove(&address, &suppression.scope).await?;
    }
    if !removed {
        return Err(ApiError::not_found(format!("'{address}' is not suppressed")));
    }
    let reasons: Vec<String> = found.iter().map(|s| s.reason.to_string()).collect();
    audit::record(
        deps,
        request,
        AuditAction::SuppressionLifted,
        AuditSubject::suppression(&address),
        &[("reasons", reasons.join(",")), ("forced", complaint.to_string())],
    )
    .await;
    tracing::info!(
        address = %address.redacted(),
        reasons = %reasons.join(","),
        forced = complaint,
        "suppression lifted"
    );
    Ok(empty_response(204))
}

#[cfg(test)]
mod tests {
    use fanmail_common::domain::CampaignId;
    use serde_json::json;

    use super::*;
    use crate::test_support::{call, deps};

    async fn call_address(
        deps: &Deps<crate::MemoryPorts>,
        route: &str,
        address: &str,
        query: &str,
    ) -> (i64, serde_json::Value) {
        let mut req = ApiGatewayV2httpRequest::default();
        req.route_key = Some(route.into());
        req.path_parameters.insert("address".into(), address.into());
        req.query_string_parameters = query.parse().unwrap();
        let res = crate::handler(deps, lambda_runtime::LambdaEvent::new(req, Default::default())).await.unwrap();
        let json = match res.body {
            Some(aws_lambda_events::encodings::Body::Text(t)) if !t.is_empty() => serde_json::from_str(&t).unwrap(),
            _ => serde_json::Value::Null,
        };
        (res.status_code, json)
    }

    #[tokio::test]
    async fn suppressions_are_listed_checked_added_and_lifted() {
        let deps = deps();
        let at = deps.clock.now();
        let kim = EmailAddress::parse("kim@example.com").unwrap();
        deps.suppressions
            .put(&Suppression {
                address: kim.clone(),
                scope: SuppressionScope::All,
                reason: SuppressionReason::HardBounce,
                campaign_id: Some(CampaignId::parse("c1").unwrap()),
                created_at: at,
            })
            .await
            .unwrap();
        let (status, added) = call(
            &deps,
            "POST /suppressions",
            None,
            &[],
            Some(json!({"address": "Kim@Example.com", "sender": "news@example.com"})),
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!((added["scope"].as_str(), added["domain"].as_str()), (Some("domain"), Some("example.com")));
        let (status, _) =
            call(&deps, "POST /suppressions", None, &[], Some(json!({"address": "not an address"}))).await;
        assert_eq!(status, 400);

        let (status, listed) = call(&deps, "GET /suppressions", None, &[("limit", "10")], None).await;
        assert_eq!(status, 200);
        assert_eq!(listed["items"].as_array().unwrap().len(), 2);

        let (status, found) = call_address(&deps, "GET /suppressions/{address}", "kim%40example.com", "").await;
        assert_eq!(status, 200);
        let reasons: Vec<&str> =
            found["items"].as_array().unwrap().iter().map(|s| s["reason"].as_str().unwrap()).collect();
        assert!(reasons.contains(&"hard_bounce") && reasons.contains(&"manual"), "{reasons:?}");

        // Lift only the unsubscribe from one sender, then everything.
        let (status, _) =
            call_address(&deps, "DELETE /suppressions/{address}", "kim@example.com", "sender=news@example.com").await;
        assert_eq!(status, 204);
        assert_eq!(deps.suppressions.find(&kim).await.unwrap().len(), 1);
        let (status, _) = call_address(&deps, "DELETE /suppressions/{address}", "kim@example.com", "").await;
        assert_eq!(status, 204);
        let (status, body) = call_address(&deps, "GET /suppressions/{address}", "kim@example.com", "").await;
        assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
        let (status, _) = call_address(&deps, "DELETE /suppressions/{address}", "kim@example.com", "").await;
        assert_eq!(status, 404);
    }

    #[tokio::test]
    async fn a_complaint_is_lifted_only_when_forced() {
        let deps = deps();
        let lee = EmailAddress::parse("lee@example.com").unwrap();
        for (scope, reason) in [
            (SuppressionScope::All, SuppressionReason::Complaint),
            (
                SuppressionScope::of_sender(&EmailAddress::parse("news@shop.example").unwrap()),
                SuppressionReason::Unsubscribed,
            ),
        ] {
            let suppression =
                Suppression { address: lee.clone(), scope, reason, campaign_id: None, created_at: deps.clock.now() };
            deps.suppressions.put(&suppression).await.unwrap();
        }
        let route = "DELETE /suppressions/{address}";
        let (status, body) = call_address(&deps, route, "lee@example.com", "").await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("complaint_suppression")));
        assert!(body["error"]["message"].as_str().unwrap().contains("force=true"), "{body}");
        assert_eq!(deps.suppressions.find(&lee).await.unwrap().len(), 2, "nothing lifted without force");

        // The other sender's unsubscribe is no complaint: it lifts alone without force.
        let (status, _) = call_address(&deps, route, "lee@example.com", "sender=news@shop.example").await;
        assert_eq!(status, 204);
        let (status, body) = call_address(&deps, route, "lee@example.com", "force=yes").await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_force")));
        let (status, _) = call_address(&deps, route, "lee@example.com", "force=true").await;
        assert_eq!(status, 204);
        assert!(deps.suppressions.find(&lee).await.unwrap().is_empty());
    }

    /// An unsubscribe from a subdomain's sender is the verified domain's: lifted by naming any
    /// sender of it, as it was made.
    #[tokio::test]
    async fn an_unsubscribe_is_lifted_by_naming_a_sender_of_any_subdomain() {
        let deps = deps();
        let kim = EmailAddress::parse("kim@example.org").unwrap();
        let from_sub = EmailAddress::parse("offers@mail.example.com").unwrap();
        let scope = SuppressionScope::of_sender_in(&from_sub, &deps.config.sender_domain);
        let suppression = Suppression {
            address: kim.clone(),
            scope,
            reason: SuppressionReason::Unsubscribed,
            campaign_id: None,
            created_at: deps.clock.now(),
        };
        deps.suppressions.put(&suppression).await.unwrap();
        let (status, body) =
            call_address(&deps, "DELETE /suppressions/{address}", "kim@example.org", "sender=news@example.com").await;
        assert_eq!(status, 204, "{body}");
        assert!(deps.suppressions.find(&kim).await.unwrap().is_empty());
    }

    /// Suppressing by hand an address that complained keeps the complaint (200, unchanged):
    /// overwritten, it could be lifted without `force`.
    #[tokio::test]
    async fn a_manual_suppression_never_writes_over_a_complaint() {
        let deps = deps();
        let lee = EmailAddress::parse("lee@example.com").unwrap();
        let complaint = Suppression {
            address: lee.clone(),
            scope: SuppressionScope::All,
            reason: SuppressionReason::Complaint,
            campaign_id: None,
            created_at: deps.clock.now(),
        };
        deps.suppressions.put(&complaint).await.unwrap();
        let (status, body) =
            call(&deps, "POST /suppressions", None, &[], Some(json!({"address": "lee@example.com"}))).await;
        assert_eq!((status, body["reason"].as_str()), (200, Some("complaint")), "{body}");
        let found = deps.suppressions.find(&lee).await.unwrap();
        assert_eq!((found.len(), found[0].reason), (1, SuppressionReason::Complaint));
        let (status, body) = call_address(&deps, "DELETE /suppressions/{address}", "lee@example.com", "").await;
        assert_eq!((status, body["error"]["code"].as_str()), (409, Some("complaint_suppression")));
    }
}
