use fanmail_common::config::Env;
use fanmail_splitter::{aws_deps, handler, Config};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    fanmail_common::telemetry::init_lambda();
    let config = Config::from_env(&Env::process())?;
    let deps = aws_deps(&fanmail_common::aws::load_sdk_config().await, &config);
    run(service_fn(|event: LambdaEvent<_>| handler(&deps, event))).await
}
