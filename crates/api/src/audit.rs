//! The audit trail: who changed what, and when.
//!
//! - `GET /audit?subject=&limit=&cursor=`: newest first, every subject's or one subject's
//!   (`campaign/<id>`, `template/<id>`, `suppression/<address>`).
//!
//! The routes that change state call [`record`] once the change and its follow-up are made; a
//! change whose entry cannot be written answers as the change did, the missing entry logged.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::domain::{AuditAction, AuditEntry, AuditSubject};
use fanmail_common::ports::Clock;
use fanmail_common::store::AuditLog;
use serde::Serialize;

use crate::{page_params, Deps, Ports};

/// Notes a change made at the caller's request.
/// Writes the entry of a change already made. Its failure does not fail the request: the change
/// and its follow-up stand, and a 503 would invite a retry of a change already made (a second
/// campaign, mailed again). The missing entry is logged as an error.
pub(crate) async fn record<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
    action: AuditAction,
    subject: AuditSubject,
    detail: &[(&str, String)],
) {
    let mut entry = AuditEntry::new(deps.clock.now(), &request.caller(), action, subject);
    for (key, value) in detail {
        entry = entry.with(key, value);
    }
    if let Err(e) = deps.audit.record(&entry).await {
        tracing::error!(action = %action, error = %e, "the change was made but its audit entry was not written");
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditList {
    items: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

pub async fn list<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let (limit, cursor) = page_params(request)?;
    let subject = request
        .query("subject")
        .map(|raw| AuditSubject::try_from(raw.to_string()))
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_subject", e))?;
    let page = deps.audit.list(subject.as_ref(), limit, cursor).await?;
    Ok(json_response(200, &AuditList { items: page.items, next_cursor: page.next }))
}

#[cfg(test)]
mod tests {
    use fanmail_common::domain::{EmailAddress, Suppression, SuppressionReason, SuppressionScope};
    use fanmail_common::ports::ObjectStore;
    use fanmail_common::store::SuppressionStore;
    use serde_json::json;

    use crate::test_support::{call, call_as, deps, signed_by};

    const ANN: &str = "arn:aws:iam::123456789012:user/ann";
    const OPS: &str = "arn:aws:iam::123456789012:role/ops";

    #[tokio::test(start_paused = true)]
    async fn every_change_is_audited_with_its_caller_and_read_back_newest_first() {
        let deps = deps();
        let template = json!({"id": "t", "name": "T", "subject": "Hi {{name}}", "html": "<p>{{name}}</p>"});
        assert_eq!(call_as(&deps, ANN, "POST /templates", None, &[], Some(template.clone())).await.0, 201);
        deps.clock.advance(time::Duration::seconds(1));
        assert_eq!(call_as(&deps, OPS, "PUT /templates/{id}", Some("t"), &[], Some(template)).await.0, 200);
        deps.clock.advance(time::Duration::seconds(1));
        deps.objects.put("lists/l.csv", b"email,name\nkim@example.com,Kim\n".to_vec(), "text/csv").await.unwrap();
        let body = json!({"templateId": "t", "listKey": "lists/l.csv", "from": {"address": "news@example.com"}});
        let (status, created) = call_as(&deps, ANN, "POST /campaigns", None, &[], Some(body)).await;
        assert_eq!(status, 202, "{created}");
        deps.clock.advance(time::Duration::seconds(1));
        let id = created["id"].as_str().unwrap();
        assert_eq!(call_as(&deps, OPS, "POST /campaigns/{id}/pause", Some(id), &[], None).await.0, 200);
        deps.clock.advance(time::Duration::seconds(1));
        assert_eq!(call_as(&deps, ANN, "POST /campaigns/{id}/resume", Some(id), &[], None).await.0, 202);
        deps.clock.advance(time::Duration::seconds(1));
        assert_eq!(call_as(&deps, OPS, "POST /campaigns/{id}/cancel", Some(id), &[], None).await.0, 200);
        deps.clock.advance(time::Duration::seconds(1));
        // A refused change is not one: nothing is noted.
        assert_eq!(call_as(&deps, ANN, "POST /campaigns/{id}/cancel", Some(id), &[], None).await.0, 409);
        let kim = EmailAddress::parse("kim@example.com").unwrap();
        let complaint = Suppression {
            address: kim.clone(),
            scope: SuppressionScope::All,
            reason: SuppressionReason::Complaint,
            campaign_id: None,
            created_at: fanmail_common::store::fixtures::T0,
        };
        deps.suppressions.put(&complaint).await.unwrap();
        let mut lift = aws_lambda_events::apigw::ApiGatewayV2httpRequest::default();
        lift.route_key = Some("DELETE /suppressions/{address}".into());
        lift.path_parameters.insert("address".into(), kim.to_string());
        lift.query_string_parameters = "force=true".parse().unwrap();
        signed_by(&mut lift, OPS);
        let lifted = crate::handler(&deps, lambda_runtime::LambdaEvent::new(lift, Default::default())).await.unwrap();
        assert_eq!(lifted.status_code, 204);

        let (status, trail) = call(&deps, "GET /audit", None, &[], None).await;
        assert_eq!(status, 200, "{trail}");
        let seen: Vec<(&str, &str, &str)> = trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap(), e["subject"].as_str().unwrap()))
            .collect();
        let campaign = format!("campaign/{id}");
        assert_eq!(
            seen,
            [
                ("suppression.lifted", OPS, "suppression/kim@example.com"),
                ("campaign.cancelled", OPS, campaign.as_str()),
                ("campaign.resumed", ANN, campaign.as_str()),
                ("campaign.paused", OPS, campaign.as_str()),
                ("campaign.created", ANN, campaign.as_str()),
                ("template.saved", OPS, "template/t"),
                ("template.saved", ANN, "template/t"),
            ]
        );
        let lifted = &trail["items"][0]["detail"];
        assert_eq!((lifted["reasons"].as_str(), lifted["forced"].as_str()), (Some("complaint"), Some("true")));

        let (_, one) = call(&deps, "GET /audit", None, &[("subject", &campaign), ("limit", "2")], None).await;
        assert_eq!(one["items"].as_array().unwrap().len(), 2);
        assert!(one["nextCursor"].is_string(), "{one}");
        let (status, bad) = call(&deps, "GET /audit", None, &[("subject", "user/1")], None).await;
        assert_eq!((status, bad["error"]["code"].as_str()), (400, Some("invalid_subject")));

        // Who made and who last changed each thing, on the thing itself.
        let (_, shown) = call(&deps, "GET /campaigns/{id}", Some(id), &[], None).await;
        assert_eq!((shown["createdBy"].as_str(), shown["updatedBy"].as_str()), (Some(ANN), Some(OPS)));
        let (_, first) = call(&deps, "GET /templates/{id}", Some("t"), &[("version", "1")], None).await;
        assert_eq!(first["createdBy"].as_str(), Some(ANN));
        let (_, listed) = call(&deps, "GET /templates", None, &[], None).await;
        assert_eq!(listed["items"][0]["updatedBy"].as_str(), Some(OPS));
    }
}
