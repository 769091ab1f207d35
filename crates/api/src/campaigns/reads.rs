//! Reading a campaign: its status and counters, its recipients by status, its rejected rows.
//! Nothing here writes.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{json_response, ApiError, RequestExt};
use fanmail_common::domain::{rejected_rows_key, RecipientStatus, RejectedRow};
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
    let campaign = existing(&deps.campaigns, &id).await?;
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
