//! Campaign routes, one file per kind of work:
//!
//! - `create`: `POST /campaigns`.
//! - `dry_run`: what a campaign would do, every row read and rendered, nothing stored.
//! - `reads`: status and counters, recipients, rejected rows.
//! - `lifecycle`: reschedule, cancel, pause, resume, retry of failed recipients.
//! - `test_send`: one row's real mail to up to five of the sender's own addresses.

mod create;
mod dry_run;
#[cfg(test)]
mod dry_run_tests;
mod lifecycle;
mod reads;
mod test_send;
#[cfg(test)]
mod test_send_tests;
#[cfg(test)]
mod tests;

pub use create::create;
pub use lifecycle::{cancel, pause, reschedule, resume, retry_failed};
pub use reads::{get, list, recipients, rejected_rows};
pub use test_send::{send_template_test, send_test};

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use fanmail_common::api_gateway::{ApiError, RequestExt};
use fanmail_common::domain::{Campaign, CampaignId, ScheduledSend, SendAt};
use fanmail_common::ports::ScheduleSpec;
use fanmail_common::store::CampaignReader;

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
async fn existing(campaigns: &impl CampaignReader, id: &CampaignId) -> Result<Campaign, ApiError> {
    campaigns.get(id).await?.ok_or_else(|| ApiError::not_found(format!("campaign '{id}' does not exist")))
}

fn unprocessable(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(422, code, message)
}
