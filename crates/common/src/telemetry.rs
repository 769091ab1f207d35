//! Logging set-up. In Lambda the runtime's subscriber writes JSON (the template's
//! `LoggingConfig: LogFormat: JSON`) with the request id on every line. Log addresses only
//! through [`crate::domain::EmailAddress::redacted`], never tokens.

/// Installs the Lambda runtime's default subscriber (JSON when the function's log format is
/// JSON, level from `AWS_LAMBDA_LOG_LEVEL`/`RUST_LOG`).
pub fn init_lambda() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// The environment variable naming a directory every log line is also written to (one file
/// per process): `make test` searches those files for the addresses the tests mailed.
pub const LOG_CAPTURE: &str = "FANMAIL_LOG_CAPTURE";

/// Human-readable logs for the local runner and tools; `RUST_LOG` sets the level.
pub fn init_local() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn"));
    let capture = std::env::var_os(LOG_CAPTURE).and_then(|dir| {
        std::fs::create_dir_all(&dir).ok()?;
        let path = std::path::Path::new(&dir).join(format!("log-{}.txt", std::process::id()));
        std::fs::OpenOptions::new().create(true).append(true).open(path).ok()
    });
    let captured = capture.map(|file| {
        tracing_subscriber::fmt::layer().with_writer(std::sync::Mutex::new(file)).with_ansi(false).with_target(false)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_target(false))
        .with(captured)
        .try_init();
}
