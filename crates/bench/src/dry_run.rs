//! `dry-run [ROWS]`: a dry run (`POST /campaigns` with `"dryRun": true`) of a ROWS-row list
//! (100,000 unless given; 3 % invalid, 2 % repeated) with the ~100 KB template, through the
//! API's own handler on the in-memory world: what reading, rendering and signing every row
//! costs, so the rows a dry run covers in its 20 s can be read off. (DynamoDB's suppression
//! lookups, 8 chunks of 1,000 rows at once, come on top in AWS.)

use std::io::Read;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::encodings::Body;
use fanmail_bench::{cpu_seconds, large_html, peak_rss_mib, GeneratedList};
use fanmail_common::config::{vars, Env};
use fanmail_common::domain::{Template, TemplateId, UnsubscribeKey};
use fanmail_common::ports::ObjectStore;
use fanmail_common::store::TemplateStore;
use fanmail_common::wiring::MemoryAdapters;
use lambda_runtime::LambdaEvent;
use serde_json::json;

pub async fn run(rows: u64) -> Result<()> {
    let world = MemoryAdapters::at(time::macros::datetime!(2026-01-05 09:00 UTC));
    let env = Env::from_lookup(|name| {
        Some(match name {
            vars::SENDER_DOMAIN => "example.com".to_string(),
            vars::MAX_SEND_RATE => "100".to_string(),
            _ => format!("bench-{name}"),
        })
    });
    let key = UnsubscribeKey::new(vec![7; 32]).expect("long enough");
    let deps = fanmail_api::Deps::memory(&world, fanmail_api::Config::from_env(&env)?, Some(key));
    let template = Template {
        id: TemplateId::parse("news")?,
        version: 1,
        name: "News".into(),
        subject: "{{name}}, your {{city}} offer".into(),
        html: large_html(),
        text: "Hi {{name}}".into(),
        created_at: time::macros::datetime!(2026-01-01 00:00 UTC),
        created_by: None,
    };
    deps.templates.put_version(&template).await?;
    let mut list = Vec::new();
    GeneratedList::new(rows).read_to_end(&mut list)?;
    let list_bytes = list.len();
    deps.objects.put("lists/bench.csv", list, "text/csv").await?;

    let mut request = ApiGatewayV2httpRequest::default();
    request.route_key = Some("POST /campaigns".into());
    let body = json!({"templateId": "news", "listKey": "lists/bench.csv", "from": {"address": "news@example.com"},
                      "vars": {"brand": "fanmail", "expiry": "2026-12-31"}, "dryRun": true});
    request.body = Some(body.to_string());
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let response = fanmail_api::handler(&deps, LambdaEvent::new(request, Default::default()))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    let Some(Body::Text(text)) = response.body else { bail!("no body") };
    let report: serde_json::Value = serde_json::from_str(&text).context("the report")?;
    if response.status_code != 200 || report["complete"] != true || report["rows"] != rows {
        bail!("the dry run did not read every row: {}", response.status_code);
    }
    println!("dry_run.rows                 {rows}");
    println!("dry_run.list_mb              {:.1}", list_bytes as f64 / 1e6);
    println!("dry_run.recipients           {}", report["recipients"]);
    println!("dry_run.rejected_rows        {}", report["rejectedRows"]);
    println!("dry_run.duplicates           {}", report["duplicates"]);
    println!("dry_run.cpu_seconds          {cpu:.2}");
    println!("dry_run.wall_seconds         {wall:.2}");
    println!("dry_run.rows_per_cpu_second  {:.0}", rows as f64 / cpu);
    println!("dry_run.peak_rss_mib         {:.1}", peak_rss_mib());
    Ok(())
}
