//! Resolves CloudFormation intrinsics against the locally provisioned resources.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use serde_json::Value;

/// What a logical id stands for once provisioned (or played) locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Physical {
    /// The value `!Ref` returns.
    pub reference: String,
    /// The values `!GetAtt <id>.<name>` returns.
    pub attributes: BTreeMap<String, String>,
}

/// The pseudo parameters and resources intrinsics can name.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub parameters: BTreeMap<String, String>,
    pub resources: BTreeMap<String, Physical>,
}

pub const REGION: &str = "us-east-1";
/// moto's default account.
pub const ACCOUNT_ID: &str = "123456789012";

impl Scope {
    fn reference(&self, name: &str, stack_name: &str) -> Result<String> {
        Ok(match name {
            "AWS::Region" => REGION.to_string(),
            "AWS::AccountId" => ACCOUNT_ID.to_string(),
            "AWS::Partition" => "aws".to_string(),
            "AWS::URLSuffix" => "amazonaws.com".to_string(),
            "AWS::StackName" => stack_name.to_string(),
            _ => {
                if let Some(value) = self.parameters.get(name) {
                    value.clone()
                } else if let Some(resource) = self.resources.get(name) {
                    resource.reference.clone()
                } else {
                    bail!("!Ref {name}: no such parameter or resource here")
                }
            }
        })
    }

    fn attribute(&self, resource: &str, attribute: &str) -> Result<String> {
        self.resources
            .get(resource)
            .and_then(|r| r.attributes.get(attribute))
            .cloned()
            .ok_or_else(|| anyhow!("!GetAtt {resource}.{attribute} is not available locally"))
    }

    fn substitute(&self, text: &str, stack_name: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').ok_or_else(|| anyhow!("unclosed ${{ in '{text}'"))? + start;
            let name = &rest[start + 2..end];
            let value = match name.split_once('.') {
                Some((resource, attribute)) if !name.starts_with("AWS::") => self.attribute(resource, attribute)?,
                _ => self.reference(name, stack_name)?,
            };
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Resolves a value to a string (what an environment variable receives).
    pub fn resolve(&self, value: &Value, stack_name: &str) -> Result<String> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Object(o) if o.len() == 1 => {
                let (function, arg) = o.iter().next().expect("one entry");
                match (function.as_str(), arg) {
                    ("Ref", Value::String(name)) => self.reference(name, stack_name),
                    ("Fn::GetAtt", Value::Array(parts)) if parts.len() == 2 => {
                        self.attribute(parts[0].as_str().unwrap_or_default(), parts[1].as_str().unwrap_or_default())
                    }
                    ("Fn::Sub", Value::String(text)) => self.substitute(text, stack_name),
                    ("Fn::Join", Value::Array(parts)) if parts.len() == 2 => {
                        let separator = parts[0].as_str().unwrap_or_default();
                        let items = parts[1].as_array().ok_or_else(|| anyhow!("!Join needs a list"))?;
                        Ok(items
                            .iter()
                            .map(|i| self.resolve(i, stack_name))
                            .collect::<Result<Vec<_>>>()?
                            .join(separator))
                    }
                    (other, _) => bail!("intrinsic {other} is not supported by the local runner"),
                }
            }
            other => bail!("cannot resolve {other} to a string"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let mut scope = Scope::default();
        scope.parameters.insert("Rate".into(), "14".into());
        scope.resources.insert(
            "Queue".into(),
            Physical {
                reference: "http://q/1/queue".into(),
                attributes: BTreeMap::from([("Arn".into(), "arn:aws:sqs:us-east-1:1:queue".into())]),
            },
        );
        scope
    }

    #[test]
    fn resolves_ref_getatt_sub_and_join() {
        let s = scope();
        assert_eq!(s.resolve(&json!({"Ref": "Rate"}), "st").unwrap(), "14");
        assert_eq!(s.resolve(&json!({"Ref": "Queue"}), "st").unwrap(), "http://q/1/queue");
        assert_eq!(s.resolve(&json!({"Fn::GetAtt": ["Queue", "Arn"]}), "st").unwrap(), "arn:aws:sqs:us-east-1:1:queue");
        assert_eq!(
            s.resolve(&json!({"Fn::Sub": "${AWS::StackName}-x-${Queue.Arn}"}), "st").unwrap(),
            "st-x-arn:aws:sqs:us-east-1:1:queue"
        );
        assert_eq!(s.resolve(&json!({"Fn::Join": ["-", ["a", {"Ref": "Rate"}]]}), "st").unwrap(), "a-14");
        assert!(s.resolve(&json!({"Ref": "Nope"}), "st").is_err());
        assert!(s.resolve(&json!({"Fn::GetAtt": ["Queue", "Nope"]}), "st").is_err());
    }
}
