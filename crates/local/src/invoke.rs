//! One invocation as Lambda runs it: a context with a deadline at the function's timeout,
//! cancelled when the timeout passes, and a panic reported as a failed invocation rather
//! than taking the runner down.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use fanmail_common::ports::Clock;
use fanmail_common::system::SystemClock;
use futures::FutureExt;
use lambda_runtime::Context as LambdaContext;

/// How an invocation failed, as Lambda reports it to whatever invoked the function.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("{function} returned an error: {message}")]
    Failed { function: String, message: String },
    #[error("{function} panicked: {message}")]
    Panicked { function: String, message: String },
    /// Lambda stops the invocation at its timeout; nothing it would have returned is seen.
    #[error("{function} timed out after {timeout:?}")]
    TimedOut { function: String, timeout: Duration },
    #[error("{function} does not take {kind} events")]
    Unsupported { function: String, kind: &'static str },
}

/// The context Lambda gives an invocation: a fresh request id, the function's ARN, and the
/// deadline its timeout sets (epoch milliseconds, the runner's clock being AWS's).
pub fn context(function: &str, timeout: Duration) -> LambdaContext {
    let mut ctx = LambdaContext::default();
    ctx.request_id = uuid::Uuid::new_v4().to_string();
    ctx.invoked_function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function}");
    let now_ms = (SystemClock.now().unix_timestamp_nanos() / 1_000_000) as u64;
    ctx.deadline = now_ms + timeout.as_millis() as u64;
    ctx
}

/// Runs one invocation of `function` to its end, its timeout, or a panic.
pub async fn run<T, F>(function: &str, timeout: Duration, request_id: &str, invocation: F) -> Result<T, InvokeError>
where
    F: Future<Output = Result<T, lambda_runtime::Error>>,
{
    let guarded = AssertUnwindSafe(invocation).catch_unwind();
    match tokio::time::timeout(timeout, guarded).await {
        Ok(Ok(Ok(value))) => Ok(value),
        Ok(Ok(Err(e))) => Err(InvokeError::Failed { function: function.to_string(), message: e.to_string() }),
        Ok(Err(panic)) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            tracing::error!(function, request_id, panic = %message, "the handler panicked; the invocation failed");
            Err(InvokeError::Panicked { function: function.to_string(), message })
        }
        Err(_) => {
            tracing::warn!(
                function,
                request_id,
                timeout_ms = timeout.as_millis() as u64,
                "the invocation timed out and was stopped"
            );
            Err(InvokeError::TimedOut { function: function.to_string(), timeout })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn a_returned_value_and_a_returned_error_pass_through() {
        assert_eq!(run("F", LONG, "r", async { Ok::<_, lambda_runtime::Error>(7) }).await.unwrap(), 7);
        let failed = run("F", LONG, "r", async { Err::<u8, lambda_runtime::Error>("bad input".into()) }).await;
        assert!(matches!(failed, Err(InvokeError::Failed { message, .. }) if message == "bad input"));
    }

    #[tokio::test]
    async fn a_panic_is_a_failed_invocation_and_the_runner_goes_on() {
        let panicked = run("F", LONG, "r", async {
            if LONG > Duration::ZERO {
                panic!("year out of range");
            }
            Ok::<u8, lambda_runtime::Error>(0)
        })
        .await;
        assert!(matches!(panicked, Err(InvokeError::Panicked { message, .. }) if message == "year out of range"));
        assert_eq!(run("F", LONG, "r", async { Ok::<_, lambda_runtime::Error>(1) }).await.unwrap(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_invocation_past_its_timeout_is_stopped_where_it_is() {
        let finished = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = finished.clone();
        let outcome = run("F", Duration::from_secs(30), "r", async move {
            tokio::time::sleep(Duration::from_secs(31)).await;
            seen.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, lambda_runtime::Error>(())
        })
        .await;
        assert!(matches!(outcome, Err(InvokeError::TimedOut { timeout, .. }) if timeout == Duration::from_secs(30)));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!finished.load(std::sync::atomic::Ordering::SeqCst), "the stopped invocation must not run on");
    }

    #[test]
    fn the_context_carries_a_deadline_at_the_timeout() {
        let before = (SystemClock.now().unix_timestamp_nanos() / 1_000_000) as u64;
        let ctx = context("SenderFunction", Duration::from_secs(30));
        let after = (SystemClock.now().unix_timestamp_nanos() / 1_000_000) as u64;
        assert!((before + 30_000..=after + 30_000).contains(&ctx.deadline), "{}", ctx.deadline);
        assert!(ctx.invoked_function_arn.ends_with(":function:SenderFunction"));
        assert!(!ctx.request_id.is_empty());
    }
}
