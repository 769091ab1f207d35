//! `POST /campaigns`: validated before anything is stored or queued, idempotent with a
//! client key, queued now or scheduled; or, as a dry run, only reported on.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::domain::{
    AuditAction, AuditSubject, Campaign, CampaignCounters, CampaignId, CampaignStatus, EmailAddress, Priority, SendAt,
    Sender, SplitJob, TemplateId,
};
use fanmail_common::ports::{Clock, IdGenerator, ObjectStore, OutgoingMessage, Queue, Scheduler};
use fanmail_common::store::{CampaignReader, CampaignStore, Ledger, TemplateStore};
use serde::Deserialize;

use crate::views::CampaignView;
use crate::{Deps, Ports};

use super::*;

/// How long a client's idempotency key maps to its campaign.
const IDEMPOTENCY_WINDOW: time::Duration = time::Duration::hours(24);
const MAX_SHARED_VARS: usize = 100;
const MAX_VAR_BYTES: usize = 10_000;
/// The highest `maxRate` a campaign may ask for (far above any SES account's rate).
const MAX_RATE: u32 = 100_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FromInput {
    address: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CampaignInput {
    template_id: String,
    #[serde(default)]
    template_version: Option<u32>,
    list_key: String,
    from: FromInput,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default)]
    vars: BTreeMap<String, String>,
    /// RFC 3339 with an offset, or a local time with `timezone`.
    #[serde(default)]
    send_at: Option<String>,
    /// IANA zone of a local `sendAt`, e.g. `Asia/Seoul`.
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    idempotency_key: Option<String>,
    /// The campaign's own ceiling, mails a second (under the account's rate).
    #[serde(default)]
    max_rate: Option<u32>,
    /// `bulk` (the default) or `high`: a test or transactional send, ahead of bulk campaigns.
    #[serde(default)]
    priority: Option<String>,
    /// The list's address column (a header name or a 1-based number), when neither its header
    /// nor its values make it plain.
    #[serde(default)]
    email_column: Option<String>,
    /// Read and render the whole list and answer what the campaign would do; nothing is stored.
    #[serde(default)]
    dry_run: bool,
}

/// Checks everything that does not need a lookup.
fn validate_shape(input: &CampaignInput, sender_domain: &str) -> Result<Sender, ApiError> {
    let address = crate::verified_from(&input.from.address, sender_domain)?;
    let name = input.from.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    if let Some(name) = name {
        if name.chars().any(char::is_control) || name.chars().count() > 100 {
            return Err(ApiError::bad_request("invalid_from", "'from.name' must be 1-100 characters on one line"));
        }
    }
    let reply_to = input
        .reply_to
        .as_deref()
        .map(EmailAddress::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_reply_to", format!("'replyTo' is not valid: {e}")))?;
    if !input.list_key.starts_with("lists/") || input.list_key.contains("..") || input.list_key.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_list_key",
            "'listKey' must be a key returned by POST /uploads for a list",
        ));
    }
    if input.vars.len() > MAX_SHARED_VARS
        || input.vars.iter().any(|(k, v)| k.trim().is_empty() || k.len() > 100 || v.len() > MAX_VAR_BYTES)
    {
        return Err(ApiError::bad_request(
            "invalid_vars",
            format!("'vars' takes at most {MAX_SHARED_VARS} named values of at most {MAX_VAR_BYTES} bytes"),
        ));
    }
    if input.max_rate.is_some_and(|rate| !(1..=MAX_RATE).contains(&rate)) {
        return Err(ApiError::bad_request(
            "invalid_max_rate",
            format!("'maxRate' is mails a second, a whole number from 1 to {MAX_RATE}"),
        ));
    }
    if input.priority.as_deref().is_some_and(|p| Priority::parse(p).is_none()) {
        return Err(ApiError::bad_request("invalid_priority", "'priority' is 'bulk' (the default) or 'high'"));
    }
    if input
        .email_column
        .as_deref()
        .is_some_and(|c| c.trim().is_empty() || c.len() > 200 || c.chars().any(char::is_control))
    {
        return Err(ApiError::bad_request(
            "invalid_email_column",
            "'emailColumn' names the list's address column: a header name or a column number, 1-200 characters",
        ));
    }
    if input.timezone.is_some() && input.send_at.is_none() {
        return Err(ApiError::bad_request("invalid_send_at", "'timezone' goes with a local 'sendAt'"));
    }
    Ok(Sender { address, name: name.map(str::to_string), reply_to })
}

pub async fn create<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let input: CampaignInput = request.json_body()?;
    let now = deps.clock.now();
    let send_at = input
        .send_at
        .as_deref()
        .map(|at| SendAt::parse(at, input.timezone.as_deref(), now))
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_send_at", e.to_string()))?;
    let sender = validate_shape(&input, &deps.config.sender_domain)?;
    let template_id = TemplateId::parse(input.template_id.as_str())
        .map_err(|e| ApiError::bad_request("invalid_template_id", e.to_string()))?;
    let template = deps.templates.get(&template_id, input.template_version).await?.ok_or_else(|| {
        unprocessable(
            "unknown_template",
            format!("template '{template_id}' (version {:?}) does not exist", input.template_version),
        )
    })?;
    match deps.objects.head(&input.list_key).await {
        Ok(Some(meta)) if meta.size > 0 => {}
        Ok(Some(_)) => return Err(unprocessable("empty_list", format!("'{}' is empty", input.list_key))),
        Ok(None) => {
            return Err(unprocessable("list_not_found", format!("no list was uploaded at '{}'", input.list_key)))
        }
        Err(e) => return Err(e.into()),
    }

    if input.dry_run {
        let plan = dry_run::Plan {
            template: &template,
            sender: &sender,
            shared_vars: &input.vars,
            list_key: &input.list_key,
            max_rate: input.max_rate,
            email_column: input.email_column.as_deref(),
            budget: dry_run::BUDGET,
        };
        return Ok(json_response(200, &dry_run::report(deps, &plan).await?));
    }
    let mut id = CampaignId::parse(deps.ids.new_id()).map_err(ApiError::internal)?;
    let key = request.header("idempotency-key").map(str::to_string).or(input.idempotency_key.clone());
    if let Some(key) = &key {
        if key.is_empty() || key.len() > 200 {
            return Err(ApiError::bad_request("invalid_idempotency_key", "an idempotency key is 1-200 characters"));
        }
        let recorded =
            deps.ledger.record_once(&format!("idem#campaign#{key}"), id.as_str(), now, IDEMPOTENCY_WINDOW).await?;
        if let Some(first) = recorded {
            id = CampaignId::parse(first).map_err(ApiError::internal)?;
            if let Some(existing) = deps.campaigns.get(&id).await? {
                return Ok(json_response(200, &CampaignView::from(&existing)));
            }
            // The first request recorded the key but did not get to create the campaign.
        }
    }

    let campaign = Campaign {
        id: id.clone(),
        template_id,
        template_version: template.version,
        list_key: input.list_key,
        sender,
        shared_vars: input.vars,
        status: if send_at.is_some() { CampaignStatus::Scheduled } else { CampaignStatus::Queued },
        status_reason: None,
        counters: CampaignCounters::default(),
        created_at: now,
        updated_at: now,
        send_at: send_at.as_ref().map(|at| at.instant),
        schedule_generation: u32::from(send_at.is_some()),
        idempotency_key: key,
        report_parts: 0,
        split_rows: 0,
        split_finished: false,
        max_rate: input.max_rate,
        priority: input.priority.as_deref().and_then(Priority::parse).unwrap_or_default(),
        created_by: Some(request.caller()),
        updated_by: Some(request.caller()),
        list_format: None,
        email_column: input.email_column.map(|c| c.trim().to_string()),
        requeue: None,
    };
    deps.campaigns.create(&campaign).await?;
    let mut detail = vec![("template", format!("{}@{}", campaign.template_id, campaign.template_version))];
    if let Some(at) = &send_at {
        detail.push(("sendAt", at.instant.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()));
    }
    // The follow-up (the schedule, or the split job) comes before the audit entry: a campaign
    // whose entry could not be written must not be left without it.
    if let Some(at) = &send_at {
        if let Err(e) = deps.scheduler.create(&schedule_spec(&campaign, at)).await {
            let reason = "its schedule could not be created; create the campaign again";
            let _ = deps
                .campaigns
                .transition(&id, &[CampaignStatus::Scheduled], CampaignStatus::Failed, Some(reason), None, now)
                .await;
            return Err(e.into());
        }
        tracing::info!(campaign = %id, send_at = %at.instant, zone = %at.zone, "campaign scheduled");
        crate::audit::record(deps, request, AuditAction::CampaignCreated, AuditSubject::campaign(&id), &detail).await;
        return Ok(json_response(202, &CampaignView::from(&campaign)));
    }
    let job = serde_json::to_string(&SplitJob::start(campaign.id.clone())).map_err(ApiError::internal)?;
    if let Err(e) = deps.split_jobs.send_all(&[OutgoingMessage::new("split", job)]).await {
        let reason = "the split job could not be queued; create the campaign again";
        let _ = deps
            .campaigns
            .transition(&id, &[CampaignStatus::Queued], CampaignStatus::Failed, Some(reason), None, now)
            .await;
        return Err(e.into());
    }
    tracing::info!(campaign = %id, template = %campaign.template_id, version = campaign.template_version, "campaign queued");
    crate::audit::record(deps, request, AuditAction::CampaignCreated, AuditSubject::campaign(&id), &detail).await;
    Ok(json_response(202, &CampaignView::from(&campaign)))
}
