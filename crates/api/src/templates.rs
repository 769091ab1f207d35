//! Template routes. A template is compiled when saved (a syntax error answers 400 with the
//! part, line and column); an update stores a new version, and campaigns pin the version
//! they were created with.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{empty_response, json_response, ApiError, RequestExt};
use fanmail_common::domain::{AuditAction, AuditSubject, Template, TemplateId};
use fanmail_common::ports::{Clock, IdGenerator};
use fanmail_common::render::MailTemplate;
use fanmail_common::store::{StoreError, TemplateStore};
use serde::Deserialize;

use crate::audit;
use crate::views::{PageView, TemplateSummaryView, TemplateView};
use crate::{page_params, Deps, Ports};

/// Subject, HTML and text together stay well inside DynamoDB's 400 KB item limit.
pub const MAX_TEMPLATE_BYTES: usize = 350_000;
/// RFC 5322's line limit, which a subject header must fit.
pub const MAX_SUBJECT_CHARS: usize = 998;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TemplateInput {
    /// Optional on create (a random id is chosen); not accepted on update.
    #[serde(default)]
    id: Option<String>,
    name: String,
    subject: String,
    #[serde(default)]
    html: String,
    #[serde(default)]
    text: String,
}

fn validate(input: &TemplateInput) -> Result<MailTemplate, ApiError> {
    if input.name.trim().is_empty() || input.name.len() > 200 {
        return Err(ApiError::bad_request("invalid_name", "'name' must be 1-200 characters"));
    }
    if input.subject.trim().is_empty() || input.subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(ApiError::bad_request(
            "invalid_subject",
            format!("'subject' must be 1-{MAX_SUBJECT_CHARS} characters"),
        ));
    }
    if input.html.trim().is_empty() && input.text.trim().is_empty() {
        return Err(ApiError::bad_request("empty_body", "give an 'html' body, a 'text' body, or both"));
    }
    let size = input.subject.len() + input.html.len() + input.text.len();
    if size > MAX_TEMPLATE_BYTES {
        return Err(ApiError::new(
            413,
            "template_too_large",
            format!("subject, html and text are {size} bytes together; the limit is {MAX_TEMPLATE_BYTES}"),
        ));
    }
    fanmail_common::render::refuse_partials(&input.subject, &input.html, &input.text)
        .map_err(|e| ApiError::bad_request("template_syntax", e.to_string()))?;
    MailTemplate::compile(&input.subject, &input.html, &input.text)
        .map_err(|e| ApiError::bad_request("template_syntax", e.to_string()))
}

fn template_id(request: &ApiGatewayV2httpRequest) -> Result<TemplateId, ApiError> {
    let raw = request.path_param("id").unwrap_or_default();
    TemplateId::parse(raw).map_err(|e| ApiError::bad_request("invalid_template_id", e.to_string()))
}

fn answer(status: u16, template: &Template, compiled: &MailTemplate) -> ApiGatewayV2httpResponse {
    json_response(status, &TemplateView::new(template, compiled.variables()))
}

pub async fn create<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let input: TemplateInput = request.json_body()?;
    let compiled = validate(&input)?;
    let id = match &input.id {
        Some(id) => {
            TemplateId::parse(id.as_str()).map_err(|e| ApiError::bad_request("invalid_template_id", e.to_string()))?
        }
        None => TemplateId::parse(deps.ids.new_id()).map_err(ApiError::internal)?,
    };
    if deps.templates.get(&id, None).await?.is_some() {
        return Err(ApiError::conflict(format!("template '{id}' exists; update it with PUT /templates/{id}")));
    }
    let template = Template {
        id,
        version: 1,
        name: input.name.trim().to_string(),
        subject: input.subject,
        html: input.html,
        text: input.text,
        created_at: deps.clock.now(),
        created_by: Some(request.caller()),
    };
    match deps.templates.put_version(&template).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ApiError::conflict(format!("template '{}' exists", template.id)));
        }
        Err(e) => return Err(e.into()),
    }
    audit::record(
        deps,
        request,
        AuditAction::TemplateSaved,
        AuditSubject::template(&template.id),
        &[("version", template.version.to_string())],
    )
    .await;
    tracing::info!(template = %template.id, "template created");
    Ok(answer(201, &template, &compiled))
}

pub async fn get<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = template_id(request)?;
    let version = match request.query("version") {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| ApiError::bad_request("bad_version", "'version' must be a whole number above 0"))?,
        ),
    };
    let template = deps.templates.get(&id, version).await?.ok_or_else(|| match version {
        Some(v) => ApiError::not_found(format!("template '{id}' has no version {v}")),
        None => ApiError::not_found(format!("template '{id}' does not exist")),
    })?;
    let compiled =
        MailTemplate::compile(&template.subject, &template.html, &template.text).map_err(ApiError::internal)?;
    Ok(answer(200, &template, &compiled))
}

pub async fn list<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let (limit, cursor) = page_params(request)?;
    let page = deps.templates.list(limit, cursor).await?;
    Ok(json_response(
        200,
        &PageView { items: page.items.iter().map(TemplateSummaryView::from).collect(), next_cursor: page.next },
    ))
}

pub async fn update<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = template_id(request)?;
    let input: TemplateInput = request.json_body()?;
    if input.id.as_deref().is_some_and(|body_id| body_id != id.as_str()) {
        return Err(ApiError::bad_request("id_mismatch", "the body's 'id' differs from the path's"));
    }
    let compiled = validate(&input)?;
    // Another writer may take the next version first: read the latest again and retry.
    for _ in 0..3 {
        let latest = deps.templates.get(&id, None).await?.ok_or_else(|| {
            ApiError::not_found(format!("template '{id}' does not exist; create it with POST /templates"))
        })?;
        let template = Template {
            id: id.clone(),
            version: latest.version + 1,
            name: input.name.trim().to_string(),
            subject: input.subject.clone(),
            html: input.html.clone(),
            text: input.text.clone(),
            created_at: deps.clock.now(),
            created_by: Some(request.caller()),
        };
        match deps.templates.put_version(&template).await {
            Ok(()) => {
                audit::record(
                    deps,
                    request,
                    AuditAction::TemplateSaved,
                    AuditSubject::template(&id),
                    &[("version", template.version.to_string())],
                )
                .await;
                tracing::info!(template = %id, version = template.version, "template updated");
                return Ok(answer(200, &template, &compiled));
            }
            Err(StoreError::AlreadyExists(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::conflict(format!("template '{id}' is being updated concurrently; retry")))
}

pub async fn delete<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = template_id(request)?;
    if deps.templates.delete(&id).await? {
        audit::record(deps, request, AuditAction::TemplateDeleted, AuditSubject::template(&id), &[]).await;
        tracing::info!(template = %id, "template deleted");
        Ok(empty_response(204))
    } else {
        Err(ApiError::not_found(format!("template '{id}' does not exist")))
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::{call, deps};
    use serde_json::json;

    fn body(subject: &str) -> serde_json::Value {
        json!({"id": "welcome", "name": "Welcome", "subject": subject, "html": "<p>Hi {{name}}</p>", "text": "Hi {{name}}"})
    }

    #[tokio::test]
    async fn a_template_is_created_read_listed_versioned_and_deleted() {
        let deps = deps();
        let (status, created) = call(&deps, "POST /templates", None, &[], Some(body("Hello {{name}}"))).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!((created["id"].as_str(), created["version"].as_u64()), (Some("welcome"), Some(1)));
        assert_eq!(created["variables"], json!(["name", "unsubscribe_url"]), "the default footer links it");

        let (status, _) = call(&deps, "POST /templates", None, &[], Some(body("again"))).await;
        assert_eq!(status, 409);

        let mut update = body("Hi {{name}} from {{city}}");
        update.as_object_mut().unwrap().remove("id");
        let (status, v2) = call(&deps, "PUT /templates/{id}", Some("welcome"), &[], Some(update)).await;
        assert_eq!((status, v2["version"].as_u64()), (200, Some(2)));
        assert_eq!(v2["variables"], json!(["city", "name", "unsubscribe_url"]));

        let (_, latest) = call(&deps, "GET /templates/{id}", Some("welcome"), &[], None).await;
        assert_eq!(latest["subject"], "Hi {{name}} from {{city}}");
        let (_, first) = call(&deps, "GET /templates/{id}", Some("welcome"), &[("version", "1")], None).await;
        assert_eq!(first["subject"], "Hello {{name}}");

        let (_, listed) = call(&deps, "GET /templates", None, &[], None).await;
        assert_eq!(listed["items"][0]["latestVersion"], 2);

        assert_eq!(call(&deps, "DELETE /templates/{id}", Some("welcome"), &[], None).await.0, 204);
        assert_eq!(call(&deps, "DELETE /templates/{id}", Some("welcome"), &[], None).await.0, 404);
        assert_eq!(call(&deps, "GET /templates/{id}", Some("welcome"), &[], None).await.0, 404);
    }

    /// A raw value at the start of a link is saved: what a list's value may do is checked on
    /// the value, where the mail is rendered.
    #[tokio::test]
    async fn a_raw_link_is_saved_and_checked_on_each_rows_value() {
        let deps = deps();
        let mut input = body("Open");
        input["id"] = json!("links");
        input["html"] = json!("<a href=\"{{{link}}}\">Open</a>");
        input["text"] = json!("Open {{link}}");
        assert_eq!(call(&deps, "POST /templates", None, &[], Some(input)).await.0, 201);
        let preview = |link: &str| json!({"row": {"email": "a@example.com", "link": link}});
        let (status, json) =
            call(&deps, "POST /templates/{id}/preview", Some("links"), &[], Some(preview("javascript:alert(1)"))).await;
        assert_eq!((status, json["error"]["code"].as_str()), (422, Some("render_failed")), "{json}");
        assert!(json["error"]["message"].as_str().unwrap().contains("the list's 'link' makes a link (href)"), "{json}");
        let (status, json) =
            call(&deps, "POST /templates/{id}/preview", Some("links"), &[], Some(preview("https://example.com/a")))
                .await;
        assert_eq!(status, 200, "{json}");
    }

    #[tokio::test]
    async fn a_syntax_error_answers_400_with_part_line_and_column() {
        let deps = deps();
        let mut input = body("ok");
        input["html"] = json!("<p>\n  {{#if vip}}\n</p>");
        let (status, json) = call(&deps, "POST /templates", None, &[], Some(input)).await;
        assert_eq!(status, 400);
        assert_eq!(json["error"]["code"], "template_syntax");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.starts_with("html has a syntax error at line"), "{message}");
        assert!(message.contains("column"), "{message}");
    }

    #[tokio::test]
    async fn invalid_templates_are_refused_with_the_reason() {
        let deps = deps();
        let cases = [
            (json!({"name": "x", "subject": "", "html": "h"}), 400, "invalid_subject"),
            (json!({"name": "x", "subject": "s"}), 400, "empty_body"),
            (json!({"name": "", "subject": "s", "html": "h"}), 400, "invalid_name"),
            (json!({"name": "x", "subject": "s", "html": "h".repeat(400_000)}), 413, "template_too_large"),
            (json!({"name": "x", "subject": "s", "html": "h", "colour": "red"}), 400, "invalid_json"),
            (json!({"id": "../x", "name": "x", "subject": "s", "html": "h"}), 400, "invalid_template_id"),
        ];
        for (input, status, code) in cases {
            let (got, json) = call(&deps, "POST /templates", None, &[], Some(input.clone())).await;
            assert_eq!((got, json["error"]["code"].as_str()), (status, Some(code)), "{input}");
        }
    }
}
