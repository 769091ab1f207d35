//! The `fanmail` command line against the local stack, as a user runs it: a template pushed, a
//! dry run that reports a row that cannot render, a test mail that reaches the SES stand-in
//! and counts nowhere, a campaign sent and watched to completion, and bad input answered with
//! one clear line and a non-zero exit code.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::campaign_e2e::{mails_to, start};
use crate::support::unique_name;

/// Runs `fanmail ARGS` against `api`; exit code, stdout, stderr.
async fn fanmail(api: &str, args: &[&str]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = ["fanmail", "--api", api].into_iter().chain(args.iter().copied());
    let code = fanmail_cli::run(argv, &mut out, &mut err).await;
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_campaign_is_dry_run_test_sent_sent_and_watched_with_the_cli_alone() {
    let (_runner, api) = start().await;
    let url = api.base().to_string();
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).unwrap();
    let domain = format!("{}.example.com", unique_name());
    let template = write(
        &dir,
        "offer.json",
        r#"{"id": "cli-offer", "name": "Offer", "subject": "{{headline}}", "html": "<p>Dear {{name}} from {{brand}}</p>"}"#,
    );
    let (code, out, err) = fanmail(&url, &["templates", "push", template.to_str().unwrap()]).await;
    assert_eq!((code, out.trim()), (0, "template cli-offer version 1"), "{err}");

    let list = format!(
        "Email,Name,Headline\na@{domain},Ann,Hello Ann\nnot-an-address,X,Hi\nb@{domain},Bob,\nc@{domain},Cy,Hello Cy\n"
    );
    let list = write(&dir, "list.csv", &list);
    let list = list.to_str().unwrap();
    let send = ["send", list, "--template", "cli-offer", "--from", "news@example.com", "--var", "brand=fanmail"];

    let dry: Vec<&str> = send.iter().copied().chain(["--dry-run"]).collect();
    let (code, out, err) = fanmail(&url, &dry).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("would be mailed  2") && out.contains("rejected rows    1"), "{out}");
    assert!(out.contains("fail to render: row 4: rendering Subject failed: the subject is empty"), "{out}");
    assert!(mails_to(&domain).await.is_empty(), "a dry run sends nothing");

    let me = format!("me@{domain}");
    let test: Vec<&str> = send.iter().copied().chain(["--test-to", me.as_str()]).collect();
    let (code, out, err) = fanmail(&url, &test).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("test mail: [TEST] Hello Ann") && out.contains(&format!("sent to {me}")), "{out}");
    let mails = mails_to(&domain).await;
    assert_eq!(mails.keys().collect::<Vec<_>>(), [&me], "only the test address: {mails:?}");
    assert_eq!(mails[&me][0]["subject"], "[TEST] Hello Ann");

    let watch: Vec<&str> = send.iter().copied().chain(["--interval", "0.3"]).collect();
    let (code, out, err) = fanmail(&url, &watch).await;
    // Bob's row has no headline: his mail fails, the campaign completes.
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("completed, total 3, sent 2") && out.contains("failed 1"), "{out}");
    let id = out.lines().find_map(|l| l.strip_prefix("campaign ")).unwrap().split(' ').next().unwrap().to_string();
    let mails = mails_to(&domain).await;
    assert_eq!(mails.len(), 3, "Ann, Cy and the test address: {mails:?}");
    assert!(mails.values().all(|m| m.len() == 1));

    let (code, out, _) = fanmail(&url, &["campaigns", "test", &id, "--to", &me, "--row", "5"]).await;
    assert!(code == 0 && out.contains("[TEST] Hello Cy"), "{out}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, out, _) = fanmail(&url, &["--json", "campaigns", "show", &id]).await;
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        (shown["counters"]["total"].as_u64(), shown["counters"]["sent"].as_u64()),
        (Some(3), Some(2)),
        "{shown}"
    );
    assert_eq!(mails_to(&domain).await[&me].len(), 2, "the second test mail arrived, counted nowhere");

    let (code, out, _) = fanmail(&url, &["campaigns", "list", "--limit", "50"]).await;
    assert!(code == 0 && out.lines().any(|l| l.starts_with(&id) && l.contains("completed")), "{out}");
    let (code, out, _) = fanmail(&url, &["campaigns", "rejected-rows", &id]).await;
    assert!(code == 0 && out.contains("3    ") && out.contains("no '@'"), "{out}");
    let (code, out, err) = fanmail(&url, &["campaigns", "retry-failed", &id]).await;
    assert!(code == 0 && out.contains("failed recipients being queued again"), "{out}{err}");
}

#[tokio::test]
async fn templates_suppressions_and_stats_are_managed_with_the_cli() {
    let (_runner, api) = start().await;
    let url = api.base().to_string();
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).unwrap();
    let id = unique_name();
    let template = |subject: &str| {
        let json =
            format!(r#"{{"id": "{id}", "name": "Tour", "subject": "{subject}", "html": "<p>Hi {{{{name}}}}</p>"}}"#);
        write(&dir, "tour.json", &json)
    };
    let (code, out, err) = fanmail(&url, &["templates", "push", template("Hello {{name}}").to_str().unwrap()]).await;
    assert_eq!((code, out.trim().to_string()), (0, format!("template {id} version 1")), "{err}");
    let (code, out, err) = fanmail(&url, &["templates", "push", template("Hi again {{name}}").to_str().unwrap()]).await;
    assert_eq!((code, out.trim().to_string()), (0, format!("template {id} version 2")), "pushed again: {err}");
    let (code, out, _) = fanmail(&url, &["templates", "list"]).await;
    assert!(code == 0 && out.lines().any(|l| l.starts_with(&id) && l.contains(" 2 ")), "{out}");
    let (code, out, _) = fanmail(&url, &["templates", "show", &id, "--version", "1"]).await;
    assert!(code == 0 && out.contains("Hello {{name}}"), "{out}");
    let (code, out, err) =
        fanmail(&url, &["templates", "preview", &id, "--row", "email=kim@example.com", "--row", "name=Kim"]).await;
    assert!(code == 0 && out.contains("subject  Hi again Kim"), "{out}{err}");
    let (code, _, err) = fanmail(&url, &["templates", "preview", &id, "--row", "email=kim@example.com"]).await;
    assert!(code == 1 && err.contains("missing_variables"), "{err}");

    let address = format!("{}@example.org", unique_name());
    let (code, out, err) = fanmail(&url, &["suppressions", "add", &address]).await;
    assert!(code == 0 && out.contains(&format!("suppressed {address}")), "{out}{err}");
    let (code, out, _) = fanmail(&url, &["suppressions", "list", "--limit", "1000"]).await;
    assert!(code == 0 && out.lines().any(|l| l.starts_with(&address) && l.contains("manual")), "{out}");
    let (code, out, _) = fanmail(&url, &["suppressions", "remove", &address]).await;
    assert!(code == 0 && out.contains("no longer suppressed"), "{out}");
    let (code, _, err) = fanmail(&url, &["suppressions", "remove", &address]).await;
    assert!(code == 1 && err.contains("HTTP 404"), "{err}");

    let (code, out, _) = fanmail(&url, &["--json", "stats", "--hours", "1"]).await;
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(code == 0 && stats["hours"] == 1 && stats["sent"].is_u64(), "{out}");
    let (code, out, _) = fanmail(&url, &["templates", "delete", &id]).await;
    assert!(code == 0 && out.contains("deleted"), "{out}");
    let (code, _, _) = fanmail(&url, &["templates", "show", &id]).await;
    assert_eq!(code, 1);

    // Every change above, with who made it (locally: "local"), newest first.
    let (code, out, err) = fanmail(&url, &["audit", &format!("template/{id}")]).await;
    let whats: Vec<&str> = out.lines().skip(1).filter_map(|l| l.split_whitespace().nth(2)).collect();
    assert_eq!((code, whats), (0, vec!["template.deleted", "template.saved", "template.saved"]), "{out}{err}");
    assert!(out.lines().skip(1).all(|l| l.split_whitespace().nth(1) == Some("local")), "{out}");
    let (code, out, _) = fanmail(&url, &["--json", "audit", &format!("suppression/{address}")]).await;
    let trail: serde_json::Value = serde_json::from_str(&out).unwrap();
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!((code, actions), (0, vec!["suppression.lifted", "suppression.added"]), "{out}");
    assert_eq!(trail["items"][0]["detail"]["forced"], "false", "{out}");
    let (code, out, _) = fanmail(&url, &["--json", "audit", "--limit", "2"]).await;
    let recent: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(code == 0 && recent["items"].as_array().unwrap().len() == 2 && recent["nextCursor"].is_string(), "{out}");
    let (code, _, err) = fanmail(&url, &["audit", "user/1"]).await;
    assert!(code == 1 && err.contains("invalid_subject"), "{err}");
}

#[tokio::test]
async fn bad_input_answers_one_clear_line_and_a_non_zero_exit_code() {
    let (_runner, api) = start().await;
    let url = api.base().to_string();
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).unwrap();

    let (code, _, err) = fanmail(&url, &["templates", "show", "no-such-template"]).await;
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "error: template 'no-such-template' does not exist (not_found, HTTP 404)");

    let missing = dir.join("missing.csv");
    let args = ["send", missing.to_str().unwrap(), "--template", "t", "--from", "news@example.com"];
    let (code, _, err) = fanmail(&url, &args).await;
    assert_eq!(code, 2);
    assert!(err.starts_with("error: cannot read ") && err.lines().count() == 1, "{err}");

    let template =
        write(&dir, "t.json", r#"{"id": "cli-t", "name": "t", "subject": "Hi {{coupon}}", "html": "<p>x</p>"}"#);
    fanmail(&url, &["templates", "push", template.to_str().unwrap()]).await;
    let list = write(&dir, "l.csv", "email,name\nkim@example.com,Kim\n");
    let args = ["send", list.to_str().unwrap(), "--template", "cli-t", "--from", "news@example.com", "--dry-run"];
    let (code, _, err) = fanmail(&url, &args).await;
    assert_eq!(code, 1);
    assert!(err.contains("no column for 'coupon'") && err.contains("(missing_variables, HTTP 422)"), "{err}");

    let args = ["send", list.to_str().unwrap(), "--template", "nope", "--from", "news@example.com"];
    let (code, _, err) = fanmail(&url, &args).await;
    assert!(code == 1 && err.contains("unknown_template"), "{err}");

    // A workbook saved under a .csv name: the dry run says so; a send fails before any mail.
    let mut workbook = b"PK\x03\x04".to_vec();
    workbook.extend_from_slice(&[0u8; 200]);
    let unreadable = dir.join("book.csv");
    std::fs::write(&unreadable, workbook).unwrap();
    let template =
        write(&dir, "n.json", r#"{"id": "cli-n", "name": "n", "subject": "Hi {{name}}", "html": "<p>x</p>"}"#);
    fanmail(&url, &["templates", "push", template.to_str().unwrap()]).await;
    let send = ["send", unreadable.to_str().unwrap(), "--template", "cli-n", "--from", "news@example.com"];
    let dry: Vec<&str> = send.iter().copied().chain(["--dry-run"]).collect();
    let (code, _, err) = fanmail(&url, &dry).await;
    assert!(code == 1 && err.contains("(invalid_list, HTTP 422)") && err.contains("workbook"), "{err}");
    let watched: Vec<&str> = send.iter().copied().chain(["--interval", "0.3"]).collect();
    let (code, out, err) = fanmail(&url, &watched).await;
    assert_eq!(code, 4, "{out}{err}");
    assert!(err.starts_with("error: the campaign is failed: the list cannot be read"), "{err}");

    let (code, _, err) = fanmail("http://127.0.0.1:9", &["campaigns", "list"]).await;
    assert_eq!(code, 3);
    assert!(
        err.starts_with("error: cannot reach the API at http://127.0.0.1:9: ") && err.lines().count() == 1,
        "{err}"
    );

    let (code, _, err) = fanmail(&url, &["send", "x.pdf", "--template", "t", "--from", "a@example.com"]).await;
    assert!(code == 2 && err.contains("not a .csv, .tsv or .xlsx list"), "{err}");
}

#[tokio::test]
async fn a_scheduled_send_is_rescheduled_and_cancelled_with_the_cli() {
    use fanmail_common::ports::Clock;
    let (_runner, api) = start().await;
    let url = api.base().to_string();
    let dir = std::env::temp_dir().join(unique_name());
    std::fs::create_dir_all(&dir).unwrap();
    let template =
        write(&dir, "t.json", r#"{"id": "cli-later", "name": "t", "subject": "Hi {{name}}", "html": "<p>x</p>"}"#);
    fanmail(&url, &["templates", "push", template.to_str().unwrap()]).await;
    let list = write(&dir, "l.csv", &format!("email,name\nkim@{}.example.com,Kim\n", unique_name()));
    let day = |days: i64| {
        let date = (fanmail_common::system::SystemClock.now() + time::Duration::days(days)).date();
        format!("{date}T09:00")
    };
    let (week, week_and_day) = (day(7), day(8));
    let args = ["send", list.to_str().unwrap(), "--template", "cli-later", "--from", "news@example.com"];
    let later: Vec<&str> = args.iter().copied().chain(["--at", week.as_str(), "--tz", "Asia/Seoul"]).collect();
    let (code, out, err) = fanmail(&url, &later).await;
    assert!(code == 0 && out.contains(" scheduled") && out.contains("send at: "), "{out}{err}");
    let id = out.lines().find_map(|l| l.strip_prefix("campaign ")).unwrap().split(' ').next().unwrap().to_string();

    let (code, out, err) =
        fanmail(&url, &["campaigns", "reschedule", &id, "--at", &week_and_day, "--tz", "Asia/Seoul"]).await;
    assert_eq!(code, 0, "{out}{err}");
    // 09:00 in Seoul is 00:00 UTC.
    assert!(out.contains(&format!("send at: {}T00:00:00Z", &week_and_day[..10])), "{out}");
    let (code, out, _) = fanmail(&url, &["campaigns", "cancel", &id]).await;
    assert!(code == 0 && out.contains(" cancelled"), "{out}");
    let (code, _, err) = fanmail(&url, &["campaigns", "cancel", &id]).await;
    assert!(code == 1 && err.contains("HTTP 409"), "{err}");
}

/// An API stand-in that answers one request with an empty page and hands over the request's
/// head.
async fn one_request_server() -> (String, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buffer = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buffer).await.unwrap();
            head.extend_from_slice(&buffer[..n]);
        }
        let body = r#"{"items":[]}"#;
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).await.unwrap();
        String::from_utf8_lossy(&head).to_lowercase()
    });
    (url, served)
}

#[tokio::test]
async fn without_api_the_cli_finds_the_url_in_the_stacks_outputs_and_signs_each_request() {
    let (url, served) = one_request_server().await;
    let stack = format!("cli-{}", unique_name());
    let sdk = crate::support::endpoints().sdk_config().await;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let template = format!(
        r#"{{"Resources": {{"Handle": {{"Type": "AWS::CloudFormation::WaitConditionHandle"}}}},
            "Outputs": {{"ApiUrl": {{"Value": "{url}"}}}}}}"#
    );
    cloudformation.create_stack().stack_name(&stack).template_body(template).send().await.unwrap();

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = fanmail_cli::run(["fanmail", "--stack", stack.as_str(), "templates", "list"], &mut out, &mut err).await;
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{out}{}", String::from_utf8_lossy(&err));
    assert!(out.contains("(none)"), "{out}");
    let head = served.await.unwrap();
    assert!(head.starts_with("get /templates http/1.1"), "{head}");
    assert!(head.contains("authorization: aws4-hmac-sha256 credential="), "{head}");
    assert!(head.contains("/execute-api/aws4_request, signedheaders=host;x-amz-date"), "{head}");

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let missing = format!("{stack}-missing");
    let code =
        fanmail_cli::run(["fanmail", "--stack", missing.as_str(), "campaigns", "list"], &mut out, &mut err).await;
    let err = String::from_utf8(err).unwrap();
    assert!(code == 3 && err.contains(&format!("stack '{missing}'")) && err.contains("--api"), "{err}");
    cloudformation.delete_stack().stack_name(&stack).send().await.unwrap();
}
