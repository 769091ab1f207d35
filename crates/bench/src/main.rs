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

use std::collections::BTreeMap;
use std::io::Read;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fanmail_common::recipient_list::{ListRow, RecipientList};
use fanmail_common::render::{MailData, MailTemplate};

/// CPU seconds this process has used (user + system).
fn cpu_seconds() -> f64 {
    let mut usage = unsafe { std::mem::zeroed::<libc::rusage>() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Peak resident set size of this process, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// A newsletter-sized HTML body (about 100 KB) with personal fields in its heading, every
/// tenth section and its footer (about forty in all).
pub fn large_html() -> String {
    let mut html =
        String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>{{brand}} news</title></head><body>");
    html.push_str("<h1>Hello {{name}}, this month in {{city}}</h1>");
    let paragraph = "<p style=\"font-family:Arial,sans-serif;font-size:14px;line-height:1.6;color:#333\">Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p>";
    let mut section = 0;
    while html.len() < 100_000 {
        section += 1;
        html.push_str(&format!("<h2>Section {section}</h2>"));
        for _ in 0..3 {
            html.push_str(paragraph);
        }
        if section % 10 == 0 {
            html.push_str("<p>{{name}}, your code <b>{{coupon}}</b> works in {{city}} until {{expiry}}.</p>");
        }
    }
    html.push_str("<p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a></p></body></html>");
    html
}

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

/// Generates a list row by row, so the bench measures the reader, not the data.
struct GeneratedList {
    rows: u64,
    next: u64,
    buffer: Vec<u8>,
    at: usize,
}

impl Read for GeneratedList {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.buffer.len() {
            self.buffer.clear();
            self.at = 0;
            if self.next == 0 {
                self.buffer.extend_from_slice(b"\xef\xbb\xbfemail,name,city,coupon\r\n");
            }
            if self.next >= self.rows {
                return Ok(0);
            }
            for i in self.next..(self.next + 1000).min(self.rows) {
                let line = match i % 100 {
                    0..=2 => format!("not-an-address-{i},\"Kim, {i}\",Seoul,FAN{i}\r\n"),
                    3 | 4 if i >= 100 => format!("USER{}@EXAMPLE.COM,\"Kim, {i}\",Seoul,FAN{i}\r\n", i - 10),
                    _ => format!("user{i}@example.com,\"Kim, {i}\",Busan,FAN{i}\r\n"),
                };
                self.buffer.extend_from_slice(line.as_bytes());
            }
            self.next = (self.next + 1000).min(self.rows);
        }
        let n = (self.buffer.len() - self.at).min(out.len());
        out[..n].copy_from_slice(&self.buffer[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn list() -> Result<()> {
    let rows = 1_000_000;
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut list = RecipientList::open(GeneratedList { rows, next: 0, buffer: Vec::new(), at: 0 })?;
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

#[tokio::main]
async fn main() -> Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        fanmail_common::telemetry::init_local();
    }
    match std::env::args().nth(1).as_deref() {
        Some("render") => render(),
        Some("list") => list(),
        Some("pipeline") => pipeline().await,
        Some("hotpath") => {
            let mails = std::env::args().nth(2).map_or(Ok(5000), |n| n.parse()).context("mails: a number")?;
            tokio::task::block_in_place(|| hotpath::run(mails))
        }
        _ => bail!("usage: fanmail-bench render|list|pipeline|hotpath [mails]"),
    }
}
