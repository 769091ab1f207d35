//! `pipeline [N]`: one campaign through the running local stack, as a user runs it (HTTP to
//! the API, real SDK clients, the local AWS stand-ins), measured.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use fanmail_bench::{large_html, peak_rss_mib};
use fanmail_local::client::ApiClient;
use fanmail_local::{metering, repo_root, LocalEndpoints, Runner};

/// A list of `mails` valid, distinct addresses; past 1,000 rows it also has 3 % invalid rows
/// and 2 % repeated addresses, as real exports do. Returns the CSV and the valid addresses.
fn list(mails: u64, domain: &str) -> (String, Vec<String>) {
    let messy = mails > 1000;
    let mut csv = String::from("email,name\n");
    let mut valid = Vec::with_capacity(mails as usize);
    for i in 0..mails {
        let address = format!("user{i}@{domain}");
        csv.push_str(&format!("{address},Kim {i}\n"));
        if messy && i % 33 == 0 {
            csv.push_str(&format!("not-an-address-{i},Nobody\n"));
        }
        if messy && i % 50 == 0 {
            csv.push_str(&format!("{},Kim again\n", address.to_uppercase()));
        }
        valid.push(address);
    }
    (csv, valid)
}

/// The processes of the local stack, by the name of their `.local/<name>.pid` file.
const STAND_INS: [&str; 3] = ["moto", "moto-sqs", "ses"];

fn pid_of(name: &str) -> Option<String> {
    let pid = std::fs::read_to_string(repo_root().join(".local").join(format!("{name}.pid"))).ok()?;
    Some(pid.trim().to_string())
}

/// Peak resident memory (MiB) of the process whose pid is in `.local/<name>.pid`.
fn peak_rss_of(name: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid_of(name)?)).ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds (user + system) a process has used so far; `self` for this one.
fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / per_second)
}

/// CPU seconds used so far by this process (the runner is in it) and by each stand-in.
fn cpu_seconds() -> Vec<(&'static str, f64)> {
    let mut used = vec![("runner", cpu_seconds_of("self").unwrap_or(0.0))];
    for name in STAND_INS {
        if let Some(seconds) = pid_of(name).and_then(|pid| cpu_seconds_of(&pid)) {
            used.push((name, seconds));
        }
    }
    used
}

/// Mails the SES stand-in holds, by recipient, for addresses in `domain`.
async fn mails_by_recipient(sesv2: &str, domain: &str) -> Result<HashMap<String, u32>> {
    let api = ApiClient::new(sesv2.to_string());
    let (status, destinations) = api.call("GET", "/fanmail/destinations", None).await?;
    if status != 200 {
        bail!("the SES stand-in answered {status}; start it with scripts/local-aws.sh");
    }
    let mut counts = HashMap::new();
    for to in destinations.as_array().context("a list")?.iter().flat_map(|d| d.as_array().cloned().unwrap_or_default())
    {
        let to = to.as_str().unwrap_or_default().to_lowercase();
        if to.ends_with(&format!("@{domain}")) {
            *counts.entry(to).or_default() += 1;
        }
    }
    Ok(counts)
}

/// `template_defaults`: the template's own send rate and sender concurrency (as `make dev`),
/// else a rate high enough that the stack, not the pacer, sets the pace.
pub async fn pipeline(mails: u64, template_defaults: bool) -> Result<()> {
    let endpoints = LocalEndpoints::from_env()?;
    let (sdk, counts) = metering::metered(&endpoints.sdk_config().await)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let stack = format!("bench{}", std::process::id());
    let parameters = if template_defaults {
        BTreeMap::new()
    } else {
        BTreeMap::from([
            ("MaxSendRate".to_string(), "2000".to_string()),
            ("SenderConcurrency".to_string(), "4".to_string()),
        ])
    };
    let runner = Runner::start_with(&endpoints, &sdk, &stack, listener, &parameters).await?;
    let api = ApiClient::new(runner.api_url.clone());
    let domain = format!("{stack}.example.com");
    let (csv, valid) = list(mails, &domain);
    let html = large_html()
        .replace("{{city}}", "Seoul")
        .replace("{{coupon}}", "X")
        .replace("{{expiry}}", "soon")
        .replace("{{brand}}", "fanmail");
    let template = serde_json::json!({"id": "bench", "name": "bench", "subject": "Hi {{name}}", "html": html});
    let (status, body) = api.call("POST", "/templates", Some(template)).await?;
    if status != 201 {
        bail!("creating the template: {status} {body}");
    }
    let key = api.upload_list(csv.as_bytes()).await?;
    // Provisioning, template and upload are not part of the campaign's cost; delivery results
    // are measured apart, after the campaign.
    runner.deliver_ses_events(false);
    counts.reset();
    let cpu_before = cpu_seconds();
    let wall = Instant::now();
    let request = serde_json::json!({"templateId": "bench", "listKey": key, "from": {"address": "news@example.com"}});
    let (status, campaign) = api.call("POST", "/campaigns", Some(request)).await?;
    if status != 202 {
        bail!("creating the campaign: {status} {campaign}");
    }
    let id = campaign["id"].as_str().context("campaign id")?.to_string();
    // Poll as a user would, timing each answer and noting progress for the first and last tenth.
    let mut read_seconds: Vec<f64> = Vec::new();
    // (seconds into the campaign, seconds the read took) of each read over a second.
    let mut slow_reads: Vec<(f64, f64)> = Vec::new();
    let (mut tenth_at, mut ninth_at) = (None, None);
    let done = loop {
        let asked = Instant::now();
        let (_, campaign) = api.call("GET", &format!("/campaigns/{id}"), None).await?;
        let took = asked.elapsed().as_secs_f64();
        read_seconds.push(took);
        if took > 1.0 {
            slow_reads.push(((asked - wall).as_secs_f64(), took));
        }
        let sent = campaign["counters"]["sent"].as_u64().unwrap_or(0);
        if tenth_at.is_none() && sent >= mails / 10 {
            tenth_at = Some(wall.elapsed().as_secs_f64());
        }
        if ninth_at.is_none() && sent >= mails * 9 / 10 {
            ninth_at = Some(wall.elapsed().as_secs_f64());
        }
        if matches!(campaign["status"].as_str(), Some("completed" | "failed" | "cancelled")) {
            break campaign;
        }
        if wall.elapsed() > Duration::from_secs(3600) {
            bail!("the campaign did not finish in an hour: {campaign}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let wall = wall.elapsed().as_secs_f64();
    // Let the pollers' in-flight receives finish being counted, then take the figures.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let cpu_after = cpu_seconds();
    let sent = done["counters"]["sent"].as_u64().unwrap_or(0);
    println!("pipeline.recipients          {mails}");
    println!("pipeline.status              {}", done["status"].as_str().unwrap_or_default());
    println!("pipeline.mails_sent          {sent}");
    println!("pipeline.wall_seconds        {wall:.1}");
    println!("pipeline.mails_per_second    {:.1}", sent as f64 / wall);
    if let (Some(first), Some(last)) = (tenth_at, ninth_at) {
        // Rates over the first and the last tenth of the mails.
        println!("pipeline.first_tenth_per_s   {:.1}", (mails / 10) as f64 / first);
        println!("pipeline.last_tenth_per_s    {:.1}", (mails - mails * 9 / 10) as f64 / (wall - last).max(0.1));
    }
    read_seconds.sort_by(f64::total_cmp);
    let quantile = |q: f64| read_seconds[((read_seconds.len() - 1) as f64 * q) as usize];
    println!(
        "pipeline.status_reads        {} (median {:.3} s, 99th percentile {:.2} s, slowest {:.2} s, {} over 1 s)",
        read_seconds.len(),
        quantile(0.5),
        quantile(0.99),
        quantile(1.0),
        read_seconds.iter().filter(|s| **s > 1.0).count()
    );
    for (at, took) in &slow_reads {
        println!("pipeline.slow_read           {took:.2} s, asked {at:.1} s into the campaign");
    }
    println!("pipeline.calls_total         {}", counts.total());
    println!("pipeline.calls_per_mail      {:.2}", counts.total() as f64 / sent.max(1) as f64);
    for (service, n) in counts.by_service() {
        println!("pipeline.calls.{service:<13} {n}");
    }
    let mut operations: Vec<_> = counts.snapshot().into_iter().collect();
    operations.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    for ((service, operation), n) in operations.iter().take(12) {
        println!("pipeline.op {service}.{operation:<32} {n}");
    }
    println!("pipeline.note               SQS ReceiveMessage counts include idle long polls of the runner's pollers");
    println!("pipeline.peak_rss_mib.runner {:.0}", peak_rss_mib());
    for ((name, before), (_, after)) in cpu_before.iter().zip(&cpu_after) {
        println!(
            "pipeline.cpu_seconds.{name:<8} {:.1} ({:.2} ms a mail)",
            after - before,
            (after - before) * 1000.0 / sent.max(1) as f64
        );
    }
    for name in STAND_INS {
        if let Some(mib) = peak_rss_of(name) {
            println!("pipeline.peak_rss_mib.{name:<8} {mib:.0}");
        }
    }
    let mailed = mails_by_recipient(&endpoints.sesv2, &domain).await?;
    let missing = valid.iter().filter(|a| !mailed.contains_key(a.as_str())).count();
    let twice = mailed.values().filter(|n| **n > 1).count();
    println!("pipeline.exactly_once        {} (missing {missing}, mailed twice {twice})", missing == 0 && twice == 0);

    // Recording the results: SES publishes a Send and a Delivery event per mail.
    counts.reset();
    let wall = Instant::now();
    runner.deliver_ses_events(true);
    let (mut delivered, mut polls) = (0, 0);
    for _ in 0..(2400 + mails / 10) {
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
    if missing > 0 || twice > 0 {
        bail!("{missing} valid recipients got no mail, {twice} got more than one");
    }
    Ok(())
}
