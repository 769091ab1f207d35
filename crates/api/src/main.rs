use fanmail_api::{handler, Config, Deps};
use fanmail_common::config::Env;
use fanmail_common::ports::{Clock, UnsubscribeKeys};
use fanmail_common::system::SystemClock;
use fanmail_common::wiring::AwsAdapters;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanmail_common::telemetry::init_lambda();
    let config = Config::from_env(&Env::process())?;
    let sdk = fanmail_common::aws::load_sdk_config().await;
    // Without the key only the routes that make or read unsubscribe links fail (503): /health
    // and the rest keep answering.
    let key = fanmail_common::aws::read_unsubscribe_key(&sdk, &config.unsubscribe_secret_arn)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "unsubscribe key unavailable"))
        .ok();
    let source = fanmail_common::aws::SecretKeySource::new(&sdk, &config.unsubscribe_secret_arn);
    let keys = UnsubscribeKeys::new(std::sync::Arc::new(source), key, SystemClock.now());
    let deps = Deps::aws(&AwsAdapters::new(&sdk), config, keys);
    run(service_fn(|event: LambdaEvent<_>| handler(&deps, event))).await
}
