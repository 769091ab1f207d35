//! `templates push|list|show|preview`.

use serde_json::{json, Value};

use super::{pairs, segment};
use crate::args::TemplatesCommand;
use crate::client::Api;
use crate::{table, CliError};

pub async fn run(
    api: &Api,
    command: &TemplatesCommand,
    out: &mut dyn std::io::Write,
    json: bool,
) -> Result<(), CliError> {
    match command {
        TemplatesCommand::Push { file } => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| CliError::Input(format!("cannot read {}: {e}", file.display())))?;
            let mut template: Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Input(format!("{} is not a template's JSON: {e}", file.display())))?;
            let id = template["id"]
                .as_str()
                .ok_or_else(|| CliError::Input(format!("{} has no \"id\"", file.display())))?
                .to_string();
            let saved = match api.post("/templates", &template).await {
                Err(CliError::Api { status: 409, .. }) => {
                    // It exists: the file becomes its next version.
                    template.as_object_mut().map(|t| t.remove("id"));
                    api.call(http::Method::PUT, &format!("/templates/{}", segment(&id)), Some(&template)).await?
                }
                other => other?,
            };
            if json {
                table::json(out, &saved)?;
            } else {
                let _ =
                    writeln!(out, "template {} version {}", table::cell(&saved["id"]), table::cell(&saved["version"]));
            }
        }
        TemplatesCommand::List => {
            let page = api.get("/templates").await?;
            if json {
                return table::json(out, &page);
            }
            let rows: Vec<Vec<String>> = items(&page)
                .map(|t| {
                    vec![
                        table::cell(&t["id"]),
                        table::cell(&t["latestVersion"]),
                        table::cell(&t["name"]),
                        table::cell(&t["updatedAt"]),
                    ]
                })
                .collect();
            table::print(out, &["ID", "VERSION", "NAME", "UPDATED"], &rows);
        }
        TemplatesCommand::Show { id, version } => {
            let query = version.map(|v| format!("?version={v}")).unwrap_or_default();
            let template = api.get(&format!("/templates/{}{query}", segment(id))).await?;
            if json {
                return table::json(out, &template);
            }
            table::fields(
                out,
                &[
                    ("id", table::cell(&template["id"])),
                    ("version", table::cell(&template["version"])),
                    ("name", table::cell(&template["name"])),
                    ("subject", table::cell(&template["subject"])),
                    ("variables", table::cell(&template["variables"])),
                ],
            );
        }
        TemplatesCommand::Delete { id } => {
            api.call(http::Method::DELETE, &format!("/templates/{}", segment(id)), None).await?;
            if !json {
                let _ = writeln!(out, "template {id} deleted");
            }
        }
        TemplatesCommand::Preview { id, row, vars, from } => {
            let mut body = json!({"row": pairs(row, "--row")?, "vars": pairs(vars, "--var")?});
            if let Some(from) = from {
                body["from"] = json!({"address": from});
            }
            let mail = api.post(&format!("/templates/{}/preview", segment(id)), &body).await?;
            if json {
                return table::json(out, &mail);
            }
            table::fields(
                out,
                &[
                    ("from", table::cell(&mail["from"])),
                    ("to", table::cell(&mail["to"])),
                    ("subject", table::cell(&mail["subject"])),
                ],
            );
            let _ = writeln!(out, "\n{}", table::cell(&mail["text"]));
        }
    }
    Ok(())
}

pub fn items(page: &Value) -> impl Iterator<Item = &Value> {
    page["items"].as_array().into_iter().flatten()
}
