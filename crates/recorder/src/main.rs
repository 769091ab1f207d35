use fanmail_common::config::Env;
use fanmail_common::wiring::AwsAdapters;
use fanmail_recorder::{invoked, Config, Deps};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanmail_common::telemetry::init_lambda();
    let config = Config::from_env(&Env::process())?;
    let sdk = fanmail_common::aws::load_sdk_config().await;
    let deps = Deps::aws(&AwsAdapters::new(&sdk), &config);
    run(service_fn(|event: LambdaEvent<_>| invoked(&deps, event))).await
}
