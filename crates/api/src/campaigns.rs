//! Campaign routes: create (validated before anything is queued, idempotent with a client
//! key), status and counters, recipients by status, rejected rows.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::domain::{
    rejected_rows_key, Campaign, CampaignCounters, CampaignId, CampaignStatus, Counter, CounterDelta, EmailAddress,
    Recipient, RecipientJob, RecipientStatus, RejectedRow, ScheduledSend, SendAt, Sender, SplitJob, TemplateId,
};
use fanmail_common::ports::{
    Clock, IdGenerator, ObjectStore, ObjectStoreError, OutgoingMessage, Queue, ScheduleSpec, Scheduler, SchedulerError,
};
use fanmail_common::store::campaigns::complete_if_done;
use fanmail_common::store::{CampaignStore, Ledger, RecipientStore, StoreError, TemplateStore};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use crate::views::{CampaignView, PageView, RecipientView};
use crate::{page_params, Deps, Ports};

/// How long a client's idempotency key maps to its campaign.
const IDEMPOTENCY_WINDOW: time::Duration = time::Duration::hours(24);
const MAX_SHARED_VARS: usize = 100;
const MAX_VAR_BYTES: usize = 10_000;

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
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScheduleInput {
    send_at: String,
    #[serde(default)]
    timezone: Option<String>,
}

/// The one-time schedule that starts `campaign` at `at`.
fn schedule_spec(campaign: &Campaign, at: &SendAt) -> ScheduleSpec {
    let payload = ScheduledSend { campaign_id: campaign.id.clone(), generation: campaign.schedule_generation };
    ScheduleSpec {
        name: campaign.schedule_name(),
        at: at.local,
        timezone: at.zone.clone(),
        payload: serde_json::to_string(&payload).expect("payloads serialise"),
    }
}

fn campaign_id(request: &ApiGatewayV2httpRequest) -> Result<CampaignId, ApiError> {
    CampaignId::parse(request.path_param("id").unwrap_or_default())
        .map_err(|e| ApiError::bad_request("invalid_campaign_id", e.to_string()))
}

/// The campaign, or a 404 naming it.
async fn existing<P: Ports>(deps: &Deps<P>, id: &CampaignId) -> Result<Campaign, ApiError> {
    deps.campaigns.get(id).await?.ok_or_else(|| ApiError::not_found(format!("campaign '{id}' does not exist")))
}

fn unprocessable(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(422, code, message)
}

/// Checks everything that does not need a lookup.
fn validate_shape(input: &CampaignInput, sender_domain: &str) -> Result<Sender, ApiError> {
    let address = EmailAddress::parse(&input.from.address)
        .map_err(|e| ApiError::bad_request("invalid_from", format!("'from.address' is not valid: {e}")))?;
    let domain = address.domain();
    if domain != sender_domain && !domain.ends_with(&format!(".{sender_domain}")) {
        return Err(ApiError::bad_request(
            "unverified_from",
            format!("'from.address' must be in the verified domain {sender_domain}, not {domain}"),
        ));
    }
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

    let now = deps.clock.now();
    let send_at = input
        .send_at
        .as_deref()
        .map(|at| SendAt::parse(at, input.timezone.as_deref(), now))
        .transpose()
        .map_err(|e| ApiError::bad_request("invalid_send_at", e.to_string()))?;
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
    };
    deps.campaigns.create(&campaign).await?;
    if let Some(at) = &send_at {
        if let Err(e) = deps.scheduler.create(&schedule_spec(&campaign, at)).await {
            let reason = "its schedule could not be created; create the campaign again";
            let _ = deps
                .campaigns
                .transition(&id, &[CampaignStatus::Scheduled], CampaignStatus::Failed, Some(reason), now)
                .await;
            return Err(e.into());
        }
        tracing::info!(campaign = %id, send_at = %at.instant, zone = %at.zone, "campaign scheduled");
        return Ok(json_response(202, &CampaignView::from(&campaign)));
    }
    let job = serde_json::to_string(&SplitJob::start(campaign.id.clone())).map_err(ApiError::internal)?;
    if let Err(e) = deps.split_jobs.send_all(&[OutgoingMessage::new("split", job)]).await {
        let reason = "the split job could not be queued; create the campaign again";
        let _ =
            deps.campaigns.transition(&id, &[CampaignStatus::Queued], CampaignStatus::Failed, Some(reason), now).await;
        return Err(e.into());
    }
    tracing::info!(campaign = %id, template = %campaign.template_id, version = campaign.template_version, "campaign queued");
    Ok(json_response(202, &CampaignView::from(&campaign)))
}

pub async fn get<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let campaign = existing(deps, &id).await?;
    Ok(json_response(200, &CampaignView::from(&campaign)))
}

pub async fn recipients<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let status: RecipientStatus = request
        .query("status")
        .unwrap_or("sent")
        .parse()
        .map_err(|e: String| ApiError::bad_request("bad_status", e))?;
    let (limit, cursor) = page_params(request)?;
    existing(deps, &id).await?;
    let page = deps.recipients.list_by_status(&id, status, limit, cursor).await?;
    Ok(json_response(
        200,
        &PageView { items: page.items.iter().map(RecipientView::from).collect(), next_cursor: page.next },
    ))
}

/// `PUT /campaigns/{id}/schedule`: a new send time for a scheduled campaign. The campaign's
/// schedule generation goes up first, so an invocation of the old schedule is refused as stale
/// even if it fires before the schedule is updated.
pub async fn reschedule<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let input: ScheduleInput = request.json_body()?;
    let campaign = existing(deps, &id).await?;
    if campaign.status != CampaignStatus::Scheduled {
        return Err(ApiError::conflict(format!(
            "only a scheduled campaign can be rescheduled; this one is {}",
            campaign.status
        )));
    }
    let now = deps.clock.now();
    let at = SendAt::parse(&input.send_at, input.timezone.as_deref(), now)
        .map_err(|e| ApiError::bad_request("invalid_send_at", e.to_string()))?;
    let campaign = deps.campaigns.reschedule(&id, campaign.schedule_generation, at.instant, now).await?;
    let spec = schedule_spec(&campaign, &at);
    let updated = match deps.scheduler.update(&spec).await {
        Err(SchedulerError::NotFound(_)) => deps.scheduler.create(&spec).await,
        other => other,
    };
    // The campaign already carries the new generation: the old schedule can no longer start it.
    updated?;
    tracing::info!(campaign = %id, send_at = %at.instant, zone = %at.zone, generation = campaign.schedule_generation, "campaign rescheduled");
    Ok(json_response(200, &CampaignView::from(&campaign)))
}

/// `POST /campaigns/{id}/cancel`: a scheduled campaign loses its schedule and sends nothing; a
/// running one stops (the splitter stops fanning out, the senders stop the recipients left).
pub async fn cancel<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let now = deps.clock.now();
    let live = [
        CampaignStatus::Scheduled,
        CampaignStatus::Queued,
        CampaignStatus::Splitting,
        CampaignStatus::Sending,
        CampaignStatus::Paused,
    ];
    let before = existing(deps, &id).await?;
    let campaign = match deps.campaigns.transition(&id, &live, CampaignStatus::Cancelled, Some("cancelled"), now).await
    {
        Ok(campaign) => campaign,
        Err(StoreError::Conflict { current }) => {
            return Err(ApiError::conflict(format!("a {current} campaign cannot be cancelled")));
        }
        Err(e) => return Err(e.into()),
    };
    if before.status == CampaignStatus::Scheduled {
        match deps.scheduler.delete(&campaign.schedule_name()).await {
            Ok(()) | Err(SchedulerError::NotFound(_)) => {}
            // Harmless if it stays: the trigger finds the campaign cancelled and does nothing.
            Err(e) => tracing::warn!(campaign = %id, error = %e, "schedule of a cancelled campaign not deleted"),
        }
    }
    tracing::info!(campaign = %id, was = %before.status, "campaign cancelled");
    Ok(json_response(200, &CampaignView::from(&campaign)))
}

/// `POST /campaigns/{id}/pause`: the splitter stops at its next flush and the senders park the
/// recipients they receive; nothing is sent and nothing is lost until the resume.
pub async fn pause<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let running = [CampaignStatus::Queued, CampaignStatus::Splitting, CampaignStatus::Sending];
    match deps.campaigns.transition(&id, &running, CampaignStatus::Paused, Some("paused"), deps.clock.now()).await {
        Ok(campaign) => {
            tracing::info!(campaign = %id, "campaign paused");
            Ok(json_response(200, &CampaignView::from(&campaign)))
        }
        Err(StoreError::Conflict { current }) => {
            Err(ApiError::conflict(format!("a {current} campaign cannot be paused")))
        }
        Err(e) => Err(e.into()),
    }
}

/// How long after a resume the parked recipients are looked for a second time: longer than a
/// sender's campaign cache (two seconds), so a sender that parked a recipient on a read taken
/// just before the resume is caught too.
pub const RESUME_SWEEP_DELAY: std::time::Duration = std::time::Duration::from_secs(3);

/// `POST /campaigns/{id}/resume`: the split continues where it stopped and every parked
/// recipient is queued again (a recipient queued twice is sent once: the claim decides).
pub async fn resume<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let campaign = existing(deps, &id).await?;
    let to = if campaign.split_finished { CampaignStatus::Sending } else { CampaignStatus::Splitting };
    let campaign = match deps.campaigns.transition(&id, &[CampaignStatus::Paused], to, None, deps.clock.now()).await {
        Ok(campaign) => campaign,
        Err(StoreError::Conflict { current }) => {
            return Err(ApiError::conflict(format!("a {current} campaign cannot be resumed")))
        }
        Err(e) => return Err(e.into()),
    };
    // Paused just as its last outcomes were counted: nothing is left to send.
    let campaign = complete_if_done(&deps.campaigns, campaign, deps.clock.now()).await?;
    if !campaign.split_finished {
        let job =
            SplitJob { campaign_id: id.clone(), resume_after_row: campaign.split_rows, run: campaign.report_parts };
        let body = serde_json::to_string(&job).map_err(ApiError::internal)?;
        deps.split_jobs.send_all(&[OutgoingMessage::new("resume", body)]).await?;
    }
    let mut requeued = requeue_parked(deps, &id).await?;
    tokio::time::sleep(RESUME_SWEEP_DELAY).await;
    requeued += requeue_parked(deps, &id).await?;
    tracing::info!(campaign = %id, requeued, "campaign resumed");
    Ok(json_response(202, &serde_json::json!({ "requeued": requeued, "campaign": CampaignView::from(&campaign) })))
}

/// Puts stored recipients back on the recipient queue; returns how many.
async fn requeue<P: Ports>(deps: &Deps<P>, recipients: &[Recipient]) -> Result<usize, ApiError> {
    let messages: Vec<OutgoingMessage> = recipients
        .iter()
        .enumerate()
        .map(|(i, r)| {
            OutgoingMessage::new(i.to_string(), serde_json::to_string(&RecipientJob::from(r)).expect("jobs serialise"))
        })
        .collect();
    deps.recipient_jobs.send_all(&messages).await?;
    Ok(messages.len())
}

/// Queues every recipient parked as `paused` again; returns how many.
async fn requeue_parked<P: Ports>(deps: &Deps<P>, id: &CampaignId) -> Result<usize, ApiError> {
    let mut count = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = deps.recipients.list_by_status(id, RecipientStatus::Paused, 1000, cursor.as_deref()).await?;
        count += requeue(deps, &page.items).await?;
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(count),
        }
    }
}

/// Re-queues the recipients that failed for a transient reason or were given back unsent;
/// recipients that SES rejected, that were sent, or that are suppressed stay as they are.
pub async fn retry_failed<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let campaign = existing(deps, &id).await?;
    if !matches!(campaign.status, CampaignStatus::Sending | CampaignStatus::Completed) {
        return Err(ApiError::conflict(format!(
            "only a sending or completed campaign can retry; this one is {}",
            campaign.status
        )));
    }
    let mut retry = Vec::new();
    let mut retryable_failures = 0i64;
    for status in [RecipientStatus::Failed, RecipientStatus::Queued] {
        let mut cursor: Option<String> = None;
        loop {
            let page = deps.recipients.list_by_status(&id, status, 1000, cursor.as_deref()).await?;
            for recipient in page.items {
                if status == RecipientStatus::Failed && !recipient.retryable {
                    continue;
                }
                if status == RecipientStatus::Failed {
                    retryable_failures += 1;
                }
                retry.push(recipient);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    if retry.is_empty() {
        return Ok(json_response(
            200,
            &serde_json::json!({ "requeued": 0, "campaign": CampaignView::from(&campaign) }),
        ));
    }
    let now = deps.clock.now();
    let mut campaign = campaign;
    if campaign.status == CampaignStatus::Completed {
        campaign =
            deps.campaigns.transition(&id, &[CampaignStatus::Completed], CampaignStatus::Sending, None, now).await?;
    }
    let requeued = requeue(deps, &retry).await?;
    // They are counted again when their new attempt ends.
    deps.campaigns.add_counters(&id, &CounterDelta::default().add(Counter::Failed, -retryable_failures)).await?;
    tracing::info!(campaign = %id, requeued, "failed recipients re-queued");
    Ok(json_response(202, &serde_json::json!({ "requeued": requeued, "campaign": CampaignView::from(&campaign) })))
}

/// Rejected rows, from the splitter's reports (one JSON line a row, one object a split run).
pub async fn rejected_rows<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let (limit, cursor) = page_params(request)?;
    let offset: usize = match cursor {
        None => 0,
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::bad_request("bad_cursor", "the 'cursor' parameter is not one this API issued"))?,
    };
    let campaign = existing(deps, &id).await?;
    let mut rows: Vec<RejectedRow> = Vec::new();
    for part in 0..campaign.report_parts {
        let mut text = String::new();
        match deps.objects.open(&rejected_rows_key(&id, part), 0).await {
            Ok(mut body) => {
                body.read_to_string(&mut text).await.map_err(ApiError::unavailable)?;
            }
            Err(ObjectStoreError::NotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        for line in text.lines().filter(|l| !l.is_empty()) {
            rows.push(serde_json::from_str(line).map_err(ApiError::internal)?);
        }
    }
    let end = (offset + limit as usize).min(rows.len());
    let next_cursor = (end < rows.len()).then(|| end.to_string());
    let items = rows.get(offset..end).unwrap_or_default().to_vec();
    Ok(json_response(200, &PageView { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use crate::test_support::{call, deps};
    use crate::{Deps, MemoryPorts};
    use fanmail_common::domain::{
        CampaignStatus, Counter, CounterDelta, EmailAddress, RecipientJob, RecipientStatus, SplitJob, Template,
        TemplateId,
    };
    use fanmail_common::ports::{Clock, ObjectStore};
    use fanmail_common::store::{CampaignStore, RecipientStore, TemplateStore};
    use serde_json::json;
    use time::macros::datetime;

    async fn ready() -> Deps<MemoryPorts> {
        let deps = deps();
        let template = Template {
            id: TemplateId::parse("welcome").unwrap(),
            version: 1,
            name: "w".into(),
            subject: "Hi {{name}}".into(),
            html: "<p>{{name}}</p>".into(),
            text: "{{name}}".into(),
            created_at: datetime!(2026-11-23 08:00 UTC),
        };
        deps.templates.put_version(&template).await.unwrap();
        deps.objects.put("lists/l1.csv", b"email,name\nkim@example.com,Kim\n".to_vec(), "text/csv").await.unwrap();
        deps
    }

    fn input() -> serde_json::Value {
        json!({"templateId": "welcome", "listKey": "lists/l1.csv", "from": {"address": "news@example.com", "name": "News"}, "vars": {"brand": "fanmail"}})
    }

    #[tokio::test]
    async fn a_valid_campaign_is_stored_queued_and_its_split_job_enqueued() {
        let deps = ready().await;
        let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
        assert_eq!(status, 202, "{json}");
        assert_eq!((json["status"].as_str(), json["templateVersion"].as_u64()), (Some("queued"), Some(1)));
        let id = json["id"].as_str().unwrap();
        let jobs = deps.split_jobs.sent();
        assert_eq!(jobs.len(), 1);
        assert_eq!(serde_json::from_str::<SplitJob>(&jobs[0].body).unwrap().campaign_id.as_str(), id);
        let (status, got) = call(&deps, "GET /campaigns/{id}", Some(id), &[], None).await;
        assert_eq!((status, got["counters"]["sent"].as_u64()), (200, Some(0)));
    }

    #[tokio::test]
    async fn bad_references_and_addresses_answer_4xx_and_queue_nothing() {
        let deps = ready().await;
        let cases = [
            (json!({"templateId": "nope"}), 422, "unknown_template"),
            (json!({"templateVersion": 7}), 422, "unknown_template"),
            (json!({"listKey": "lists/missing.csv"}), 422, "list_not_found"),
            (json!({"listKey": "../etc/passwd"}), 400, "invalid_list_key"),
            (json!({"from": {"address": "news@other.org"}}), 400, "unverified_from"),
            (json!({"from": {"address": "not an address"}}), 400, "invalid_from"),
            (json!({"from": {"address": "news@example.com", "name": "x\r\nBcc: y"}}), 400, "invalid_from"),
            (json!({"replyTo": "nope"}), 400, "invalid_reply_to"),
        ];
        for (patch, status, code) in cases {
            let mut body = input();
            for (k, v) in patch.as_object().unwrap() {
                body[k] = v.clone();
            }
            let (got, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
            assert_eq!((got, json["error"]["code"].as_str()), (status, Some(code)), "{patch}");
        }
        assert!(deps.split_jobs.sent().is_empty());
    }

    #[tokio::test]
    async fn a_retried_post_with_the_same_idempotency_key_returns_the_same_campaign() {
        let deps = ready().await;
        let mut body = input();
        body["idempotencyKey"] = json!("order-42");
        let (first_status, first) = call(&deps, "POST /campaigns", None, &[], Some(body.clone())).await;
        let (second_status, second) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        assert_eq!((first_status, second_status), (202, 200));
        assert_eq!(first["id"], second["id"]);
        assert_eq!(deps.split_jobs.sent().len(), 1);
    }

    #[tokio::test]
    async fn an_idempotency_key_expires_a_day_later_by_the_injected_clock() {
        let deps = ready().await;
        let mut body = input();
        body["idempotencyKey"] = json!("order-43");
        let (_, first) = call(&deps, "POST /campaigns", None, &[], Some(body.clone())).await;
        deps.clock.advance(time::Duration::hours(23));
        let (within_status, within) = call(&deps, "POST /campaigns", None, &[], Some(body.clone())).await;
        assert_eq!((within_status, &within["id"]), (200, &first["id"]), "23 hours on, the key still holds");
        deps.clock.advance(time::Duration::hours(2));
        let (after_status, after) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        assert_eq!(after_status, 202, "25 hours on, the key has expired: {after}");
        assert_ne!(after["id"], first["id"]);
        assert_eq!(deps.split_jobs.sent().len(), 2);
    }

    #[tokio::test]
    async fn retry_failed_requeues_only_transient_failures_and_given_back_recipients() {
        use fanmail_common::domain::{Recipient, RecipientId, SendOutcome};
        let deps = ready().await;
        let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
        let id = fanmail_common::domain::CampaignId::parse(created["id"].as_str().unwrap()).unwrap();
        let at = datetime!(2026-11-23 09:00 UTC);
        for (n, status, retryable) in [
            (1, RecipientStatus::Failed, true),
            (2, RecipientStatus::Failed, false),
            (3, RecipientStatus::Sent, false),
            (4, RecipientStatus::Queued, false),
        ] {
            let job = RecipientJob {
                campaign_id: id.clone(),
                recipient_id: RecipientId::parse(format!("r{n}")).unwrap(),
                address: EmailAddress::parse(&format!("u{n}@example.com")).unwrap(),
                vars: Default::default(),
                row: n + 1,
            };
            deps.recipients.claim(&Recipient::from_job(&job, at), at, at).await.unwrap();
            let mut outcome = SendOutcome::new(job.recipient_id.clone(), status);
            outcome.retryable = retryable;
            deps.recipients.finish(&id, &outcome, at).await.unwrap();
        }
        for from in [CampaignStatus::Queued, CampaignStatus::Splitting, CampaignStatus::Sending] {
            let to = match from {
                CampaignStatus::Queued => CampaignStatus::Splitting,
                CampaignStatus::Splitting => CampaignStatus::Sending,
                _ => CampaignStatus::Completed,
            };
            deps.campaigns.transition(&id, &[from], to, None, at).await.unwrap();
        }
        deps.campaigns
            .add_counters(&id, &CounterDelta::default().add(Counter::Failed, 2).add(Counter::Sent, 1))
            .await
            .unwrap();

        let (status, json) = call(&deps, "POST /campaigns/{id}/retry-failed", Some(id.as_str()), &[], None).await;
        assert_eq!((status, json["requeued"].as_u64()), (202, Some(2)), "{json}");
        let requeued: Vec<String> = deps
            .recipient_jobs
            .sent()
            .iter()
            .map(|m| serde_json::from_str::<RecipientJob>(&m.body).unwrap().recipient_id.to_string())
            .collect();
        assert_eq!(requeued, ["r1", "r4"]);
        let campaign = deps.campaigns.get(&id).await.unwrap().unwrap();
        assert_eq!((campaign.status, campaign.counters.failed), (CampaignStatus::Sending, 1));
    }

    #[tokio::test]
    async fn a_scheduled_campaign_gets_one_schedule_and_queues_nothing_yet() {
        use fanmail_common::domain::ScheduledSend;
        let deps = ready().await;
        let mut body = input();
        body["sendAt"] = json!("2026-11-24T18:30");
        body["timezone"] = json!("Asia/Seoul");
        let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        assert_eq!((status, json["status"].as_str()), (202, Some("scheduled")), "{json}");
        assert_eq!(json["sendAt"], "2026-11-24T09:30:00Z");
        assert!(deps.split_jobs.sent().is_empty());
        let schedules = deps.scheduler.all();
        assert_eq!(schedules.len(), 1);
        assert_eq!((schedules[0].at, schedules[0].timezone.as_str()), (datetime!(2026-11-24 18:30), "Asia/Seoul"));
        let payload: ScheduledSend = serde_json::from_str(&schedules[0].payload).unwrap();
        assert_eq!((payload.campaign_id.as_str(), payload.generation), (json["id"].as_str().unwrap(), 1));
    }

    #[tokio::test]
    async fn a_send_time_in_the_past_or_unreadable_is_400_and_creates_nothing() {
        let deps = ready().await;
        for (send_at, zone) in
            [("2026-11-23T08:00:00Z", None), ("tomorrow", None), ("2026-12-01T09:00", Some("Nowhere/City"))]
        {
            let mut body = input();
            body["sendAt"] = json!(send_at);
            if let Some(zone) = zone {
                body["timezone"] = json!(zone);
            }
            let (status, json) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
            assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_send_at")), "{send_at}: {json}");
        }
        assert!(deps.scheduler.all().is_empty());
        assert!(deps.split_jobs.sent().is_empty());
    }

    #[tokio::test]
    async fn rescheduling_moves_the_schedule_and_supersedes_the_old_generation() {
        use fanmail_common::domain::ScheduledSend;
        let deps = ready().await;
        let mut body = input();
        body["sendAt"] = json!("2026-11-24T00:00:00Z");
        let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        let id = created["id"].as_str().unwrap();
        let (status, json) = call(
            &deps,
            "PUT /campaigns/{id}/schedule",
            Some(id),
            &[],
            Some(json!({"sendAt": "2026-11-25T12:00:00+09:00"})),
        )
        .await;
        assert_eq!((status, json["sendAt"].as_str()), (200, Some("2026-11-25T03:00:00Z")), "{json}");
        let schedules = deps.scheduler.all();
        assert_eq!((schedules.len(), schedules[0].at), (1, datetime!(2026-11-25 03:00)));
        let payload: ScheduledSend = serde_json::from_str(&schedules[0].payload).unwrap();
        assert_eq!(payload.generation, 2);
    }

    #[tokio::test]
    async fn cancelling_a_scheduled_campaign_deletes_its_schedule_and_a_finished_one_is_409() {
        let deps = ready().await;
        let mut body = input();
        body["sendAt"] = json!("2026-11-24T00:00:00Z");
        let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(body)).await;
        let id = created["id"].as_str().unwrap();
        let (status, json) = call(&deps, "POST /campaigns/{id}/cancel", Some(id), &[], None).await;
        assert_eq!((status, json["status"].as_str()), (200, Some("cancelled")));
        assert!(deps.scheduler.all().is_empty());
        let (status, json) = call(&deps, "POST /campaigns/{id}/cancel", Some(id), &[], None).await;
        assert_eq!(status, 409);
        assert!(json["error"]["message"].as_str().unwrap().contains("cancelled"), "{json}");
        let (status, _) =
            call(&deps, "PUT /campaigns/{id}/schedule", Some(id), &[], Some(json!({"sendAt": "2026-11-25T00:00:00Z"})))
                .await;
        assert_eq!(status, 409);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_parks_and_resume_requeues_the_parked_recipients_and_the_rest_of_the_split() {
        use fanmail_common::domain::{Recipient, RecipientId, SendOutcome, SplitTotals};
        let deps = ready().await;
        let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
        let id = fanmail_common::domain::CampaignId::parse(created["id"].as_str().unwrap()).unwrap();
        let at = datetime!(2026-11-23 09:00 UTC);
        deps.campaigns.transition(&id, &[CampaignStatus::Queued], CampaignStatus::Splitting, None, at).await.unwrap();
        let (status, json) = call(&deps, "POST /campaigns/{id}/pause", Some(id.as_str()), &[], None).await;
        assert_eq!((status, json["status"].as_str()), (200, Some("paused")));
        // What the splitter and a sender record while it is paused.
        let totals = SplitTotals { total: 200, queued: 200, rows_done: 200, report_parts: 1, ..Default::default() };
        deps.campaigns.set_split_totals(&id, &totals).await.unwrap();
        let job = RecipientJob {
            campaign_id: id.clone(),
            recipient_id: RecipientId::parse("r1").unwrap(),
            address: EmailAddress::parse("u1@example.com").unwrap(),
            vars: Default::default(),
            row: 2,
        };
        deps.recipients.claim(&Recipient::from_job(&job, at), at, at).await.unwrap();
        deps.recipients
            .finish(&id, &SendOutcome::new(job.recipient_id.clone(), RecipientStatus::Paused), at)
            .await
            .unwrap();

        let (status, json) = call(&deps, "POST /campaigns/{id}/resume", Some(id.as_str()), &[], None).await;
        assert_eq!((status, json["campaign"]["status"].as_str()), (202, Some("splitting")), "{json}");
        let split: Vec<SplitJob> =
            deps.split_jobs.sent().iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
        assert_eq!((split.last().unwrap().resume_after_row, split.last().unwrap().run), (200, 1));
        let requeued: Vec<RecipientJob> =
            deps.recipient_jobs.sent().iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
        assert!(requeued.iter().all(|j| j.recipient_id.as_str() == "r1") && !requeued.is_empty());
        let (status, _) = call(&deps, "POST /campaigns/{id}/resume", Some(id.as_str()), &[], None).await;
        assert_eq!(status, 409, "a running campaign cannot be resumed");
    }

    /// A created campaign moved to `sending` with every one of its `total` recipients sent.
    async fn sent_in_full(deps: &Deps<MemoryPorts>, total: u64) -> fanmail_common::domain::CampaignId {
        use fanmail_common::domain::SplitTotals;
        let (_, created) = call(deps, "POST /campaigns", None, &[], Some(input())).await;
        let id = fanmail_common::domain::CampaignId::parse(created["id"].as_str().unwrap()).unwrap();
        let at = deps.clock.now();
        deps.campaigns.transition(&id, &[CampaignStatus::Queued], CampaignStatus::Splitting, None, at).await.unwrap();
        let totals = SplitTotals { total, queued: total, finished: true, ..Default::default() };
        deps.campaigns.set_split_totals(&id, &totals).await.unwrap();
        deps.campaigns.transition(&id, &[CampaignStatus::Splitting], CampaignStatus::Sending, None, at).await.unwrap();
        deps.campaigns.add_counters(&id, &CounterDelta::default().add(Counter::Sent, total as i64)).await.unwrap();
        id
    }

    #[tokio::test]
    async fn reading_a_campaign_never_changes_it() {
        let deps = ready().await;
        let id = sent_in_full(&deps, 2).await;
        let before = deps.campaigns.get(&id).await.unwrap().unwrap();
        let (status, json) = call(&deps, "GET /campaigns/{id}", Some(id.as_str()), &[], None).await;
        assert_eq!((status, json["status"].as_str()), (200, Some("sending")));
        assert_eq!(deps.campaigns.get(&id).await.unwrap().unwrap(), before, "a GET writes nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn resuming_a_campaign_whose_every_outcome_is_counted_completes_it() {
        let deps = ready().await;
        let id = sent_in_full(&deps, 2).await;
        let at = deps.clock.now();
        deps.campaigns.transition(&id, &[CampaignStatus::Sending], CampaignStatus::Paused, None, at).await.unwrap();
        let (status, json) = call(&deps, "POST /campaigns/{id}/resume", Some(id.as_str()), &[], None).await;
        assert_eq!(
            (status, json["campaign"]["status"].as_str(), json["requeued"].as_u64()),
            (202, Some("completed"), Some(0))
        );
    }

    #[tokio::test]
    async fn unknown_campaigns_are_404_and_bad_status_filters_400() {
        let deps = ready().await;
        assert_eq!(call(&deps, "GET /campaigns/{id}", Some("nope"), &[], None).await.0, 404);
        let (_, created) = call(&deps, "POST /campaigns", None, &[], Some(input())).await;
        let id = created["id"].as_str().unwrap();
        let (status, json) =
            call(&deps, "GET /campaigns/{id}/recipients", Some(id), &[("status", "weird")], None).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some("bad_status")));
        let (status, json) = call(&deps, "GET /campaigns/{id}/rejected-rows", Some(id), &[], None).await;
        assert_eq!((status, json["items"].as_array().map(Vec::len)), (200, Some(0)));
    }
}
