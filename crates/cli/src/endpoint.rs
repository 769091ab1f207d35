//! Where the API is: `--api` / `FANMAIL_API` (unsigned, as `make dev` serves it), or the
//! deployed stack's `ApiUrl` output, signed with the standard AWS credential chain.

use aws_config::BehaviorVersion;

use crate::args::Target;
use crate::client::{Api, Signer};
use crate::CliError;

/// The stack output that holds the API's URL.
const API_URL_OUTPUT: &str = "ApiUrl";

pub async fn api(target: &Target) -> Result<Api, CliError> {
    if let Some(url) = &target.api {
        if !url.starts_with("http://") && !url.starts_with("https://") {
            return Err(CliError::Input(format!("--api '{url}' is not an http(s) URL")));
        }
        // A deployed API given by URL is signed too.
        let signer = if url.contains(".amazonaws.com") { Some(signer().await?) } else { None };
        return Api::new(url, signer);
    }
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let client = aws_sdk_cloudformation::Client::new(&config);
    let stacks =
        client.describe_stacks().stack_name(&target.stack).send().await.map_err(|e| CliError::Unreachable {
            url: format!("stack '{}'", target.stack),
            reason: format!(
                "{} (give --api URL, or set FANMAIL_API, for a local API)",
                aws_sdk_cloudformation::error::DisplayErrorContext(&e)
            ),
        })?;
    let url = stacks
        .stacks()
        .iter()
        .flat_map(|s| s.outputs())
        .find(|o| o.output_key() == Some(API_URL_OUTPUT))
        .and_then(|o| o.output_value())
        .ok_or_else(|| CliError::Failed(format!("stack '{}' has no {API_URL_OUTPUT} output", target.stack)))?
        .to_string();
    Api::new(&url, Some(signer_from(&config)?))
}

async fn signer() -> Result<Signer, CliError> {
    let config = aws_config::defaults(BehaviorVersion::latest()).load().await;
    signer_from(&config)
}

fn signer_from(config: &aws_config::SdkConfig) -> Result<Signer, CliError> {
    let credentials = config
        .credentials_provider()
        .ok_or_else(|| CliError::Input("no AWS credentials are configured to sign requests with".into()))?;
    let region = config
        .region()
        .ok_or_else(|| CliError::Input("no AWS region is configured (set AWS_REGION)".into()))?
        .to_string();
    Ok(Signer { credentials, region })
}
