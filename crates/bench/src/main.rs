//! `fanmail-bench <render|list|xlsx|pipeline|hotpath|scale|table>`: the figures `make bench` prints.
//!
//! - `render`: mails rendered per second on one core, for a ~100 KB HTML template with
//!   personal fields (the renderer the sender uses).
//! - `list`: a 1,000,000-row recipient list (3 % invalid, 2 % duplicate) read as the splitter
//!   reads it: rows per second, CPU seconds and the process's peak RSS.
//! - `xlsx [ROWS]`: the same for an Excel workbook's first sheet (written once by a child
//!   process to `target/bench-lists/`).
//! - `pipeline [N]`: an N-recipient campaign (1,000 unless given; 3 % invalid and 2 % duplicate
//!   rows past 1,000) through the local stack (API, splitter, sender, real SDK clients): wall
//!   time, mails/s, every AWS call by service and operation, peak memory of each process, and a
//!   check that every valid recipient got exactly one mail; then the calls that record its
//!   delivery results. `pipeline N --template-defaults` runs it with the template's own
//!   `MaxSendRate` (14) and `SenderConcurrency` (5), as `make dev` does.
//! - `dry-run [ROWS]`: a dry run of a ROWS-row list with the ~100 KB template through the
//!   API's handler: CPU per row (what a dry run covers in its 20 s).
//! - `hotpath`: CPU per mail of the sender's hot path through the real SDK (render, request,
//!   signing, HTTP) against a loopback sink, on one core.

mod dry_run;
mod hotpath;
mod local;
mod workbook;

use fanmail_bench::{cpu_seconds, large_html, peak_rss_mib, GeneratedList, RowTally};

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fanmail_common::recipient_list::RecipientList;
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

/// `list [ROWS [MEMORY_IDS]]`: reads a generated list of ROWS rows (1,000,000 by default) as
/// the splitter does, keeping MEMORY_IDS addresses in memory for the duplicate check (the
/// splitter's default unless given; the rest go to a temporary file).
fn list() -> Result<()> {
    let arg = |n: usize| std::env::args().nth(n).map(|a| a.parse::<u64>().context("list takes numbers")).transpose();
    let rows = arg(2)?.unwrap_or(1_000_000);
    let memory_ids = arg(3)?.map_or(fanmail_common::recipient_list::DEFAULT_MEMORY_IDS, |n| n as usize);
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut list = RecipientList::open(GeneratedList::new(rows))?.remembering_in_memory(memory_ids);
    let RowTally { recipients, rejected, duplicates } = RowTally::of(&mut list)?;
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    if recipients + rejected + duplicates != rows {
        bail!("read {} rows of {rows}", recipients + rejected + duplicates);
    }
    println!("list.rows                    {rows}");
    println!("list.recipients              {recipients}");
    println!("list.rejected                {rejected}");
    println!("list.duplicates              {duplicates}");
    println!("list.addresses_on_disk       {}", list.addresses_on_disk());
    println!("list.cpu_seconds             {cpu:.2}");
    println!("list.rows_per_cpu_second     {:.0}", rows as f64 / cpu);
    println!("list.wall_seconds            {wall:.2}");
    println!("list.peak_rss_mib            {:.1}", peak_rss_mib());
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
        Some("xlsx") => {
            let rows = std::env::args().nth(2).map_or(Ok(1_000_000), |n| n.parse()).context("rows: a number")?;
            workbook::read(rows)
        }
        Some("write-xlsx") => {
            let rows: u64 = std::env::args().nth(2).context("rows")?.parse()?;
            workbook::write(rows, std::path::Path::new(&std::env::args().nth(3).context("a path")?))
        }
        Some("pipeline") => {
            let mails = std::env::args().nth(2).map_or(Ok(1000), |n| n.parse()).context("mails: a number")?;
            let defaults = std::env::args().nth(3).as_deref() == Some("--template-defaults");
            local::pipeline(mails, defaults).await
        }
        Some("dry-run") => {
            let rows = std::env::args().nth(2).map_or(Ok(100_000), |n| n.parse()).context("rows: a number")?;
            dry_run::run(rows).await
        }
        Some("scale") => scale().await,
        Some("table") => fanmail_bench::scale::table::print(&std::env::args().skip(2).collect::<Vec<_>>()),
        Some("hotpath") => {
            let mails = std::env::args().nth(2).map_or(Ok(5000), |n| n.parse()).context("mails: a number")?;
            tokio::task::block_in_place(|| hotpath::run(mails))
        }
        _ => bail!("usage: fanmail-bench render|list [rows]|xlsx [rows]|dry-run [rows]|pipeline [mails]|hotpath [mails]|scale [--ci] [--report FILE] [--rows N --quota R ...]|table REPORT..."),
    }
}
