//! `send LIST --template ID --from ADDR`: the list uploaded through a presigned URL (a byte
//! bar), then a test mail (`--test-to`), a dry run (`--dry-run`), or the campaign created and
//! watched to its end.

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use super::campaigns::{show, test_result};
use super::{pairs, segment};
use crate::args::SendArgs;
use crate::client::Api;
use crate::{table, watch, CliError};

/// The content type a list is uploaded as, by its file name.
fn content_type(args: &SendArgs) -> Result<&'static str, CliError> {
    let name = args.list.to_string_lossy().to_ascii_lowercase();
    let by_extension = [
        (".csv", "text/csv"),
        (".tsv", "text/tab-separated-values"),
        (".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ];
    by_extension
        .iter()
        .find(|(ext, _)| name.ends_with(ext))
        .map(|(_, t)| *t)
        .ok_or_else(|| CliError::Input(format!("{} is not a .csv, .tsv or .xlsx list", args.list.display())))
}

/// Everything that can be checked before the API is called.
pub fn check(args: &SendArgs) -> Result<(), CliError> {
    content_type(args)?;
    let meta = std::fs::metadata(&args.list)
        .map_err(|e| CliError::Input(format!("cannot read {}: {e}", args.list.display())))?;
    if !meta.is_file() || meta.len() == 0 {
        return Err(CliError::Input(format!("{} is not a list with rows", args.list.display())));
    }
    std::fs::File::open(&args.list)
        .map_err(|e| CliError::Input(format!("cannot read {}: {e}", args.list.display())))?;
    pairs(&args.vars, "--var")?;
    if args.test_to.len() > 5 {
        return Err(CliError::Input("--test-to takes at most 5 addresses".into()));
    }
    Ok(())
}

pub async fn run(api: &Api, args: &SendArgs, out: &mut dyn std::io::Write, json: bool) -> Result<(), CliError> {
    let key = upload(api, args, out, json).await?;
    let vars = pairs(&args.vars, "--var")?;
    let mut from = json!({"address": args.from});
    if let Some(name) = &args.from_name {
        from["name"] = json!(name);
    }
    if !args.test_to.is_empty() {
        let body = json!({"listKey": key, "vars": vars, "from": from, "to": args.test_to});
        let answer = api.post(&format!("/templates/{}/test", segment(&args.template)), &body).await?;
        test_result(out, &answer, json);
        return Ok(());
    }
    let mut body = json!({"templateId": args.template, "listKey": key, "from": from, "vars": vars});
    let fields = [
        ("sendAt", &args.at),
        ("timezone", &args.tz),
        ("priority", &args.priority),
        ("emailColumn", &args.email_column),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            body[field] = json!(value);
        }
    }
    if let Some(rate) = args.max_rate {
        body["maxRate"] = json!(rate);
    }
    if args.dry_run {
        body["dryRun"] = json!(true);
        let report = api.post("/campaigns", &body).await?;
        dry_run_report(out, &report, json);
        return Ok(());
    }
    let campaign = api.post("/campaigns", &body).await?;
    let id = campaign["id"].as_str().unwrap_or_default().to_string();
    if args.no_watch || campaign["status"] == "scheduled" {
        show(out, &campaign, json);
        return Ok(());
    }
    if !json {
        let _ = writeln!(out, "campaign {id} created; watching (Ctrl-C stops watching, not the campaign)");
    }
    watch::watch(api, &id, &args.watch, out, json).await
}

/// Uploads the list; its key.
async fn upload(api: &Api, args: &SendArgs, out: &mut dyn std::io::Write, json: bool) -> Result<String, CliError> {
    let content_type = content_type(args)?;
    let size = std::fs::metadata(&args.list).map_err(|e| CliError::Input(e.to_string()))?.len();
    let filename = args.list.file_name().map(|n| n.to_string_lossy().to_string());
    let grant = api
        .post("/uploads", &json!({"kind": "list", "contentType": content_type, "size": size, "filename": filename}))
        .await?;
    let (Some(key), Some(url)) = (grant["key"].as_str(), grant["uploadUrl"].as_str()) else {
        return Err(CliError::Failed(format!("POST /uploads answered without a key and URL: {grant}")));
    };
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template("uploading [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let headers = grant["headers"].as_object().cloned().unwrap_or_default();
    api.upload(url, &headers, &args.list, &bar).await?;
    bar.finish_and_clear();
    if !json {
        let _ = writeln!(out, "uploaded {} ({size} bytes) as {key}", args.list.display());
    }
    Ok(key.to_string())
}

/// The column the addresses come from, and how it was found.
fn address_column(column: &Value) -> String {
    let how = match column["foundBy"].as_str() {
        Some("content") => "found by its values",
        Some("chosen") => "as named",
        _ => "by its header",
    };
    format!("'{}' ({how})", table::cell(&column["name"]))
}

fn dry_run_report(out: &mut dyn std::io::Write, report: &Value, json: bool) {
    if json {
        let _ = table::json(out, report);
        return;
    }
    let n = |k: &str| table::cell(&report[k]);
    let complete =
        if report["complete"] == true { String::new() } else { format!(" (read up to row {})", n("lastRow")) };
    let _ = writeln!(
        out,
        "dry run of template {} version {}{complete}: nothing was sent",
        n("templateId"),
        n("templateVersion")
    );
    table::fields(
        out,
        &[
            ("rows", n("rows")),
            ("addresses from", address_column(&report["addressColumn"])),
            ("would be mailed", n("recipients")),
            ("rejected rows", n("rejectedRows")),
            ("duplicates", n("duplicates")),
            ("suppressed", n("suppressed")),
            ("fail to render", n("renderFailures")),
            ("with a blank", n("blankRows")),
            (
                "estimated time",
                format!(
                    "{} s at {} mails/s",
                    table::cell(&report["estimate"]["seconds"]),
                    table::cell(&report["estimate"]["sendRate"])
                ),
            ),
        ],
    );
    for (title, key) in [("rejected", "rejected"), ("fail to render", "renderFailed"), ("blank", "blank")] {
        for row in report[key].as_array().into_iter().flatten() {
            let _ = writeln!(out, "  {title}: row {}: {}", table::cell(&row["row"]), table::cell(&row["reason"]));
        }
    }
    for note in report["estimate"]["notes"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "note: {}", table::cell(note));
    }
}
