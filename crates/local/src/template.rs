//! Reads `template.yaml`: resources, function environments, HTTP routes, SQS event sources.
//!
//! CloudFormation short-form intrinsics (`!Ref`, `!GetAtt`, `!Sub`) arrive as YAML tags and are
//! normalised here into their long form (`{"Ref": ..}`, `{"Fn::GetAtt": [..]}`, ...).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};

/// The parsed template, intrinsics in long form.
#[derive(Debug, Clone)]
pub struct Template {
    pub parameters: Map<String, Value>,
    pub resources: Map<String, Value>,
    pub globals: Value,
}

/// An HTTP API route served by a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    pub function: String,
    pub method: String,
    /// `/campaigns/{id}`
    pub path: String,
    /// True when the route opts out of the API's IAM authorizer.
    pub public: bool,
}

impl HttpRoute {
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// An SQS event source mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct SqsEventSource {
    pub function: String,
    /// Logical id of the queue.
    pub queue: String,
    pub batch_size: i32,
    pub batching_window_seconds: i32,
    pub maximum_concurrency: Value,
    pub report_batch_item_failures: bool,
}

fn normalise(value: serde_yaml::Value) -> Result<Value> {
    use serde_yaml::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(n)?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(normalise).collect::<Result<_>>()?),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    other => serde_yaml::to_string(&other)?.trim().to_string(),
                };
                out.insert(key, normalise(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = normalise(tagged.value)?;
            match tag {
                "Ref" => json!({ "Ref": inner }),
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (resource, attribute) =
                            s.split_once('.').ok_or_else(|| anyhow!("!GetAtt {s} has no attribute"))?;
                        json!({ "Fn::GetAtt": [resource, attribute] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                other => json!({ format!("Fn::{other}"): inner }),
            }
        }
    })
}

impl Template {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self> {
        let yaml: serde_yaml::Value = serde_yaml::from_str(text).context("template.yaml is not valid YAML")?;
        let root = normalise(yaml)?;
        let section = |name: &str| root.get(name).and_then(Value::as_object).cloned().unwrap_or_default();
        Ok(Self {
            parameters: section("Parameters"),
            resources: section("Resources"),
            globals: root.get("Globals").cloned().unwrap_or(Value::Null),
        })
    }

    pub fn resource(&self, logical_id: &str) -> Result<&Value> {
        self.resources.get(logical_id).ok_or_else(|| anyhow!("template has no resource {logical_id}"))
    }

    pub fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources.get(logical_id)?.get("Type")?.as_str()
    }

    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.resources.iter().filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
    }

    pub fn properties<'a>(&'a self, logical_id: &str) -> &'a Value {
        self.resources.get(logical_id).and_then(|r| r.get("Properties")).unwrap_or(&Value::Null)
    }

    /// Logical ids of the Lambda functions.
    pub fn functions(&self) -> Vec<String> {
        self.of_type("AWS::Serverless::Function").map(|(id, _)| id.clone()).collect()
    }

    /// A function's environment variables, unresolved.
    pub fn function_environment(&self, function: &str) -> Map<String, Value> {
        let mut vars = self
            .globals
            .pointer("/Function/Environment/Variables")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        if let Some(own) = self.properties(function).pointer("/Environment/Variables").and_then(Value::as_object) {
            vars.extend(own.clone());
        }
        vars
    }

    /// A function property, falling back to `Globals.Function`.
    pub fn function_property(&self, function: &str, name: &str) -> Option<&Value> {
        self.properties(function).get(name).or_else(|| self.globals.pointer(&format!("/Function/{name}")))
    }

    fn events<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (String, &'a Value)> + 'a {
        self.of_type("AWS::Serverless::Function").flat_map(move |(function, resource)| {
            resource
                .pointer("/Properties/Events")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|events| events.values())
                .filter(move |event| event.get("Type").and_then(Value::as_str) == Some(kind))
                .filter_map(|event| event.get("Properties"))
                .map(move |props| (function.clone(), props))
        })
    }

    pub fn http_routes(&self) -> Result<Vec<HttpRoute>> {
        self.events("HttpApi")
            .map(|(function, props)| {
                let method = props
                    .get("Method")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{function}: HttpApi event without Method"))?;
                let path = props
                    .get("Path")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("{function}: HttpApi event without Path"))?;
                let public = props.pointer("/Auth/Authorizer").and_then(Value::as_str) == Some("NONE");
                Ok(HttpRoute { function, method: method.to_ascii_uppercase(), path: path.to_string(), public })
            })
            .collect()
    }

    pub fn sqs_event_sources(&self) -> Result<Vec<SqsEventSource>> {
        self.events("SQS")
            .map(|(function, props)| {
                let queue = match props.get("Queue") {
                    Some(Value::Object(o)) => match o.get("Fn::GetAtt") {
                        Some(Value::Array(parts)) if parts.len() == 2 => {
                            parts[0].as_str().unwrap_or_default().to_string()
                        }
                        _ => bail!("{function}: SQS Queue must be !GetAtt <Queue>.Arn"),
                    },
                    _ => bail!("{function}: SQS event without Queue"),
                };
                let int = |name: &str, default: i32| {
                    props.get(name).and_then(Value::as_i64).map(|v| v as i32).unwrap_or(default)
                };
                Ok(SqsEventSource {
                    function,
                    queue,
                    batch_size: int("BatchSize", 10),
                    batching_window_seconds: int("MaximumBatchingWindowInSeconds", 0),
                    maximum_concurrency: props
                        .pointer("/ScalingConfig/MaximumConcurrency")
                        .cloned()
                        .unwrap_or(json!(2)),
                    report_batch_item_failures: props
                        .get("FunctionResponseTypes")
                        .and_then(Value::as_array)
                        .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures")),
                })
            })
            .collect()
    }

    /// (function, topic logical id) for every SNS event.
    pub fn sns_subscriptions(&self) -> Vec<(String, Value)> {
        self.events("SNS").filter_map(|(function, props)| props.get("Topic").map(|t| (function, t.clone()))).collect()
    }

    /// Parameter defaults as strings, the way CloudFormation hands them to `!Ref`.
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        self.parameters
            .iter()
            .filter_map(|(name, spec)| {
                let default = spec.get("Default")?;
                Some((
                    name.clone(),
                    match default {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    },
                ))
            })
            .collect()
    }
}
