//! Logging set-up. In Lambda the runtime's subscriber writes JSON (the template's
//! `LoggingConfig: LogFormat: JSON`) with the request id on every line. Log addresses only
//! through [`crate::domain::EmailAddress::redacted`], never tokens.

/// Installs the Lambda runtime's default subscriber (JSON when the function's log format is
/// JSON, level from `AWS_LAMBDA_LOG_LEVEL`/`RUST_LOG`).
pub fn init_lambda() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Human-readable logs for the local runner and tools; `RUST_LOG` sets the level.
pub fn init_local() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
