//! `POST /templates/{id}/preview`: one row's mail rendered exactly as the sender would send it
//! (the same composition: variables, one-click unsubscribe link and headers, message tags), so
//! a mail can be seen before it goes to a list. The row is given as JSON, or as a row number of
//! an uploaded list (read as the splitter reads it). A row that lacks a variable the template reads
//! is answered with the names it lacks, never rendered with blanks.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::compose::{compose, Envelope, MailInput};
use fanmail_common::domain::{CampaignId, EmailAddress, Sender, TemplateId};
use fanmail_common::ports::{ObjectStore, ObjectStoreError};
use fanmail_common::recipient_list::{
    is_workbook, read_single_row, recipient_id, ListError, ListRow, RecipientList, SingleRow,
};
use fanmail_common::render::MailTemplate;
use fanmail_common::store::TemplateStore;
use serde::{Deserialize, Serialize};

use crate::{Deps, Ports};

/// The campaign a preview's unsubscribe link names.
const PREVIEW_CAMPAIGN: &str = "preview";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PreviewInput {
    /// One row as a list would hold it: the address under a name such as `email`, and the
    /// columns the template reads (names match as list headers do).
    #[serde(default)]
    row: Option<BTreeMap<String, String>>,
    /// Or a row of an uploaded list: its key (from `POST /uploads`) and the row's number as
    /// the rejected-rows report counts them (the header is row 1 of a CSV); without a number,
    /// the first recipient's row.
    #[serde(default)]
    list_key: Option<String>,
    #[serde(default)]
    row_number: Option<u64>,
    /// The campaign's shared variables.
    #[serde(default)]
    vars: BTreeMap<String, String>,
    #[serde(default)]
    from: Option<FromInput>,
    /// A version other than the latest.
    #[serde(default)]
    version: Option<u32>,
    /// A test send's addresses (`POST /templates/{id}/test`).
    #[serde(default)]
    to: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FromInput {
    address: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PreviewView {
    template_id: String,
    template_version: u32,
    from: String,
    to: String,
    subject: String,
    html: String,
    text: String,
    headers: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

/// A template and one row, resolved and checked, ready to be composed.
pub(crate) struct Prepared {
    pub template: fanmail_common::domain::Template,
    pub compiled: MailTemplate,
    pub row: SingleRow,
    pub row_number: Option<u64>,
    pub sender: Sender,
    pub vars: BTreeMap<String, String>,
    /// Addresses a test send goes to (the test route only).
    pub to: Vec<String>,
}

/// Reads a preview's (or a template test send's) request: the template, the row, the From.
pub(crate) async fn prepare<P: Ports>(deps: &Deps<P>, request: &ApiGatewayV2httpRequest) -> Result<Prepared, ApiError> {
    let raw_id = request.path_param("id").unwrap_or_default();
    let id = TemplateId::parse(raw_id).map_err(|e| ApiError::bad_request("invalid_template_id", e.to_string()))?;
    let input: PreviewInput = request.json_body()?;
    let template = deps.templates.get(&id, input.version).await?.ok_or_else(|| match input.version {
        Some(v) => ApiError::not_found(format!("template '{id}' has no version {v}")),
        None => ApiError::not_found(format!("template '{id}' does not exist")),
    })?;
    let compiled = MailTemplate::compile(&template.subject, &template.html, &template.text)
        .map_err(|e| ApiError::new(422, "template_syntax", e.to_string()))?;
    let source = match (&input.row, &input.list_key, input.row_number) {
        (Some(row), None, None) => RowSource::Given(row),
        (None, Some(key), number) => RowSource::List { key, number },
        _ => {
            return Err(ApiError::bad_request(
                "invalid_preview",
                "give either 'row', or 'listKey' (and 'rowNumber'; the first recipient's row otherwise) of an \
                 uploaded list",
            ))
        }
    };
    let (row, row_number) = resolve_row(deps, source, &compiled, &input.vars).await?;
    let sender = sender(&input.from, &deps.config.sender_domain)?;
    Ok(Prepared { template, compiled, row, row_number, sender, vars: input.vars, to: input.to })
}

pub async fn preview<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let Prepared { template, compiled, row, sender, vars, to, .. } = prepare(deps, request).await?;
    if !to.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_preview",
            "a preview sends nothing: 'to' is for POST /templates/{id}/test",
        ));
    }
    let campaign = CampaignId::parse(PREVIEW_CAMPAIGN).expect("a valid id");
    let recipient = recipient_id(&row.address);
    let unsubscribe_base = format!("{}/unsubscribe?token=", deps.config.public_base_url);
    let key = deps.unsubscribe_key().await?;
    let mail = compose(
        &compiled,
        &MailInput {
            envelope: Envelope { sender: &sender, campaign: &campaign, recipient: &recipient, to: &row.address },
            shared: &vars,
            vars: &row.vars,
            unsubscribe_base: &unsubscribe_base,
            unsubscribe_key: key.bytes(),
        },
    )
    .map_err(|e| ApiError::new(422, "render_failed", e.to_string()))?;
    Ok(json_response(
        200,
        &PreviewView {
            template_id: template.id.to_string(),
            template_version: template.version,
            from: mail.from,
            to: mail.to.to_string(),
            subject: mail.subject,
            html: mail.html,
            text: mail.text,
            headers: mail.headers.into_iter().collect(),
            tags: mail.tags.into_iter().collect(),
        },
    ))
}

/// Where the row a mail is made for comes from.
pub(crate) enum RowSource<'a> {
    /// Names and values given in the request.
    Given(&'a BTreeMap<String, String>),
    /// Row `number` of an uploaded list (the first recipient's when `None`).
    List { key: &'a str, number: Option<u64> },
}

/// The row read as the splitter reads it, with its list row number; a 4xx naming the variables
/// the template reads that neither the row nor `vars` has.
pub(crate) async fn resolve_row<P: Ports>(
    deps: &Deps<P>,
    source: RowSource<'_>,
    compiled: &MailTemplate,
    vars: &BTreeMap<String, String>,
) -> Result<(SingleRow, Option<u64>), ApiError> {
    let wanted: Vec<String> = compiled.required_columns(&BTreeSet::new()).cloned().collect();
    let (row, row_number, names) = match source {
        RowSource::Given(row) => {
            let read = read_single_row(row, wanted.iter().map(String::as_str))
                .map_err(|e| ApiError::bad_request("invalid_row", format!("the row cannot be read: {e}")))?;
            (read, None, row.keys().cloned().collect())
        }
        RowSource::List { key, number } => {
            let (row, at, columns) = list_row(deps, key, number, wanted).await?;
            (row, Some(at), columns)
        }
    };
    let missing: Vec<&String> = row.missing.iter().filter(|v| !vars.contains_key(*v)).collect();
    if !missing.is_empty() {
        return Err(ApiError::new(
            422,
            "missing_variables",
            format!(
                "the template reads {} but the row and vars have no value for it (the row has: {})",
                quoted(missing.into_iter()),
                quoted(names.iter())
            ),
        ));
    }
    Ok((row, row_number))
}

/// Row `number` of the list at `key` (the first recipient's when `None`), read as the splitter
/// reads it, with its number and the list's columns.
async fn list_row<P: Ports>(
    deps: &Deps<P>,
    key: &str,
    number: Option<u64>,
    wanted: Vec<String>,
) -> Result<(SingleRow, u64, Vec<String>), ApiError> {
    if !key.starts_with("lists/") || key.contains("..") {
        return Err(ApiError::bad_request("invalid_list_key", "'listKey' must be a key returned by POST /uploads"));
    }
    let body = match deps.objects.open(key, 0).await {
        Ok(body) => body,
        Err(ObjectStoreError::NotFound(_)) => {
            return Err(ApiError::new(422, "list_not_found", format!("no list was uploaded at '{key}'")))
        }
        Err(e) => return Err(e.into()),
    };
    let workbook = is_workbook(key);
    let found = tokio::task::spawn_blocking(move || {
        let bridge = tokio_util::io::SyncIoBridge::new(body);
        let mut list = if workbook { RecipientList::open_workbook(bridge)? } else { RecipientList::open(bridge)? };
        let missing = list.match_variables(wanted.iter().map(String::as_str));
        let columns = list.headers().to_vec();
        while let Some(row) = list.next_row() {
            match row? {
                ListRow::Recipient { row, address, vars, .. } if number.is_none_or(|n| n == row) => {
                    return Ok(Some((Ok((SingleRow { address, vars, missing }, row)), columns)));
                }
                ListRow::Duplicate { row } if number == Some(row) => {
                    let reason = "its address is on an earlier row, so it would not be mailed again".to_string();
                    return Ok(Some((Err(reason), columns)));
                }
                ListRow::Rejected(rejected) if number == Some(rejected.row) => {
                    return Ok(Some((Err(rejected.reason), columns)));
                }
                _ => {}
            }
        }
        Ok::<_, ListError>(None)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::new(422, "invalid_list", format!("the list cannot be read: {e}")))?;
    match (found, number) {
        (Some((Ok((row, at)), columns)), _) => Ok((row, at, columns)),
        (Some((Err(reason), _)), Some(n)) => {
            Err(ApiError::new(422, "row_not_a_recipient", format!("row {n}: {reason}")))
        }
        (Some((Err(reason), _)), None) => Err(ApiError::new(422, "row_not_a_recipient", reason)),
        (None, Some(n)) => Err(ApiError::not_found(format!("the list has no row {n} with data"))),
        (None, None) => Err(ApiError::new(422, "no_recipients", "the list has no row with a valid address")),
    }
}

pub(crate) fn quoted<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// The preview's From: the given one, in the verified domain, or `preview@` that domain.
fn sender(from: &Option<FromInput>, sender_domain: &str) -> Result<Sender, ApiError> {
    let Some(from) = from else {
        let address = EmailAddress::parse(&format!("preview@{sender_domain}"))
            .map_err(|e| ApiError::internal(format!("the sender domain is not valid: {e}")))?;
        return Ok(Sender { address, name: None, reply_to: None });
    };
    let address = crate::verified_from(&from.address, sender_domain)?;
    Ok(Sender { address, name: from.name.clone(), reply_to: None })
}

#[cfg(test)]
mod tests {
    use fanmail_common::domain::{Template, UnsubscribeToken};
    use serde_json::json;
    use time::macros::datetime;

    use crate::test_support::{call, deps, KEY};

    use super::*;

    async fn with_template() -> Deps<crate::MemoryPorts> {
        let deps = deps();
        let template = Template {
            id: TemplateId::parse("offer").unwrap(),
            version: 1,
            name: "Offer".into(),
            subject: "{{name}}, your {{tier}} offer from {{brand}}".into(),
            html: "<p>Dear {{name}}</p><a href=\"{{unsubscribe_url}}\">unsubscribe</a>".into(),
            text: "Dear {{name}}".into(),
            created_at: datetime!(2026-11-23 08:00 UTC),
            created_by: None,
        };
        deps.templates.put_version(&template).await.unwrap();
        deps
    }

    #[tokio::test]
    async fn a_row_is_rendered_as_the_sender_would_send_it_with_its_unsubscribe_link_and_headers() {
        let deps = with_template().await;
        let body = json!({"row": {"E-mail": "Kim@Example.com", "Name": "김민수", "Tier": "Gold"}, "vars": {"brand": "fanmail"}});
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(body)).await;
        assert_eq!(status, 200, "{json}");
        assert_eq!(json["subject"], "김민수, your Gold offer from fanmail");
        assert_eq!(
            (json["to"].as_str(), json["from"].as_str()),
            (Some("kim@example.com"), Some("preview@example.com"))
        );
        assert_eq!(json["headers"]["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
        let link = json["headers"]["List-Unsubscribe"].as_str().unwrap();
        let token = link.split("token=").nth(1).unwrap().trim_end_matches('>');
        let verified = UnsubscribeToken::verify(token, KEY).unwrap();
        assert_eq!((verified.address.as_str(), verified.campaign.as_str()), ("kim@example.com", "preview"));
        assert!(json["html"].as_str().unwrap().contains(token), "the body's link is the header's");
        assert_eq!(json["tags"]["campaign"], "preview");
    }

    #[tokio::test]
    async fn a_row_lacking_a_variable_is_answered_with_its_name_not_rendered_blank() {
        let deps = with_template().await;
        let body = json!({"row": {"email": "kim@example.com", "name": "Kim"}});
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(body)).await;
        assert_eq!((status, json["error"]["code"].as_str()), (422, Some("missing_variables")), "{json}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(message.contains("'brand', 'tier'") && message.contains("the row has: 'email', 'name'"), "{message}");
    }

    #[tokio::test]
    async fn a_row_of_an_uploaded_list_is_previewed_by_its_number() {
        let deps = with_template().await;
        let list = "Email;Name;Tier\nkim@example.com;Kim;Gold\nnot-an-address;X;Y\nKIM@example.com;Again;Z\n";
        deps.objects.put("lists/l.csv", list.as_bytes().to_vec(), "text/csv").await.unwrap();
        let ask = |number: u64| json!({"listKey": "lists/l.csv", "rowNumber": number, "vars": {"brand": "b"}});
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(ask(2))).await;
        assert_eq!((status, json["subject"].as_str()), (200, Some("Kim, your Gold offer from b")), "{json}");
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(ask(3))).await;
        assert_eq!((status, json["error"]["code"].as_str()), (422, Some("row_not_a_recipient")), "{json}");
        assert!(json["error"]["message"].as_str().unwrap().contains("no '@'"), "{json}");
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(ask(4))).await;
        assert!(status == 422 && json["error"]["message"].as_str().unwrap().contains("earlier row"), "{json}");
        let (status, _) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(ask(9))).await;
        assert_eq!(status, 404);
        let both = json!({"row": {"email": "a@example.com"}, "listKey": "lists/l.csv", "rowNumber": 2});
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(both)).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_preview")));
    }

    #[tokio::test]
    async fn an_unknown_template_a_row_without_an_address_or_a_foreign_from_is_a_4xx() {
        let deps = with_template().await;
        let row = json!({"email": "kim@example.com", "name": "Kim", "tier": "Gold", "brand": "x"});
        let (status, _) =
            call(&deps, "POST /templates/{id}/preview", Some("nope"), &[], Some(json!({"row": row}))).await;
        assert_eq!(status, 404);
        let body = json!({"row": {"name": "Kim"}});
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(body)).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some("invalid_row")), "{json}");
        let body = json!({"row": row, "from": {"address": "news@elsewhere.org"}});
        let (status, json) = call(&deps, "POST /templates/{id}/preview", Some("offer"), &[], Some(body)).await;
        assert_eq!((status, json["error"]["code"].as_str()), (400, Some("unverified_from")), "{json}");
    }
}
