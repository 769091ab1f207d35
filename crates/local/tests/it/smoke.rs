//! Each function's real binary boots as a Lambda (under cargo-lambda's runtime emulator, with
//! its environment resolved from template.yaml against a local stack) and answers every
//! fixture in `events/<function>/`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fanmail_local::{functions, local_overrides, repo_root};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::support::{endpoints, stack};

/// (logical id, binary, fixture folder)
const FUNCTIONS: [(&str, &str, &str); 6] = [
    (functions::UPLOAD_URL, "fanmail-upload-url", "upload-url"),
    (functions::API, "fanmail-api", "api"),
    (functions::SPLITTER, "fanmail-splitter", "splitter"),
    (functions::TRIGGER, "fanmail-trigger", "trigger"),
    (functions::SENDER, "fanmail-sender", "sender"),
    (functions::RECORDER, "fanmail-recorder", "recorder"),
];

/// What each fixture must answer: (fixture, JSON pointer, value).
fn expectations() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("upload-url/create-list-upload.json", "/statusCode", json!(201)),
        ("upload-url/create-workbook-upload.json", "/statusCode", json!(201)),
        ("upload-url/unsupported-type.json", "/statusCode", json!(400)),
        ("api/health.json", "/statusCode", json!(200)),
        ("api/list-campaigns.json", "/statusCode", json!(200)),
        ("api/dry-run-unknown-template.json", "/statusCode", json!(422)),
        ("api/preview-unknown-template.json", "/statusCode", json!(404)),
        ("api/unknown-route.json", "/statusCode", json!(404)),
        // Poison messages are reported failed, so the queue dead-letters them.
        (
            "splitter/split-job-unknown-campaign.json",
            "/batchItemFailures/0/itemIdentifier",
            json!("5f1c6f2e-0000-4000-8000-000000000000"),
        ),
        (
            "splitter/malformed-body.json",
            "/batchItemFailures/0/itemIdentifier",
            json!("5f1c6f2e-0000-4000-8000-000000000000"),
        ),
        ("trigger/scheduled-send.json", "/outcome", json!("unknown_campaign")),
        (
            "sender/recipient-job-unknown-campaign.json",
            "/batchItemFailures",
            json!([
                {"itemIdentifier": "5f1c6f2e-0000-4000-8000-000000000000"},
                {"itemIdentifier": "5f1c6f2e-0000-4000-8000-000000000001"}
            ]),
        ),
        // SES events about a mail of no stored campaign: parsed, then counted as unjoined.
        ("recorder/ses-delivery.json", "/unjoined", json!(1)),
        ("recorder/ses-bounce-permanent.json", "/unjoined", json!(1)),
        ("recorder/ses-bounce-suppressed.json", "/unjoined", json!(1)),
        ("recorder/ses-bounce-transient.json", "/unjoined", json!(1)),
        ("recorder/ses-bounce-undetermined.json", "/unjoined", json!(1)),
        ("recorder/ses-complaint.json", "/unjoined", json!(1)),
        ("recorder/ses-open.json", "/unjoined", json!(1)),
        ("recorder/ses-click.json", "/unjoined", json!(1)),
        ("recorder/ses-subscription.json", "/unjoined", json!(1)),
        // Identity notifications carry no tags; no stored mail has their SES message id.
        ("recorder/identity-bounce.json", "/unjoined", json!(1)),
        ("recorder/identity-complaint.json", "/unjoined", json!(1)),
        ("recorder/identity-delivery.json", "/unjoined", json!(1)),
        // Events that report no recipient result.
        ("recorder/ses-send.json", "/recognised", json!(1)),
        ("recorder/ses-reject.json", "/recognised", json!(1)),
        ("recorder/ses-delivery-delay.json", "/recognised", json!(1)),
        ("recorder/ses-rendering-failure.json", "/recognised", json!(1)),
        ("recorder/unknown-event-type.json", "/unknown", json!(1)),
        ("recorder/malformed-message.json", "/malformed", json!(1)),
    ]
}

/// Arrays compared as sets: handlers report failures in the order they find them.
fn unordered(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items = items.clone();
            items.sort_by_key(|v| v.to_string());
            Value::Array(items)
        }
        other => other.clone(),
    }
}

fn cargo_lambda() -> PathBuf {
    let path = repo_root().join(".tools/venv-aws/bin/cargo-lambda");
    assert!(path.exists(), "{} is missing: run `scripts/tools.sh` (make test does)", path.display());
    path
}

/// target/debug (or whichever profile built this test).
fn binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_for_port(port: u16) {
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the runtime emulator did not open port {port}");
}

fn log_file(name: &str) -> std::fs::File {
    let dir = binaries_dir().join("smoke-logs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::File::create(dir.join(format!("{name}.log"))).unwrap()
}

async fn emulator(port: u16) -> Child {
    let child = Command::new(cargo_lambda())
        .args([
            "lambda",
            "watch",
            "--only-lambda-apis",
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port.to_string(),
        ])
        .current_dir(repo_root())
        .stdout(log_file(&format!("emulator-{port}")))
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("cargo-lambda starts");
    wait_for_port(port).await;
    child
}

async fn invoke(port: u16, fixture: &Path) -> Value {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new(cargo_lambda())
            .args([
                "lambda",
                "invoke",
                "_",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
                "-o",
                "json",
                "--data-file",
            ])
            .arg(fixture)
            .current_dir(repo_root())
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("invoking {} timed out", fixture.display()))
    .unwrap();
    assert!(output.status.success(), "{}: {}", fixture.display(), String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{}: not JSON ({e}): {}", fixture.display(), String::from_utf8_lossy(&output.stdout))
    })
}

#[test]
fn every_fixture_has_an_expectation() {
    let listed: Vec<&str> = expectations().iter().map(|(f, _, _)| *f).collect();
    for (_, _, dir) in FUNCTIONS {
        for entry in std::fs::read_dir(repo_root().join("events").join(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(listed.contains(&name.as_str()), "events/{name} has no expectation in smoke.rs");
        }
    }
}

#[tokio::test]
async fn every_function_binary_boots_as_a_lambda_and_answers_its_fixtures() {
    let (_sdk, stack) = stack().await;
    let overrides = local_overrides(&stack, &endpoints(), "http://127.0.0.1:3000").unwrap();
    let expectations = expectations();
    for (function, binary, dir) in FUNCTIONS {
        let path = binaries_dir().join(binary);
        assert!(
            path.exists(),
            "{} is not built: run `cargo build --workspace --bins` (make test does)",
            path.display()
        );
        let port = free_port();
        let _emulator = emulator(port).await;
        let mut lambda = Command::new(&path)
            .envs(stack.function_env(function, &overrides).unwrap())
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .stdout(log_file(binary))
            .stderr(log_file(&format!("{binary}.err")))
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut fixtures: Vec<PathBuf> =
            std::fs::read_dir(repo_root().join("events").join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        fixtures.sort();
        assert!(!fixtures.is_empty(), "events/{dir} has no fixture");
        for fixture in fixtures {
            let name = format!("{dir}/{}", fixture.file_name().unwrap().to_string_lossy());
            let answer = invoke(port, &fixture).await;
            let (_, pointer, expected) = expectations.iter().find(|(f, _, _)| *f == name).unwrap();
            assert_eq!(
                answer.pointer(pointer).map(unordered),
                Some(unordered(expected)),
                "{binary} answered {name} with {answer}"
            );
        }
        assert!(lambda.try_wait().unwrap().is_none(), "{binary} exited while serving");
        lambda.kill().await.unwrap();
    }
}
