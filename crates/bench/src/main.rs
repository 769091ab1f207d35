//! `fanmail-bench <render|list|pipeline|hotpath>`: the figures `make bench` prints.
//!
//! - `render`: mails rendered per second on one core, for a ~100 KB HTML template with
//!   personal fields (the renderer the sender uses).
//! - `list`: a 1,000,000-row recipient list (3 % invalid, 2 % duplicate) read as the splitter
//!   reads it: rows per second, CPU seconds and the process's peak RSS.
//! - `pipeline`: a 1,000-recipient campaign through the local stack (API, splitter, sender,
//!   real SDK clients), counting every AWS call by service and operation, then the calls that
//!   record its delivery results.
//! - `hotpath`: CPU per mail of the sender's hot path through the real SDK (render, request,
//!   signing, HTTP) against a loopback sink, on one core.

mod hotpath;

use fanmail_bench::{cpu_seconds, large_html, peak_rss_mib, GeneratedList};

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fanmail_common::recipient_list::{ListRow, RecipientList};
use fanmail_common::render::{MailData, MailTemplate};

fn render() -> Result<()> {
    let html = large_html();
    let template = MailTemplate::compile("{{name}}, your {{city}} offer", &html, "Hi {{name}}")?;
    let shared = BTreeMap::from([
        ("brand".to_string(), "fanmail".to_string()),
        ("expiry".to_string(), "2026-12-31".to_string()),
    ]);
    let count = 20_000;
    let recipients: Vec<BTreeMap<String, String>> = (0..count)
        .map(|i| {
            BTreeMap::from([
                ("name".to_string(), format!("Kim Min-su {i}")),
                ("city".to_string(), if i % 2 == 0 { "Seoul" } else { "Busan" }.to_string()),
                ("coupon".to_string(), format!("FAN-{i:06}")),
            ])
        })
        .collect();
    let mut bytes = 0usize;
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    for recipient in &recipients {
        let mail = template.render(&MailData {
            shared: &shared,
            recipient,
            unsubscribe_url: "https://api.example.com/unsubscribe?token=x",
        })?;
        bytes += mail.html.len();
    }
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    println!("render.template_bytes        {}", html.len());
    println!("render.mails                 {count}");
    println!("render.mails_per_cpu_second  {:.0}", count as f64 / cpu);
    println!("render.wall_seconds          {wall:.2}");
    println!("render.output_mb             {:.0}", bytes as f64 / 1e6);
    Ok(())
}

fn list() -> Result<()> {
    let rows = 1_000_000;
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut list = RecipientList::open(GeneratedList::new(rows))?;
    let (mut recipients, mut rejected, mut duplicates) = (0u64, 0u64, 0u64);
    while let Some(row) = list.next_row() {
        match row? {
            ListRow::Recipient { .. } => recipients += 1,
            ListRow::Rejected(_) => rejected += 1,
            ListRow::Duplicate { .. } => duplicates += 1,
        }
    }
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    if recipients + rejected + duplicates != rows {
        bail!("read {} rows of {rows}", recipients + rejected + duplicates);
    }
    println!("list.rows                    {rows}");
    println!("list.recipients              {recipients}");
    println!("list.rejected                {rejected}");
    println!("list.duplicates              {duplicates}");
    println!("list.cpu_seconds             {cpu:.2}");
    println!("list.rows_per_cpu_second     {:.0}", rows as f64 / cpu);
    println!("list.wall_seconds            {wall:.2}");
    println!("list.peak_rss_mib            {:.1}", peak_rss_mib());
    Ok(())
}

async fn pipeline() -> Result<()> {
    use fanmail_local::client::ApiClient;
    use fanmail_local::{metering, LocalEndpoints, Runner};
    let endpoints = LocalEndpoints::from_env()?;
    let (sdk, counts) = metering::metered(&endpoints.sdk_config().await)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let stack = format!("bench{}", std::process::id());
    let parameters = BTreeMap::from([
        ("MaxSendRate".to_string(), "2000".to_string()),
        ("SenderConcurrency".to_string(), "4".to_string()),
    ]);
    let runner = Runner::start_with(&endpoints, &sdk, &stack, listener, &parameters).await?;
    let api = ApiClient::new(runner.api_url.clone());
    let mails = 1000;
    let mut csv = String::from("email,name\n");
    for i in 0..mails {
        csv.push_str(&format!("user{i}@{stack}.example.com,Kim {i}\n"));
    }
    let (status, body) = api
        .call("POST", "/templates", Some(serde_json::json!({"id": "bench", "name": "bench", "subject": "Hi {{name}}", "html": large_html().replace("{{city}}", "Seoul").replace("{{coupon}}", "X").replace("{{expiry}}", "soon").replace("{{brand}}", "fanmail")})))
        .await?;
    if status != 201 {
        bail!("creating the template: {status} {body}");
    }
    let key = api.upload_list(csv.as_bytes()).await?;
    // Provisioning, template and upload are not part of the campaign's cost; delivery results
    // are measured apart, after the campaign.
    runner.deliver_ses_events(false);
    counts.reset();
    let wall = Instant::now();
    let (status, campaign) = api
        .call(
            "POST",
            "/campaigns",
            Some(serde_json::json!({"templateId": "bench", "listKey": key, "from": {"address": "news@example.com"}})),
        )
        .await?;
    if status != 202 {
        bail!("creating the campaign: {status} {campaign}");
    }
    let id = campaign["id"].as_str().context("campaign id")?;
    let done = api.wait_for_campaign(id, Duration::from_secs(600)).await?;
    let wall = wall.elapsed().as_secs_f64();
    // Let the pollers' in-flight receives finish being counted, then take the figures.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let sent = done["counters"]["sent"].as_u64().unwrap_or(0);
    println!("pipeline.mails_sent          {sent}");
    println!("pipeline.wall_seconds        {wall:.1}");
    println!("pipeline.calls_total         {}", counts.total());
    for (service, n) in counts.by_service() {
        println!("pipeline.calls.{service:<13} {n}");
    }
    let mut operations: Vec<_> = counts.snapshot().into_iter().collect();
    operations.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for ((service, operation), n) in operations.iter().take(12) {
        println!("pipeline.op {service}.{operation:<32} {n}");
    }
    println!("pipeline.note               SQS ReceiveMessage counts include idle long polls of the runner's pollers");

    // Recording the results: SES publishes a Send and a Delivery event per mail.
    counts.reset();
    let wall = Instant::now();
    runner.deliver_ses_events(true);
    let (mut delivered, mut polls) = (0, 0);
    for _ in 0..1200 {
        polls += 1;
        let (_, campaign) = api.call("GET", &format!("/campaigns/{id}"), None).await?;
        delivered = campaign["counters"]["delivered"].as_u64().unwrap_or(0);
        if delivered >= sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!("results.delivered            {delivered}");
    println!("results.wall_seconds         {:.1}", wall.elapsed().as_secs_f64());
    let mut operations: Vec<_> = counts.snapshot().into_iter().filter(|((s, _), _)| s != "sqs").collect();
    operations.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for ((service, operation), n) in operations {
        println!("results.op {service}.{operation:<33} {n}");
    }
    println!("results.note                 GetItem includes this bench's {polls} status polls (one read each)");
    drop(runner);
    Ok(())
}

/// `scale [--ci] [--report FILE] [flags]`: the pipeline simulation; exits non-zero when a
/// recipient was lost or mailed twice outside the crash window.
async fn scale() -> Result<()> {
    use fanmail_bench::scale::{simulate, Settings};
    let mut args: Vec<String> = std::env::args().skip(2).collect();
    let mut settings = Settings::target();
    if let Some(at) = args.iter().position(|a| a == "--ci") {
        args.remove(at);
        settings = Settings::ci();
    }
    let mut report_path = "target/scale-report.json".to_string();
    if let Some(at) = args.iter().position(|a| a == "--report") {
        report_path = args.get(at + 1).context("--report needs a file")?.clone();
        args.drain(at..at + 2);
    }
    let settings = settings.parse_flags(&args)?;
    fanmail_common::system::keep_large_buffers_on_the_heap();
    let report = simulate(settings).await?;
    report.print();
    std::fs::write(&report_path, serde_json::to_string_pretty(&report)?)?;
    println!("scale.report_file                      {report_path}");
    if !report.correct() {
        bail!("the run lost or duplicated mails, or its counts do not add up");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        fanmail_common::telemetry::init_local();
    }
    match std::env::args().nth(1).as_deref() {
        Some("render") => render(),
        Some("list") => list(),
        Some("pipeline") => pipeline().await,
        Some("scale") => scale().await,
        Some("hotpath") => {
            let mails = std::env::args().nth(2).map_or(Ok(5000), |n| n.parse()).context("mails: a number")?;
            tokio::task::block_in_place(|| hotpath::run(mails))
        }
        _ => bail!("usage: fanmail-bench render|list|pipeline|hotpath [mails]|scale [--ci] [--report FILE] [--rows N --quota R ...]"),
    }
}
