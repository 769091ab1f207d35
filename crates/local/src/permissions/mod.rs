//! Least privilege, checked against what the functions really call.
//!
//! With `FANMAIL_RECORD_CALLS` naming a directory, every function the runner hosts gets SDK
//! clients of its own that note each request's IAM action and resource ([`actions`]) and which
//! statements of that function's policy in `template.yaml` allow it ([`record`]). After the
//! end-to-end suite, [`check`] reads the notes of every test process and fails on a call no
//! statement allows (production would be refused) and on an action a statement allows that no
//! call used (a permission the function does not need).
//!
//! The DynamoDB grants are also checked without running anything ([`check_stores`]): every
//! store method a function's code can call declares what it may need on AWS
//! (`fanmail_common::store::iam`), each function lists the methods it uses
//! ([`stores_of`]), and the sum must be exactly the function's DynamoDB grants, so a path no
//! test reaches (a second unsubscribe, a retried split) is covered too.
//!
//! Policies are written as plain `Statement`s (no SAM policy templates), so what a function
//! may do is what the template says, action by action. The one grant no function call can show
//! is the one behind presigned URLs (the caller's upload uses it): its statement's `Sid` starts
//! with `Presigned`, and it is exempt from the "never called" half (the check lists it).

pub mod actions;
pub mod record;

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use fanmail_common::store::iam::{needs as store_needs, Uses};

use crate::resolve::Scope;
use crate::template::Template;

/// The environment variable naming the directory the calls are noted in.
pub const RECORD_CALLS: &str = "FANMAIL_RECORD_CALLS";

/// One action a function's policy allows on one resource, as the template writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub function: String,
    pub action: String,
    /// The resource expression (`{"Fn::Sub": ..}`, `"*"`, ...).
    pub resource: Value,
    /// Exempt from the "never called" half, by its statement's `Sid`: `Presigned...` (used by
    /// callers through URLs the function signs; S3 checks the signer's permissions).
    pub exempt: Option<String>,
}

impl Grant {
    /// `ApiFunction: dynamodb:GetItem on !GetAtt TemplatesTable.Arn`: names the grant in notes
    /// and findings, the same in every test process.
    pub fn key(&self) -> String {
        format!("{}: {} on {}", self.function, self.action, written(&self.resource))
    }
}

/// An intrinsic as the template's short form writes it.
fn written(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.len() == 1 => {
            let (function, arg) = o.iter().next().expect("one entry");
            match (function.as_str(), arg) {
                ("Ref", Value::String(name)) => format!("!Ref {name}"),
                ("Fn::GetAtt", Value::Array(parts)) => format!(
                    "!GetAtt {}",
                    parts.iter().map(|p| p.as_str().unwrap_or_default()).collect::<Vec<_>>().join(".")
                ),
                ("Fn::Sub", Value::String(text)) => format!("!Sub {text}"),
                _ => value.to_string(),
            }
        }
        other => other.to_string(),
    }
}

fn one_or_many(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Every grant of every function's `Policies`. A SAM policy template (`DynamoDBCrudPolicy`
/// and the like) or a `Deny` is refused: the check reads statements only.
pub fn grants(template: &Template) -> Result<Vec<Grant>> {
    let mut out = Vec::new();
    for function in template.functions() {
        let Some(policies) = template.function_property(&function, "Policies") else { continue };
        for policy in one_or_many(policies) {
            let statements = policy.get("Statement").with_context(|| {
                format!("{function}: {policy} is not a plain policy statement list; write its actions out")
            })?;
            for statement in one_or_many(statements) {
                if statement["Effect"] != "Allow" {
                    bail!("{function}: only Allow statements are expected, found {statement}");
                }
                for action in one_or_many(&statement["Action"]) {
                    let action = action.as_str().with_context(|| format!("{function}: action {action}"))?;
                    for resource in one_or_many(&statement["Resource"]) {
                        let exempt =
                            statement["Sid"].as_str().filter(|sid| sid.starts_with("Presigned")).map(str::to_string);
                        out.push(Grant { function: function.clone(), action: action.to_string(), resource, exempt });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// IAM's wildcard match: `*` any run of characters (`/` included), `?` any one.
pub fn matches(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A function's grants with their resources resolved against a local stack.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    resolved: Vec<(String, String, String)>,
}

impl Policy {
    pub fn of(function: &str, grants: &[Grant], scope: &Scope, stack_name: &str) -> Result<Self> {
        let resolved = grants
            .iter()
            .filter(|g| g.function == function)
            .map(|g| Ok((g.action.to_ascii_lowercase(), scope.resolve(&g.resource, stack_name)?, g.key())))
            .collect::<Result<_>>()?;
        Ok(Self { resolved })
    }

    /// The keys of the grants that allow `action` on `resource`.
    pub fn allowing(&self, action: &str, resource: &str) -> Vec<String> {
        let action = action.to_ascii_lowercase();
        self.resolved
            .iter()
            .filter(|(a, pattern, _)| matches(a, &action) && matches(pattern, resource))
            .map(|(_, _, key)| key.clone())
            .collect()
    }
}

/// One noted call: a function needed `action` on `resource`; `allowed_by` the grants that
/// allow it (none: production would refuse it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Noted {
    pub function: String,
    pub action: String,
    pub resource: String,
    pub allowed_by: Vec<String>,
}

/// What the check finds wrong, one line each.
pub fn check(grants: &[Grant], noted: &[Noted]) -> Vec<String> {
    let mut findings = BTreeSet::new();
    let mut used = BTreeSet::new();
    for call in noted {
        if call.allowed_by.is_empty() {
            findings.insert(format!(
                "{} calls {} on {}, which its policy does not allow",
                call.function, call.action, call.resource
            ));
        }
        used.extend(call.allowed_by.iter().cloned());
    }
    for grant in grants {
        let key = grant.key();
        if grant.exempt.is_none() && !used.contains(&key) {
            findings.insert(format!("{key} is allowed but never called"));
        }
    }
    findings.into_iter().collect()
}

/// The store methods a function's code can call, as its crate lists them.
pub fn stores_of(function: &str) -> Option<&'static [Uses]> {
    use crate::functions::*;
    Some(match function {
        API => fanmail_api::STORES,
        SPLITTER => fanmail_splitter::STORES,
        TRIGGER => fanmail_trigger::STORES,
        SENDER => fanmail_sender::STORES,
        RECORDER => fanmail_recorder::STORES,
        UPLOAD_URL => &[],
        _ => return None,
    })
}

/// The static DynamoDB half of the check, one line per finding: a permission some store method
/// of `function` may need that its policy lacks, and a DynamoDB grant no store method needs.
/// Tables are found through the function's environment (`CAMPAIGNS_TABLE: !Ref CampaignsTable`).
pub fn check_stores(template: &Template, function: &str, uses: &[Uses]) -> Result<Vec<String>> {
    let needs = store_needs(uses).map_err(anyhow::Error::msg).with_context(|| function.to_string())?;
    let variables = template.function_property(function, "Environment").and_then(|e| e.get("Variables"));
    let mut needed = BTreeSet::new();
    for need in needs {
        let table = variables
            .and_then(|v| v.get(need.table))
            .and_then(|r| r.get("Ref"))
            .and_then(Value::as_str)
            .with_context(|| format!("{function} uses {} but its environment has no `!Ref` for it", need.table))?;
        let resource = match need.index {
            None => format!("!GetAtt {table}.Arn"),
            Some(index) => format!("!Sub ${{{table}.Arn}}/index/{index}"),
        };
        needed.insert((need.action.to_string(), resource));
    }
    let granted: BTreeSet<(String, String)> = grants(template)?
        .into_iter()
        .filter(|g| g.function == function && g.action.starts_with("dynamodb:"))
        .map(|g| (g.action.clone(), written(&g.resource)))
        .collect();
    let missing = needed.difference(&granted).map(|(action, resource)| {
        format!("{function} may call {action} on {resource}, which its policy does not allow")
    });
    let unneeded = granted.difference(&needed).map(|(action, resource)| {
        format!("{function}: {action} on {resource} is allowed but no store method needs it")
    });
    Ok(missing.chain(unneeded).collect())
}

#[cfg(test)]
mod tests;
