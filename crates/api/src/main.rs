use fanmail_api::{aws_deps, handler, Config};
use fanmail_common::config::Env;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanmail_common::telemetry::init_lambda();
    let config = Config::from_env(&Env::process())?;
    let sdk = fanmail_common::aws::load_sdk_config().await;
    let key = fanmail_common::aws::read_unsubscribe_key(&sdk, &config.unsubscribe_secret_arn).await?;
    let deps = aws_deps(&sdk, config, key);
    run(service_fn(|event: LambdaEvent<_>| handler(&deps, event))).await
}
