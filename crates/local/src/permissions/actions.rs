//! The IAM actions a signed SDK request needs, and the resources (ARNs) it needs them on, as
//! IAM's service authorization reference lists them for the operations fanmail calls.

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use serde_json::Value;

use crate::metering::signing_service;
use crate::resolve::{ACCOUNT_ID, REGION};

/// One permission a request needs: `dynamodb:GetItem` on a table's ARN, say.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Needed {
    pub action: String,
    pub resource: String,
}

fn needed(action: impl Into<String>, resource: impl Into<String>) -> Needed {
    Needed { action: action.into(), resource: resource.into() }
}

fn arn(service: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}")
}

/// What `request` needs. A request this does not know gets the action `<service>:?`, which no
/// policy allows, so the check names it instead of passing it over.
pub fn needed_by(request: &HttpRequest) -> Vec<Needed> {
    let headers = request.headers();
    let service = signing_service(request);
    let body: Value = request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or(Value::Null);
    let target = headers.get("x-amz-target").map(|t| t.rsplit('.').next().unwrap_or(t).to_string());
    let (path, query) = path_and_query(request.uri());
    let out = match (service.as_str(), target) {
        ("dynamodb", Some(operation)) => dynamodb(&operation, &body),
        ("sqs", Some(operation)) => sqs(&operation, &body),
        ("secretsmanager", Some(operation)) => {
            let secret = body["SecretId"].as_str().unwrap_or_default();
            let resource = if secret.starts_with("arn:") {
                secret.to_string()
            } else {
                arn("secretsmanager", &format!("secret:{secret}"))
            };
            vec![needed(format!("secretsmanager:{operation}"), resource)]
        }
        ("s3", None) => s3(request.method(), &path, &query, headers.get("x-amz-copy-source")),
        ("ses", None) => ses(request.method(), &path, &body),
        ("scheduler", None) => scheduler(request.method(), &path, &query, &body),
        _ => Vec::new(),
    };
    if out.is_empty() {
        return vec![needed(format!("{service}:?"), format!("{} {path}", request.method()))];
    }
    out
}

fn path_and_query(uri: &str) -> (String, String) {
    let rest = uri.split("://").nth(1).map_or(uri, |r| r.split_once('/').map_or("", |(_, p)| p));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    (format!("/{path}"), query.to_string())
}

fn table(name: &str) -> String {
    arn("dynamodb", &format!("table/{name}"))
}

fn dynamodb(operation: &str, body: &Value) -> Vec<Needed> {
    let action = |op: &str| format!("dynamodb:{op}");
    match operation {
        "BatchGetItem" | "BatchWriteItem" => body["RequestItems"]
            .as_object()
            .map(|tables| tables.keys().map(|t| needed(action(operation), table(t))).collect())
            .unwrap_or_default(),
        "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                let (kind, inner) = item.as_object()?.iter().next()?;
                let op = match kind.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    _ => return None,
                };
                Some(needed(action(op), table(inner["TableName"].as_str()?)))
            })
            .collect(),
        _ => {
            let Some(name) = body["TableName"].as_str() else { return Vec::new() };
            let resource = match body["IndexName"].as_str() {
                Some(index) => format!("{}/index/{index}", table(name)),
                None => table(name),
            };
            vec![needed(action(operation), resource)]
        }
    }
}

fn sqs(operation: &str, body: &Value) -> Vec<Needed> {
    let Some(url) = body["QueueUrl"].as_str() else { return Vec::new() };
    let name = url.rsplit('/').next().unwrap_or_default();
    // The batch operations are authorized as their single forms.
    let action = operation.strip_suffix("Batch").unwrap_or(operation);
    vec![needed(format!("sqs:{action}"), arn("sqs", name))]
}

/// Path-style addressing (what the local endpoint is reached with): `/bucket/key`.
fn s3(method: &str, path: &str, query: &str, copy_source: Option<&str>) -> Vec<Needed> {
    let rest = path.trim_start_matches('/');
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let object = |bucket: &str, key: &str| format!("arn:aws:s3:::{bucket}/{key}");
    if key.is_empty() {
        return match method {
            "GET" if query.contains("list-type=2") || query.is_empty() => {
                vec![needed("s3:ListBucket", format!("arn:aws:s3:::{bucket}"))]
            }
            _ => Vec::new(),
        };
    }
    let mut out = match method {
        "GET" | "HEAD" => vec![needed("s3:GetObject", object(bucket, key))],
        "PUT" => vec![needed("s3:PutObject", object(bucket, key))],
        "DELETE" => vec![needed("s3:DeleteObject", object(bucket, key))],
        _ => Vec::new(),
    };
    if let Some(source) = copy_source {
        let source = source.trim_start_matches('/');
        out.push(needed("s3:GetObject", format!("arn:aws:s3:::{}", source.split('?').next().unwrap_or(source))));
    }
    out
}

fn ses(method: &str, path: &str, body: &Value) -> Vec<Needed> {
    match (method, path) {
        ("POST", "/v2/email/outbound-emails") => {
            let from = body["FromEmailAddress"].as_str().unwrap_or_default();
            let domain = from.rsplit('@').next().unwrap_or_default().trim_end_matches('>');
            let mut out = vec![needed("ses:SendEmail", arn("ses", &format!("identity/{domain}")))];
            if let Some(set) = body["ConfigurationSetName"].as_str() {
                out.push(needed("ses:SendEmail", arn("ses", &format!("configuration-set/{set}"))));
            }
            out
        }
        ("GET", "/v2/email/account") => vec![needed("ses:GetAccount", "*")],
        ("GET", p) if p.starts_with("/v2/email/identities/") => {
            vec![needed(
                "ses:GetEmailIdentity",
                arn("ses", &format!("identity/{}", &p["/v2/email/identities/".len()..])),
            )]
        }
        _ => Vec::new(),
    }
}

fn scheduler(method: &str, path: &str, query: &str, body: &Value) -> Vec<Needed> {
    let Some(name) = path.strip_prefix("/schedules/") else { return Vec::new() };
    let group = body["GroupName"]
        .as_str()
        .map(str::to_string)
        .or_else(|| query.split('&').find_map(|pair| pair.strip_prefix("groupName=").map(str::to_string)));
    let resource = arn("scheduler", &format!("schedule/{}/{name}", group.as_deref().unwrap_or("default")));
    let action = match method {
        "POST" => "CreateSchedule",
        "PUT" => "UpdateSchedule",
        "DELETE" => "DeleteSchedule",
        "GET" => "GetSchedule",
        _ => return Vec::new(),
    };
    let mut out = vec![needed(format!("scheduler:{action}"), resource)];
    if let Some(role) = body.pointer("/Target/RoleArn").and_then(Value::as_str) {
        out.push(needed("iam:PassRole", role));
    }
    out
}
