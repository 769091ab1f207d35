//! Checks of template.yaml that cfn-lint and `sam validate --lint` do not make.

use std::cell::RefCell;
use std::collections::BTreeSet;

use fanmail_common::config::{ConfigError, Env};
use fanmail_local::functions;
use fanmail_local::template::Template;
use fanmail_local::{load_template, repo_root};
use lambda_runtime::LambdaEvent;
use serde_json::Value;

fn template() -> Template {
    load_template().expect("template.yaml parses")
}

fn number(value: Option<&Value>) -> Option<i64> {
    value.and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
}

/// Logical ids of queues some other resource names as its dead-letter target.
fn dead_letter_queues(t: &Template) -> BTreeSet<String> {
    let text = serde_json::to_string(&t.resources).unwrap();
    t.of_type("AWS::SQS::Queue")
        .map(|(id, _)| id.clone())
        .filter(|id| {
            text.contains(&format!(r#""deadLetterTargetArn":{{"Fn::GetAtt":["{id}","Arn"]}}"#))
                || text.contains(&format!(r#""TargetArn":{{"Fn::GetAtt":["{id}","Arn"]}}"#))
                || text.contains(&format!(r#""SCHEDULE_DLQ_ARN":{{"Fn::GetAtt":["{id}","Arn"]}}"#))
        })
        .collect()
}

#[test]
fn every_work_queue_redrives_to_a_dead_letter_queue_after_three_receives() {
    let t = template();
    let dlqs = dead_letter_queues(&t);
    assert!(dlqs.len() >= 4, "expected the split-job, recipient, schedule and recorder DLQs, got {dlqs:?}");
    for (id, queue) in t.of_type("AWS::SQS::Queue") {
        if dlqs.contains(id) {
            assert!(queue.pointer("/Properties/RedrivePolicy").is_none(), "{id}: a DLQ should not redrive further");
            assert_eq!(
                number(queue.pointer("/Properties/MessageRetentionPeriod")),
                Some(1_209_600),
                "{id}: keep dead letters 14 days"
            );
            continue;
        }
        let redrive = queue.pointer("/Properties/RedrivePolicy").unwrap_or_else(|| panic!("{id} has no RedrivePolicy"));
        assert_eq!(number(redrive.get("maxReceiveCount")), Some(3), "{id}");
        let target = redrive.pointer("/deadLetterTargetArn/Fn::GetAtt/0").and_then(Value::as_str).unwrap();
        assert!(dlqs.contains(target), "{id} redrives to {target}, which is not a DLQ");
    }
}

/// Nothing parks in a dead-letter queue unread: each has a consumer that turns its messages
/// into a state the campaign shows, or replays them.
#[test]
fn every_dead_letter_queue_is_consumed_by_a_function() {
    let t = template();
    let consumed: BTreeSet<String> = t.sqs_event_sources().unwrap().into_iter().map(|s| s.queue).collect();
    let unread: Vec<_> = dead_letter_queues(&t).into_iter().filter(|q| !consumed.contains(q)).collect();
    assert!(unread.is_empty(), "dead-letter queues nothing reads: {unread:?}");
}

#[test]
fn every_queue_visibility_timeout_is_at_least_six_times_its_consumers_timeout() {
    let t = template();
    let sources = t.sqs_event_sources().unwrap();
    assert_eq!(
        sources.len(),
        7,
        "the splitter consumes its jobs, the sender bulk and high-priority recipients, and each \
         dead-letter queue its consumer"
    );
    for source in sources {
        let timeout = number(t.function_property(&source.function, "Timeout")).unwrap();
        let visibility = number(t.properties(&source.queue).get("VisibilityTimeout")).unwrap_or(30);
        assert!(
            visibility >= 6 * timeout,
            "{}: visibility {visibility}s < 6 x {}'s timeout {timeout}s",
            source.queue,
            source.function
        );
    }
}

/// A split that dies part-way (out of memory, a runtime crash) is taken up again when its job's
/// visibility timeout runs out: that must be minutes, and leave the run time to work past the
/// margin it keeps for its checkpoint.
#[test]
fn a_crashed_split_is_taken_up_again_within_minutes() {
    let t = template();
    let timeout = number(t.function_property("SplitterFunction", "Timeout")).unwrap();
    let visibility = number(t.properties("SplitJobsQueue").get("VisibilityTimeout")).unwrap();
    assert!(visibility <= 600, "a crashed split waits {visibility}s before it is taken up again");
    let margin = fanmail_splitter::DEADLINE_MARGIN.as_secs() as i64;
    assert!(timeout >= 2 * margin, "a run of {timeout}s keeps {margin}s for its checkpoint: too little left to work");
}

#[test]
fn sqs_event_sources_report_partial_failures_cap_concurrency_and_use_known_properties() {
    const KNOWN: &[&str] = &[
        "Queue",
        "BatchSize",
        "Enabled",
        "FilterCriteria",
        "FunctionResponseTypes",
        "KmsKeyArn",
        "MaximumBatchingWindowInSeconds",
        "MetricsConfig",
        "ScalingConfig",
        "ProvisionedPollerConfig",
    ];
    let t = template();
    for (function, resource) in t.of_type("AWS::Serverless::Function") {
        for event in
            resource.pointer("/Properties/Events").and_then(Value::as_object).into_iter().flat_map(|e| e.values())
        {
            if event.get("Type").and_then(Value::as_str) != Some("SQS") {
                continue;
            }
            let props = event["Properties"].as_object().unwrap();
            for key in props.keys() {
                assert!(KNOWN.contains(&key.as_str()), "{function}: unknown SQS event property {key}");
            }
        }
    }
    for source in t.sqs_event_sources().unwrap() {
        assert!(source.report_batch_item_failures, "{} must use ReportBatchItemFailures", source.function);
        assert!(!source.maximum_concurrency.is_null(), "{} must set ScalingConfig.MaximumConcurrency", source.function);
        assert!((1..=10).contains(&source.batch_size), "{}: batch size {}", source.function, source.batch_size);
    }
}

#[test]
fn every_function_is_a_cargo_lambda_build_of_its_own_crate_for_al2023_arm64() {
    let t = template();
    let functions = t.functions();
    assert_eq!(functions.len(), 6);
    for function in functions {
        let resource = t.resource(&function).unwrap();
        assert_eq!(
            resource.pointer("/Metadata/BuildMethod").and_then(Value::as_str),
            Some("rust-cargolambda"),
            "{function}"
        );
        assert_eq!(
            t.function_property(&function, "Runtime").and_then(Value::as_str),
            Some("provided.al2023"),
            "{function}"
        );
        assert_eq!(t.function_property(&function, "Handler").and_then(Value::as_str), Some("bootstrap"), "{function}");
        assert_eq!(t.function_property(&function, "Architectures"), Some(&serde_json::json!(["arm64"])), "{function}");
        let code_uri = t.properties(&function)["CodeUri"].as_str().unwrap();
        let binary = resource.pointer("/Metadata/BuildProperties/Binary").and_then(Value::as_str).unwrap();
        let manifest = std::fs::read_to_string(repo_root().join(code_uri).join("Cargo.toml"))
            .unwrap_or_else(|_| panic!("{function}: CodeUri {code_uri} is not a crate"));
        assert!(
            manifest.contains(&format!("name = \"{binary}\"")),
            "{function}: crate {code_uri} does not build {binary}"
        );
    }
}

/// Reads a function's configuration through `read`, answering from the template's environment
/// (parameter defaults for `!Ref Parameter`, a stand-in for other intrinsics), and returns the
/// variables it asked for.
/// Reads one function's configuration.
type ConfigReader = fn(&Env) -> Result<(), ConfigError>;

fn variables_read(t: &Template, function: &str, read: ConfigReader) -> BTreeSet<String> {
    let environment = t.function_environment(function);
    let defaults = t.parameter_defaults();
    let asked = RefCell::new(BTreeSet::new());
    let env = Env::from_lookup(|key| {
        asked.borrow_mut().insert(key.to_string());
        let value = environment.get(key)?;
        Some(match value {
            Value::String(s) => s.clone(),
            Value::Object(o) => match o.get("Ref").and_then(Value::as_str).and_then(|p| defaults.get(p)) {
                Some(default) => default.clone(),
                None => format!("https://stand-in-for-{key}.example.com"),
            },
            other => other.to_string(),
        })
    });
    if let Err(e) = read(&env) {
        panic!("{function} cannot start with the template's environment: {e}");
    }
    drop(env);
    asked.into_inner()
}

#[test]
fn every_variable_a_function_reads_is_set_by_the_template_and_none_is_stale() {
    let t = template();
    let readers: [(&str, ConfigReader); 6] = [
        (functions::UPLOAD_URL, |e| fanmail_upload_url::Config::from_env(e).map(drop)),
        (functions::API, |e| fanmail_api::Config::from_env(e).map(drop)),
        (functions::SPLITTER, |e| fanmail_splitter::Config::from_env(e).map(drop)),
        (functions::TRIGGER, |e| fanmail_trigger::Config::from_env(e).map(drop)),
        (functions::SENDER, |e| fanmail_sender::Config::from_env(e).map(drop)),
        (functions::RECORDER, |e| fanmail_recorder::Config::from_env(e).map(drop)),
    ];
    for (function, read) in readers {
        let asked = variables_read(&t, function, read);
        let set: BTreeSet<String> = t.function_environment(function).keys().cloned().collect();
        let missing: Vec<_> = asked.difference(&set).collect();
        let stale: Vec<_> = set.difference(&asked).collect();
        assert!(missing.is_empty(), "{function} reads {missing:?}, which the template does not set");
        assert!(stale.is_empty(), "the template sets {stale:?} for {function}, which it never reads");
    }
}

#[tokio::test]
async fn every_route_in_the_template_reaches_its_handler() {
    use fanmail_common::wiring::MemoryAdapters;
    let t = template();
    let routes = t.http_routes().unwrap();
    assert!(routes.iter().any(|r| r.route_key() == "GET /health" && r.public));
    assert!(
        routes.iter().filter(|r| r.public).all(|r| r.path == "/health" || r.path == "/unsubscribe"),
        "only health and unsubscribe are public"
    );
    let env = Env::from_lookup(|k| {
        let number = k.starts_with("UPLOAD_MAX") || k == fanmail_common::config::vars::MAX_SEND_RATE;
        Some(if number { "1000".to_string() } else { format!("stand-in-{k}") })
    });
    let key = fanmail_common::domain::UnsubscribeKey::new(vec![7; 32]).unwrap();
    let world = MemoryAdapters::at(time::OffsetDateTime::UNIX_EPOCH);
    let api = fanmail_api::Deps::memory(&world, fanmail_api::Config::from_env(&env).unwrap(), Some(key));
    let uploads = fanmail_upload_url::Deps::memory(&world, fanmail_upload_url::Config::from_env(&env).unwrap());
    for route in routes {
        let mut request = aws_lambda_events::apigw::ApiGatewayV2httpRequest::default();
        request.route_key = Some(route.route_key());
        let event = LambdaEvent::new(request, Default::default());
        let response = match route.function.as_str() {
            functions::API => fanmail_api::handler(&api, event).await.unwrap(),
            functions::UPLOAD_URL => fanmail_upload_url::handler(&uploads, event).await.unwrap(),
            other => panic!("{other} has an HTTP route but serves none"),
        };
        let body = format!("{:?}", response.body);
        assert!(
            !body.contains("no route") && !body.contains("not_implemented"),
            "{} is routed to {} but not handled there",
            route.route_key(),
            route.function
        );
    }
}

#[test]
fn the_api_logs_every_call_as_json_with_the_caller_and_never_the_path() {
    let t = template();
    let (_, api) = t.of_type("AWS::Serverless::HttpApi").next().expect("the HTTP API");
    let format = api["Properties"]["AccessLogSettings"]["Format"].as_str().expect("access logs with a format");
    let line: Value = serde_json::from_str(format).expect("each access log line is JSON");
    assert_eq!(line["caller"], "$context.identity.userArn");
    assert_eq!(line["route"], "$context.routeKey");
    assert!(!format.contains("$context.path"), "a path can hold an address: {format}");
    let destination = serde_json::to_string(&api["Properties"]["AccessLogSettings"]["DestinationArn"]).unwrap();
    assert!(destination.contains("ApiAccessLogs"), "{destination}");
    assert!(t
        .of_type("AWS::Logs::LogGroup")
        .any(|(id, group)| id == "ApiAccessLogs" && group["Properties"]["RetentionInDays"].as_i64().is_some()));
}
