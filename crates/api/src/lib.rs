//! The campaign and template API behind API Gateway (HTTP API, payload v2).
//!
//! Routes are dispatched on API Gateway's `routeKey` (`GET /campaigns/{id}`), the same key the
//! template declares and the local runner reproduces.
//!
//! # Layout
//!
//! - `templates`: create, read, list, update (a new version), delete.
//! - `preview`: one row's mail rendered exactly as the sender would send it.
//! - `campaigns/`: `create` (validated, idempotent), `reads` (the newest-first list, status and
//!   counters, recipients, rejected rows; nothing there writes), `lifecycle` (reschedule, cancel, pause, resume,
//!   retry of failed recipients), `dry_run` (what a campaign would do), `test_send` (one row's
//!   mail to the sender's own addresses), and their tests.
//! - `stats`: mails sent in the last N hours.
//! - `suppressions`: list, check, add and lift suppressions.
//! - `unsubscribe`: the public one-click unsubscribe page and endpoint (RFC 8058).
//! - `views`: the JSON shapes the API answers with.

mod audit;
mod campaigns;
mod one_click;
mod preview;
mod stats;
mod suppressions;
mod templates;
mod unsubscribe;
mod views;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::aws::ScheduleTarget;
use fanmail_common::config::{vars, ConfigError, Env};
use fanmail_common::domain::UnsubscribeKey;
use fanmail_common::ports::{Clock, UnsubscribeKeys};
use fanmail_common::store::iam::{Port, Uses};
use fanmail_common::system::{RandomIds, SystemClock};
use fanmail_common::wiring::{AwsAdapters, AwsPorts, MemoryAdapters, MemoryPorts, Ports};
use lambda_runtime::{Error, LambdaEvent};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub templates_table: String,
    pub campaigns_table: String,
    pub recipients_table: String,
    pub suppressions_table: String,
    pub ledger_table: String,
    pub audit_table: String,
    pub bucket: String,
    pub split_jobs_queue_url: String,
    /// Every campaign's From address must be in this domain (the verified SES identity).
    pub sender_domain: String,
    pub schedule: ScheduleTarget,
    pub unsubscribe_secret_arn: String,
    /// The API's public URL, where unsubscribe links point.
    pub public_base_url: String,
    /// The deployment's ceiling on mails a second (the senders' `MAX_SEND_RATE`), for a dry
    /// run's estimate.
    pub max_send_rate: f64,
}

impl Config {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            templates_table: env.required(vars::TEMPLATES_TABLE)?,
            campaigns_table: env.required(vars::CAMPAIGNS_TABLE)?,
            recipients_table: env.required(vars::RECIPIENTS_TABLE)?,
            suppressions_table: env.required(vars::SUPPRESSIONS_TABLE)?,
            ledger_table: env.required(vars::LEDGER_TABLE)?,
            audit_table: env.required(vars::AUDIT_TABLE)?,
            bucket: env.required(vars::UPLOAD_BUCKET)?,
            split_jobs_queue_url: env.required(vars::SPLIT_JOBS_QUEUE_URL)?,
            sender_domain: env.required(vars::SENDER_DOMAIN)?.to_ascii_lowercase(),
            schedule: ScheduleTarget {
                group: env.required(vars::SCHEDULE_GROUP)?,
                target_arn: env.required(vars::SCHEDULE_TARGET_ARN)?,
                role_arn: env.required(vars::SCHEDULE_ROLE_ARN)?,
                dead_letter_arn: env.optional(vars::SCHEDULE_DLQ_ARN),
            },
            unsubscribe_secret_arn: env.required(vars::UNSUBSCRIBE_SECRET_ARN)?,
            public_base_url: env.required(vars::PUBLIC_BASE_URL)?.trim_end_matches('/').to_string(),
            max_send_rate: env.parsed(vars::MAX_SEND_RATE, 14.0)?,
        })
    }
}

/// Everything the API talks to.
pub struct Deps<P: Ports> {
    pub templates: P::Templates,
    pub campaigns: P::Campaigns,
    pub recipients: P::Recipients,
    pub suppressions: P::Suppressions,
    pub ledger: P::Ledger,
    /// Who changed what: written by every route that changes state, read by `GET /audit`.
    pub audit: P::Audit,
    /// An unsubscribe's result on its recipient, with its count.
    pub results: P::ResultLog,
    pub objects: P::Objects,
    pub split_jobs: P::Queue,
    pub scheduler: P::Scheduler,
    /// Reads the account's send quota (a dry run's estimate) and sends test mails.
    pub mailer: P::Mailer,
    pub clock: P::Clock,
    pub ids: P::Ids,
    pub config: Config,
    /// Make and verify unsubscribe tokens; read again on a link made with a key rotated in
    /// since the cold start. While the secret cannot be read, the routes that need it answer
    /// 503 and the others work.
    pub unsubscribe_keys: UnsubscribeKeys,
}

impl<P: Ports> Deps<P> {
    /// The unsubscribe keys, or a 503 while the secret cannot be read.
    pub(crate) async fn unsubscribe_key(&self) -> Result<UnsubscribeKey, ApiError> {
        self.unsubscribe_keys.current(self.clock.now()).await.ok_or_else(|| {
            ApiError::new(503, "unsubscribe_key_unavailable", "the unsubscribe key could not be read; try again later")
        })
    }
}

/// The store methods this function's code can call (the static half of the permission check).
pub const STORES: &[Uses] = &[
    Uses { port: Port::Templates, methods: &["put_version", "get", "list", "delete"] },
    Uses {
        port: Port::Campaigns,
        methods: &["get", "list", "create", "transition", "reschedule", "set_requeue_progress"],
    },
    Uses { port: Port::Recipients, methods: &["list_by_status"] },
    Uses { port: Port::Suppressions, methods: &["suppressed_among", "put", "add", "find", "remove", "list"] },
    // Idempotency keys of `POST /campaigns`; today's sent count.
    Uses { port: Port::Ledger, methods: &["record_once", "sent_between"] },
    Uses { port: Port::Audit, methods: &["record", "list"] },
    // An unsubscribe's result.
    Uses { port: Port::ResultLog, methods: &["record"] },
];

impl Deps<AwsPorts> {
    /// The production wiring, shared by `main.rs` and the local runner.
    pub fn aws(aws: &AwsAdapters, config: Config, unsubscribe_keys: UnsubscribeKeys) -> Self {
        Self {
            templates: aws.templates(&config.templates_table),
            campaigns: aws.campaigns(&config.campaigns_table),
            recipients: aws.recipients(&config.recipients_table),
            suppressions: aws.suppressions(&config.suppressions_table),
            ledger: aws.ledger(&config.ledger_table),
            audit: aws.audit(&config.audit_table),
            results: aws.result_log(&config.recipients_table, &config.campaigns_table),
            objects: aws.objects(&config.bucket),
            split_jobs: aws.queue(&config.split_jobs_queue_url),
            scheduler: aws.scheduler(config.schedule.clone()),
            mailer: aws.mailer(None),
            clock: SystemClock,
            ids: RandomIds,
            config,
            unsubscribe_keys,
        }
    }
}

impl Deps<MemoryPorts> {
    /// Wired to one in-memory world.
    pub fn memory(world: &MemoryAdapters, config: Config, unsubscribe_key: Option<UnsubscribeKey>) -> Self {
        Self {
            templates: world.templates.clone(),
            campaigns: world.campaigns.clone(),
            recipients: world.recipients.clone(),
            suppressions: world.suppressions.clone(),
            ledger: world.ledger.clone(),
            audit: world.audit.clone(),
            results: world.result_log(),
            objects: world.objects.clone(),
            split_jobs: world.split_jobs.clone(),
            scheduler: world.scheduler.clone(),
            mailer: world.mailer.clone(),
            clock: world.clock.clone(),
            ids: world.ids.clone(),
            config,
            unsubscribe_keys: UnsubscribeKeys::fixed(unsubscribe_key),
        }
    }
}

pub async fn handler<P: Ports>(
    deps: &Deps<P>,
    event: LambdaEvent<ApiGatewayV2httpRequest>,
) -> Result<ApiGatewayV2httpResponse, Error> {
    let request = event.payload;
    let route = request.route().to_string();
    let result = match route.as_str() {
        "GET /health" => Ok(health(deps)),
        "POST /templates" => templates::create(deps, &request).await,
        "GET /templates" => templates::list(deps, &request).await,
        "GET /templates/{id}" => templates::get(deps, &request).await,
        "PUT /templates/{id}" => templates::update(deps, &request).await,
        "DELETE /templates/{id}" => templates::delete(deps, &request).await,
        "POST /templates/{id}/preview" => preview::preview(deps, &request).await,
        "POST /templates/{id}/test" => campaigns::send_template_test(deps, &request).await,
        "POST /campaigns" => campaigns::create(deps, &request).await,
        "GET /campaigns" => campaigns::list(deps, &request).await,
        "GET /campaigns/{id}" => campaigns::get(deps, &request).await,
        "GET /campaigns/{id}/recipients" => campaigns::recipients(deps, &request).await,
        "GET /campaigns/{id}/rejected-rows" => campaigns::rejected_rows(deps, &request).await,
        "POST /campaigns/{id}/retry-failed" => campaigns::retry_failed(deps, &request).await,
        "PUT /campaigns/{id}/schedule" => campaigns::reschedule(deps, &request).await,
        "POST /campaigns/{id}/cancel" => campaigns::cancel(deps, &request).await,
        "POST /campaigns/{id}/pause" => campaigns::pause(deps, &request).await,
        "POST /campaigns/{id}/resume" => campaigns::resume(deps, &request).await,
        "POST /campaigns/{id}/test" => campaigns::send_test(deps, &request).await,
        "GET /stats/sent" => stats::sent(deps, &request).await,
        "GET /audit" => audit::list(deps, &request).await,
        "GET /suppressions" => suppressions::list(deps, &request).await,
        "POST /suppressions" => suppressions::add(deps, &request).await,
        "GET /suppressions/{address}" => suppressions::get(deps, &request).await,
        "DELETE /suppressions/{address}" => suppressions::remove(deps, &request).await,
        // Public pages answer HTML, not the JSON error shape.
        "GET /unsubscribe" => Ok(unsubscribe::confirm_page(deps, &request).await),
        "POST /unsubscribe" => Ok(unsubscribe::one_click(deps, &request).await),
        other => Err(ApiError::not_found(format!("no route '{other}'"))),
    };
    Ok(result.unwrap_or_else(ApiError::into_response))
}

fn health<P: Ports>(deps: &Deps<P>) -> ApiGatewayV2httpResponse {
    json_response(
        200,
        &serde_json::json!({
            "status": "ok",
            "service": "fanmail",
            "version": env!("CARGO_PKG_VERSION"),
            "time": deps.clock.now().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        }),
    )
}

/// A From address the campaign may use: valid, and in the verified sending domain (or one of
/// its subdomains).
fn verified_from(raw: &str, sender_domain: &str) -> Result<fanmail_common::domain::EmailAddress, ApiError> {
    let address = fanmail_common::domain::EmailAddress::parse(raw)
        .map_err(|e| ApiError::bad_request("invalid_from", format!("'from.address' is not valid: {e}")))?;
    let domain = address.domain();
    if domain != sender_domain && !domain.ends_with(&format!(".{sender_domain}")) {
        return Err(ApiError::bad_request(
            "unverified_from",
            format!("'from.address' must be in the verified domain {sender_domain}, not {domain}"),
        ));
    }
    Ok(address)
}

/// `limit` and `cursor` query parameters.
fn page_params(request: &ApiGatewayV2httpRequest) -> Result<(u32, Option<&str>), ApiError> {
    let limit = match request.query("limit") {
        None => 50,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=1000).contains(l))
            .ok_or_else(|| ApiError::bad_request("bad_limit", "'limit' must be a whole number from 1 to 1000"))?,
    };
    Ok((limit, request.query("cursor")))
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use aws_lambda_events::encodings::Body;
    use time::macros::datetime;

    pub fn deps() -> Deps<MemoryPorts> {
        let env = Env::from_lookup(|k| {
            Some(match k {
                vars::SENDER_DOMAIN => "example.com".to_string(),
                vars::MAX_SEND_RATE => "14".to_string(),
                other => format!("value-of-{other}"),
            })
        });
        Deps::memory(&MemoryAdapters::at(datetime!(2026-11-23 09:00 UTC)), Config::from_env(&env).unwrap(), Some(key()))
    }

    pub const KEY: &[u8] = b"an api test key, thirty-two bytes or more";

    pub fn key() -> UnsubscribeKey {
        UnsubscribeKey::new(KEY.to_vec()).unwrap()
    }

    /// The IAM principal [`call`] calls as.
    pub const TESTER: &str = "arn:aws:iam::123456789012:user/tester";

    /// Calls the API like API Gateway would, as [`TESTER`]; returns status and JSON body
    /// (Null when empty).
    pub async fn call(
        deps: &Deps<MemoryPorts>,
        route: &str,
        path_id: Option<&str>,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> (i64, serde_json::Value) {
        call_as(deps, TESTER, route, path_id, query, body).await
    }

    /// What API Gateway's IAM authorizer adds: the verified caller.
    pub fn signed_by(request: &mut ApiGatewayV2httpRequest, caller: &str) {
        let mut iam = aws_lambda_events::apigw::ApiGatewayRequestAuthorizerIamDescription::default();
        iam.user_arn = Some(caller.to_string());
        let mut authorizer = aws_lambda_events::apigw::ApiGatewayRequestAuthorizer::default();
        authorizer.iam = Some(iam);
        request.request_context.authorizer = Some(authorizer);
    }

    /// [`call`] as `caller`, the principal API Gateway's IAM authorizer verified.
    pub async fn call_as(
        deps: &Deps<MemoryPorts>,
        caller: &str,
        route: &str,
        path_id: Option<&str>,
        query: &[(&str, &str)],
        body: Option<serde_json::Value>,
    ) -> (i64, serde_json::Value) {
        let mut req = ApiGatewayV2httpRequest::default();
        signed_by(&mut req, caller);
        req.route_key = Some(route.into());
        if let Some(id) = path_id {
            req.path_parameters.insert("id".into(), id.into());
        }
        let query: String = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        req.query_string_parameters = query.parse().unwrap();
        req.body = body.map(|b| b.to_string());
        let res = handler(deps, LambdaEvent::new(req, Default::default())).await.unwrap();
        let json = match res.body {
            Some(Body::Text(text)) if !text.is_empty() => serde_json::from_str(&text).unwrap(),
            _ => serde_json::Value::Null,
        };
        (res.status_code, json)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[tokio::test]
    async fn health_answers_ok_with_the_clock_time() {
        let (status, json) = call(&deps(), "GET /health", None, &[], None).await;
        assert_eq!(status, 200);
        assert_eq!(json["status"], "ok");
        assert_eq!(json["time"], "2026-11-23T09:00:00Z");
    }

    #[tokio::test]
    async fn without_the_unsubscribe_key_health_answers_and_only_link_routes_are_503() {
        let mut deps = deps();
        deps.unsubscribe_keys = fanmail_common::ports::UnsubscribeKeys::fixed(None);
        let (status, json) = call(&deps, "GET /health", None, &[], None).await;
        assert_eq!((status, json["status"].as_str()), (200, Some("ok")));
        let (status, _) = call(&deps, "GET /campaigns", None, &[], None).await;
        assert_eq!(status, 200);
        let template = serde_json::json!({"id": "t", "name": "t", "subject": "Hi", "html": "<p>x</p>"});
        call(&deps, "POST /templates", None, &[], Some(template)).await;
        let row = serde_json::json!({"row": {"email": "kim@example.com"}});
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("t"), &[], Some(row)).await;
        assert_eq!((status, json["error"]["code"].as_str()), (503, Some("unsubscribe_key_unavailable")), "{json}");
    }

    #[tokio::test]
    async fn an_unknown_route_is_a_json_404() {
        let (status, json) = call(&deps(), "GET /nope", None, &[], None).await;
        assert_eq!(status, 404);
        assert_eq!(json["error"]["code"], "not_found");
    }

    #[test]
    fn config_names_the_missing_variable() {
        let env = Env::from_lookup(|k| (k != vars::SENDER_DOMAIN).then(|| "x".to_string()));
        assert_eq!(Config::from_env(&env), Err(ConfigError::Missing(vars::SENDER_DOMAIN.into())));
    }
}
