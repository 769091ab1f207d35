//! Reading a campaign: its status and counters, its recipients by status, its rejected rows.
//! Nothing here writes.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::domain::{rejected_rows_key, CampaignStatus, RecipientStatus, RejectedRow};
use fanmail_common::ports::{ObjectStore, ObjectStoreError};
use fanmail_common::store::RecipientStore;
use tokio::io::AsyncReadExt;

use crate::views::{CampaignView, PageView, RecipientView};
use crate::{page_params, Deps, Ports};

use super::*;

pub async fn get<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let campaign = existing(&deps.campaigns, &id).await?;
    Ok(json_response(200, &CampaignView::from(&campaign)))
}

/// `GET /campaigns[?status=][&limit=][&cursor=]`: newest first.
pub async fn list<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let status = request
        .query("status")
        .map(|raw| raw.parse::<CampaignStatus>())
        .transpose()
        .map_err(|e: String| ApiError::bad_request("bad_status", e))?;
    let (limit, cursor) = page_params(request)?;
    let page = deps.campaigns.list(status, limit, cursor).await?;
    Ok(json_response(
        200,
        &PageView { items: page.items.iter().map(CampaignView::from).collect(), next_cursor: page.next },
    ))
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
    existing(&deps.campaigns, &id).await?;
    let page = deps.recipients.list_by_status(&id, status, limit, cursor).await?;
    Ok(json_response(
        200,
        &PageView { items: page.items.iter().map(RecipientView::from).collect(), next_cursor: page.next },
    ))
}

/// Rejected rows, from the splitter's report parts (one JSON line a row, at most 10,000 rows
/// a part). A page reads only the parts it covers; its cursor names the part and line where
/// the next page starts.
pub async fn rejected_rows<P: Ports>(
    deps: &Deps<P>,
    request: &ApiGatewayV2httpRequest,
) -> Result<ApiGatewayV2httpResponse, ApiError> {
    let id = campaign_id(request)?;
    let (limit, cursor) = page_params(request)?;
    let (mut part, mut skip) = match cursor {
        None => (0, 0),
        Some(cursor) => ReportCursor::parse(cursor)
            .ok_or_else(|| ApiError::bad_request("bad_cursor", "the 'cursor' parameter is not one this API issued"))?,
    };
    let campaign = existing(&deps.campaigns, &id).await?;
    let mut items: Vec<RejectedRow> = Vec::new();
    while part < campaign.report_parts {
        let mut text = String::new();
        match deps.objects.open(&rejected_rows_key(&id, part), 0).await {
            Ok(mut body) => {
                body.read_to_string(&mut text).await.map_err(ApiError::unavailable)?;
            }
            Err(ObjectStoreError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        for line in lines.iter().skip(skip) {
            if items.len() == limit as usize {
                let next = ReportCursor::format(part, skip);
                return Ok(json_response(200, &PageView { items, next_cursor: Some(next) }));
            }
            items.push(serde_json::from_str(line).map_err(ApiError::internal)?);
            skip += 1;
        }
        (part, skip) = (part + 1, 0);
    }
    Ok(json_response(200, &PageView { items, next_cursor: None }))
}

/// Where a page of rejected rows starts: a report part and the rows of it already shown.
struct ReportCursor;

impl ReportCursor {
    fn format(part: u32, skip: usize) -> String {
        format!("{part}.{skip}")
    }

    fn parse(cursor: &str) -> Option<(u32, usize)> {
        let (part, skip) = cursor.split_once('.')?;
        Some((part.parse().ok()?, skip.parse().ok()?))
    }
}
