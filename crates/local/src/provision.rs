//! Creates the template's stateful resources on the local endpoint (tables, queues with their
//! redrive policies, bucket with CORS and lifecycle, topic, schedule group) and plays the rest
//! (functions, roles, API, configuration set, CDN) with stand-in names, so every `!Ref` and
//! `!GetAtt` a function's environment uses resolves.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, CorsConfiguration, CorsRule, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::resolve::{Physical, Scope, ACCOUNT_ID, REGION};
use crate::template::Template;

/// A provisioned local stack.
#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    pub template: Template,
    pub scope: Scope,
}

fn physical_name(stack: &str, logical_id: &str) -> String {
    format!("{stack}-{logical_id}")
}

fn arn(service: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}")
}

fn str_prop<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

impl Stack {
    /// Provisions `template` on the endpoint `sdk` points at, under `stack_name` (a prefix for
    /// every physical name, so parallel test stacks never collide). Idempotent.
    pub async fn provision(sdk: &SdkConfig, template: Template, stack_name: &str) -> Result<Self> {
        Self::provision_with(sdk, template, stack_name, &BTreeMap::new()).await
    }

    /// As [`Stack::provision`], with parameter values instead of the template's defaults
    /// (like `sam deploy --parameter-overrides`).
    pub async fn provision_with(
        sdk: &SdkConfig,
        template: Template,
        stack_name: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let mut scope = Scope { parameters: template.parameter_defaults(), resources: BTreeMap::new() };
        for (name, value) in parameters {
            if !scope.parameters.contains_key(name) && !template.parameters.contains_key(name) {
                bail!("template.yaml has no parameter {name}");
            }
            scope.parameters.insert(name.clone(), value.clone());
        }
        let mut redrives = Vec::new();
        // Queues first: everything else may name them.
        for (id, resource) in template.of_type("AWS::SQS::Queue") {
            let (physical, redrive) =
                create_queue(sdk, stack_name, id, resource.get("Properties").unwrap_or(&Value::Null)).await?;
            if let Some(redrive) = redrive {
                redrives.push((physical.reference.clone(), redrive));
            }
            scope.resources.insert(id.clone(), physical);
        }
        for (queue_url, redrive) in redrives {
            let target = match redrive.pointer("/deadLetterTargetArn") {
                Some(v) => scope.resolve(v, stack_name)?,
                None => bail!("RedrivePolicy without deadLetterTargetArn"),
            };
            let max_receive = redrive.get("maxReceiveCount").map(|v| v.to_string()).unwrap_or_else(|| "3".into());
            let policy =
                serde_json::json!({ "deadLetterTargetArn": target, "maxReceiveCount": max_receive.trim_matches('"') });
            aws_sdk_sqs::Client::new(sdk)
                .set_queue_attributes()
                .queue_url(&queue_url)
                .attributes(QueueAttributeName::RedrivePolicy, policy.to_string())
                .send()
                .await
                .context("setting a queue's redrive policy")?;
        }
        for (id, resource) in template.resources.clone() {
            let kind = resource.get("Type").and_then(Value::as_str).unwrap_or_default().to_string();
            let props = resource.get("Properties").cloned().unwrap_or(Value::Null);
            let name = physical_name(stack_name, &id);
            let physical = match kind.as_str() {
                "AWS::SQS::Queue" => continue,
                "AWS::DynamoDB::Table" => create_table(sdk, &name, &props).await?,
                "AWS::S3::Bucket" => create_bucket(sdk, &name.to_ascii_lowercase(), &props, &scope, stack_name).await?,
                "AWS::SNS::Topic" => {
                    let out = aws_sdk_sns::Client::new(sdk)
                        .create_topic()
                        .name(&name)
                        .send()
                        .await
                        .context("creating a topic")?;
                    let topic_arn = out.topic_arn().unwrap_or_default().to_string();
                    Physical {
                        reference: topic_arn.clone(),
                        attributes: BTreeMap::from([("TopicArn".into(), topic_arn), ("TopicName".into(), name)]),
                    }
                }
                "AWS::Scheduler::ScheduleGroup" => {
                    let group = match props.get("Name") {
                        Some(v) => scope.resolve(v, stack_name)?,
                        None => name.clone(),
                    };
                    let client = aws_sdk_scheduler::Client::new(sdk);
                    if let Err(e) = client.create_schedule_group().name(&group).send().await {
                        if e.as_service_error().is_none_or(|se| !se.is_conflict_exception()) {
                            return Err(anyhow!(e).context("creating the schedule group"));
                        }
                    }
                    Physical {
                        reference: group.clone(),
                        attributes: BTreeMap::from([(
                            "Arn".into(),
                            arn("scheduler", &format!("schedule-group/{group}")),
                        )]),
                    }
                }
                "AWS::Serverless::Function" => Physical {
                    reference: name.clone(),
                    attributes: BTreeMap::from([("Arn".into(), arn("lambda", &format!("function:{name}")))]),
                },
                "AWS::IAM::Role" => Physical {
                    reference: name.clone(),
                    attributes: BTreeMap::from([("Arn".into(), format!("arn:aws:iam::{ACCOUNT_ID}:role/{name}"))]),
                },
                "AWS::SecretsManager::Secret" => create_secret(sdk, &name, &props).await?,
                "AWS::SES::ConfigurationSet" => {
                    Physical { reference: name.to_ascii_lowercase(), attributes: BTreeMap::new() }
                }
                "AWS::Serverless::HttpApi" => Physical { reference: "local".into(), attributes: BTreeMap::new() },
                _ => Physical { reference: name.clone(), attributes: BTreeMap::new() },
            };
            scope.resources.insert(id, physical);
        }
        Ok(Self { name: stack_name.to_string(), template, scope })
    }

    /// A function's environment, resolved against this stack; `overrides` replace values that
    /// name things the local runner plays itself (the API's public URL, the CDN).
    pub fn function_env(
        &self,
        function: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>> {
        self.template
            .function_environment(function)
            .iter()
            .map(|(key, value)| {
                let resolved = match overrides.get(key) {
                    Some(v) => v.clone(),
                    None => self.scope.resolve(value, &self.name).with_context(|| format!("{function}: {key}"))?,
                };
                Ok((key.clone(), resolved))
            })
            .collect()
    }

    /// A function's `Timeout` (its own, or the template's global one), resolved; `None` if
    /// the template sets none.
    pub fn function_timeout(&self, function: &str) -> Result<Option<std::time::Duration>> {
        let Some(value) = self.template.function_property(function, "Timeout") else {
            return Ok(None);
        };
        let seconds: u64 = self
            .scope
            .resolve(value, &self.name)?
            .parse()
            .with_context(|| format!("{function}: Timeout is not a whole number of seconds"))?;
        Ok(Some(std::time::Duration::from_secs(seconds)))
    }

    pub fn reference(&self, logical_id: &str) -> Result<&str> {
        self.scope
            .resources
            .get(logical_id)
            .map(|p| p.reference.as_str())
            .ok_or_else(|| anyhow!("stack has no resource {logical_id}"))
    }

    pub fn attribute(&self, logical_id: &str, attribute: &str) -> Result<&str> {
        self.scope
            .resources
            .get(logical_id)
            .and_then(|p| p.attributes.get(attribute))
            .map(String::as_str)
            .ok_or_else(|| anyhow!("stack has no {logical_id}.{attribute}"))
    }
}

/// A secret with a generated value, as `GenerateSecretString` makes one (hex from random
/// UUIDs: letters and digits, no punctuation). An existing secret keeps its value.
async fn create_secret(sdk: &SdkConfig, name: &str, props: &Value) -> Result<Physical> {
    let length = props.pointer("/GenerateSecretString/PasswordLength").and_then(Value::as_u64).unwrap_or(32) as usize;
    let mut value = String::new();
    while value.len() < length {
        value.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    value.truncate(length);
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let arn = match client.create_secret().name(name).secret_string(value).send().await {
        Ok(out) => out.arn().unwrap_or_default().to_string(),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_exists_exception()) => {
            let out = client.describe_secret().secret_id(name).send().await.context("reading an existing secret")?;
            out.arn().unwrap_or_default().to_string()
        }
        Err(e) => return Err(anyhow!(e).context("creating a secret")),
    };
    Ok(Physical { reference: arn, attributes: BTreeMap::new() })
}

async fn create_queue(sdk: &SdkConfig, stack: &str, id: &str, props: &Value) -> Result<(Physical, Option<Value>)> {
    let name = physical_name(stack, id);
    let client = aws_sdk_sqs::Client::new(sdk);
    let mut request = client.create_queue().queue_name(&name);
    for (prop, attribute) in [
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        ("MessageRetentionPeriod", QueueAttributeName::MessageRetentionPeriod),
        ("DelaySeconds", QueueAttributeName::DelaySeconds),
    ] {
        if let Some(value) = props.get(prop) {
            request = request.attributes(attribute, value.to_string().trim_matches('"').to_string());
        }
    }
    let url = request
        .send()
        .await
        .with_context(|| format!("creating queue {name}"))?
        .queue_url()
        .unwrap_or_default()
        .to_string();
    let attrs = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .context("reading a queue's ARN")?;
    let queue_arn = attrs.attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().unwrap_or_default();
    Ok((
        Physical {
            reference: url.clone(),
            attributes: BTreeMap::from([
                ("Arn".into(), queue_arn),
                ("QueueName".into(), name),
                ("QueueUrl".into(), url),
            ]),
        },
        props.get("RedrivePolicy").cloned(),
    ))
}

async fn create_table(sdk: &SdkConfig, name: &str, props: &Value) -> Result<Physical> {
    let client = aws_sdk_dynamodb::Client::new(sdk);
    let key_schema = |keys: &Value| -> Result<Vec<KeySchemaElement>> {
        keys.as_array()
            .ok_or_else(|| anyhow!("{name}: KeySchema must be a list"))?
            .iter()
            .map(|k| {
                Ok(KeySchemaElement::builder()
                    .attribute_name(str_prop(k, "/AttributeName").unwrap_or_default())
                    .key_type(KeyType::from(str_prop(k, "/KeyType").unwrap_or_default()))
                    .build()?)
            })
            .collect()
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(props.get("KeySchema").unwrap_or(&Value::Null))?));
    for def in props.get("AttributeDefinitions").and_then(Value::as_array).into_iter().flatten() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(str_prop(def, "/AttributeName").unwrap_or_default())
                .attribute_type(ScalarAttributeType::from(str_prop(def, "/AttributeType").unwrap_or_default()))
                .build()?,
        );
    }
    for index in props.get("GlobalSecondaryIndexes").and_then(Value::as_array).into_iter().flatten() {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(str_prop(index, "/IndexName").unwrap_or_default())
                .set_key_schema(Some(key_schema(index.get("KeySchema").unwrap_or(&Value::Null))?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            str_prop(index, "/Projection/ProjectionType").unwrap_or("ALL"),
                        ))
                        .build(),
                )
                .build()?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_in_use_exception()) => {}
        Err(e) => return Err(anyhow!(e).context(format!("creating table {name}"))),
    }
    if let Some(ttl) = str_prop(props, "/TimeToLiveSpecification/AttributeName") {
        // Setting TTL on a table that has it already is an error some endpoints raise; harmless.
        let _ = client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(TimeToLiveSpecification::builder().attribute_name(ttl).enabled(true).build()?)
            .send()
            .await;
    }
    Ok(Physical {
        reference: name.to_string(),
        attributes: BTreeMap::from([("Arn".into(), arn("dynamodb", &format!("table/{name}")))]),
    })
}

async fn create_bucket(sdk: &SdkConfig, name: &str, props: &Value, scope: &Scope, stack: &str) -> Result<Physical> {
    let client = fanmail_common::aws::s3_client(sdk);
    match client.create_bucket().bucket(name).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_bucket_already_owned_by_you() || se.is_bucket_already_exists()) => {}
        Err(e) => return Err(anyhow!(e).context(format!("creating bucket {name}"))),
    }
    let mut cors = CorsConfiguration::builder();
    for rule in props.pointer("/CorsConfiguration/CorsRules").and_then(Value::as_array).into_iter().flatten() {
        let list = |key: &str| -> Result<Vec<String>> {
            rule.get(key).and_then(Value::as_array).into_iter().flatten().map(|v| scope.resolve(v, stack)).collect()
        };
        cors = cors.cors_rules(
            CorsRule::builder()
                .set_allowed_methods(Some(list("AllowedMethods")?))
                .set_allowed_origins(Some(list("AllowedOrigins")?))
                .set_allowed_headers(Some(list("AllowedHeaders")?))
                .set_max_age_seconds(rule.get("MaxAge").and_then(Value::as_i64).map(|v| v as i32))
                .build()?,
        );
    }
    client
        .put_bucket_cors()
        .bucket(name)
        .cors_configuration(cors.build()?)
        .send()
        .await
        .context("setting bucket CORS")?;
    let mut lifecycle = BucketLifecycleConfiguration::builder();
    let mut has_rules = false;
    for rule in props.pointer("/LifecycleConfiguration/Rules").and_then(Value::as_array).into_iter().flatten() {
        let Some(days) = rule.get("ExpirationInDays") else {
            continue;
        };
        has_rules = true;
        lifecycle = lifecycle.rules(
            LifecycleRule::builder()
                .id(str_prop(rule, "/Id").unwrap_or("rule"))
                .status(ExpirationStatus::Enabled)
                .filter(LifecycleRuleFilter::builder().prefix(str_prop(rule, "/Prefix").unwrap_or_default()).build())
                .expiration(LifecycleExpiration::builder().days(scope.resolve(days, stack)?.parse()?).build())
                .build()?,
        );
    }
    if has_rules {
        client
            .put_bucket_lifecycle_configuration()
            .bucket(name)
            .lifecycle_configuration(lifecycle.build()?)
            .send()
            .await
            .context("setting bucket lifecycle")?;
    }
    Ok(Physical {
        reference: name.to_string(),
        attributes: BTreeMap::from([
            ("Arn".into(), format!("arn:aws:s3:::{name}")),
            ("RegionalDomainName".into(), format!("{name}.s3.{REGION}.amazonaws.com")),
            ("DomainName".into(), format!("{name}.s3.amazonaws.com")),
        ]),
    })
}
