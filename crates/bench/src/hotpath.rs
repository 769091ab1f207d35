//! The sender's hot path through the real SDK: render a ~100 KB mail with the sender's
//! renderer, then send it with the production `SesMailer` (request build, SigV4 signing,
//! HTTP) to a loopback sink that answers at once. Everything runs on one thread, sink included,
//! so the process's CPU time per mail is the cost of one send on one core.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, Result};
use aws_credential_types::Credentials;
use fanmail_common::aws::SesMailer;
use fanmail_common::domain::EmailAddress;
use fanmail_common::ports::{Mailer, OutgoingMail};
use fanmail_common::render::{MailData, MailTemplate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use fanmail_bench::{cpu_seconds, large_html};

const ANSWER_BODY: &str = r#"{"MessageId":"0100019a-loopback"}"#;

/// Reads one HTTP/1.1 request (headers, then `content-length` bytes of body) into `buffer`;
/// false when the peer closed the connection.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> std::io::Result<bool> {
    buffer.clear();
    let mut chunk = [0u8; 64 * 1024];
    let header_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let headers = String::from_utf8_lossy(&buffer[..header_end]).to_ascii_lowercase();
    let length: usize = headers
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(false);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Ok(true)
}

/// An HTTP endpoint that answers every request with a fixed SendEmail response.
async fn sink() -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{ANSWER_BODY}",
        ANSWER_BODY.len()
    );
    let answer: &'static [u8] = answer.leak().as_bytes();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = Vec::with_capacity(256 * 1024);
                while let Ok(true) = read_request(&mut stream, &mut buffer).await {
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(url)
}

fn mailer(endpoint: &str) -> SesMailer {
    let config = aws_sdk_sesv2::Config::builder()
        .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
        .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDBENCH", "bench-secret", None, None, "bench"))
        .endpoint_url(endpoint)
        .build();
    SesMailer::new(aws_sdk_sesv2::Client::from_conf(config), Some("fanmail-configset".into()))
}

pub fn run(mails: u32) -> Result<()> {
    // As the sender's main.rs does.
    fanmail_common::system::keep_large_buffers_on_the_heap();
    // One thread for the sender and the sink alike.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async move {
        let endpoint = sink().await?;
        let mailer = mailer(&endpoint);
        let template = MailTemplate::compile("{{name}}, your {{city}} news", &large_html(), "Hello {{name}}")
            .context("the bench template compiles")?;
        let shared = BTreeMap::from([("brand".to_string(), "fanmail".to_string())]);
        let to = EmailAddress::parse("reader@example.com")?;
        let unsubscribe = "https://api.example.com/unsubscribe?token=v1.cmVhZGVyQGV4YW1wbGUuY29t.bmV3c0BleGFtcGxlLmNvbQ.c1.c2lnbmF0dXJl";
        let mut render_cpu = 0.0;
        let mut warm = true;
        let mut started = (cpu_seconds(), Instant::now());
        // The first 200 mails warm the connection pool and the allocator; not measured.
        for i in 0..mails + 200 {
            if warm && i == 200 {
                warm = false;
                render_cpu = 0.0;
                started = (cpu_seconds(), Instant::now());
            }
            let recipient = BTreeMap::from([
                ("name".to_string(), format!("Kim {i}")),
                ("city".to_string(), "Seoul".to_string()),
                ("coupon".to_string(), format!("C{i:06}")),
                ("expiry".to_string(), "2026-12-31".to_string()),
            ]);
            let before = cpu_seconds();
            let rendered =
                template.render(&MailData { shared: &shared, recipient: &recipient, unsubscribe_url: unsubscribe })?;
            render_cpu += cpu_seconds() - before;
            let mail = OutgoingMail {
                from: "\"Fanmail\" <news@example.com>".into(),
                to: to.clone(),
                reply_to: None,
                subject: rendered.subject,
                html: rendered.html,
                text: rendered.text,
                headers: vec![
                    ("List-Unsubscribe".into(), format!("<{unsubscribe}>")),
                    ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
                ],
                tags: vec![("campaign".into(), "c1".into()), ("recipient".into(), format!("r{i}"))],
            };
            mailer.send(&mail).await.context("the loopback sink answers")?;
        }
        let cpu = cpu_seconds() - started.0;
        let wall = started.1.elapsed().as_secs_f64();
        let per_mail = cpu / f64::from(mails) * 1e6;
        println!("hotpath.mails                {mails}");
        println!("hotpath.cpu_us_per_mail      {per_mail:.0}");
        println!("hotpath.render_us_per_mail   {:.0}", render_cpu / f64::from(mails) * 1e6);
        println!("hotpath.send_us_per_mail     {:.0}", (cpu - render_cpu) / f64::from(mails) * 1e6);
        println!("hotpath.sends_per_core_second {:.0}", f64::from(mails) / cpu);
        println!("hotpath.wall_sends_per_second {:.0}", f64::from(mails) / wall);
        Ok(())
    })
}
