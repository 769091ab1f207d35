//! The measuring kit behind `make bench` and `make scale`: a newsletter-sized template, a
//! generated recipient list, process CPU and memory readings, and the pipeline simulation.
//!
//! # Layout
//!
//! - `main.rs`: the `fanmail-bench` commands (`render`, `list`, `pipeline`, `hotpath`, `scale`).
//! - [`scale`]: the simulation: the real splitter and sender on one set of stand-in ports
//!   (`mod.rs`), its `settings` and `report`, SQS- and SES-like stand-ins (`sqs`, `ses`) and
//!   crash injection (`crash`).

pub mod scale;

use std::io::Read;

/// CPU seconds this process has used (user + system).
pub fn cpu_seconds() -> f64 {
    let mut usage = unsafe { std::mem::zeroed::<libc::rusage>() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Peak resident set size of this process, in MiB.
pub fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// What a list's rows came to, read to the end as the splitter reads them.
#[derive(Debug, Default, Clone, Copy)]
pub struct RowTally {
    pub recipients: u64,
    pub rejected: u64,
    pub duplicates: u64,
}

impl RowTally {
    pub fn of(list: &mut fanmail_common::recipient_list::RecipientList<'_>) -> anyhow::Result<Self> {
        use fanmail_common::recipient_list::ListRow;
        let mut tally = Self::default();
        while let Some(row) = list.next_row() {
            match row? {
                ListRow::Recipient { .. } => tally.recipients += 1,
                ListRow::Rejected(_) => tally.rejected += 1,
                ListRow::Duplicate { .. } => tally.duplicates += 1,
            }
        }
        Ok(tally)
    }
}

/// A newsletter-sized HTML body (about 100 KB) with personal fields in its heading, every
/// tenth section and its footer (about forty in all).
pub fn large_html() -> String {
    html_of_size(100_000)
}

/// An HTML body of about `bytes` bytes with personal fields, shaped like [`large_html`].
pub fn html_of_size(bytes: usize) -> String {
    let mut html =
        String::from("<!doctype html><html><head><meta charset=\"utf-8\"><title>{{brand}} news</title></head><body>");
    html.push_str("<h1>Hello {{name}}, this month in {{city}}</h1>");
    let paragraph = "<p style=\"font-family:Arial,sans-serif;font-size:14px;line-height:1.6;color:#333\">Lorem ipsum dolor sit amet, consectetur adipiscing elit. Sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.</p>";
    let mut section = 0;
    while html.len() < bytes {
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

/// Generates a list row by row, so the bench measures the reader, not the data.
pub struct GeneratedList {
    rows: u64,
    domain: &'static str,
    next: u64,
    buffer: Vec<u8>,
    at: usize,
}

impl GeneratedList {
    pub fn new(rows: u64) -> Self {
        Self::in_domain(rows, "example.com")
    }

    /// The same list with addresses in another domain (a second campaign's, distinct people).
    pub fn in_domain(rows: u64, domain: &'static str) -> Self {
        Self { rows, domain, next: 0, buffer: Vec::new(), at: 0 }
    }

    /// The row's address when row `i` (0-based) is a valid first occurrence.
    pub fn unique_address(i: u64) -> Option<String> {
        Self::unique_address_in(i, "example.com")
    }

    pub fn unique_address_in(i: u64, domain: &str) -> Option<String> {
        match i % 100 {
            0..=2 => None,
            3 | 4 if i >= 100 => None,
            _ => Some(format!("user{i}@{domain}")),
        }
    }
}

impl GeneratedList {
    /// The header of every generated list.
    pub const HEADER: [&'static str; 4] = ["email", "name", "city", "coupon"];

    /// Row `i`'s cells: 3 % invalid addresses, 2 % repeats of an address ten rows up (in
    /// capitals), the rest distinct.
    pub fn row(i: u64, domain: &str) -> [String; 4] {
        let (address, city) = match i % 100 {
            0..=2 => (format!("not-an-address-{i}"), "Seoul"),
            3 | 4 if i >= 100 => (format!("USER{}@{}", i - 10, domain.to_uppercase()), "Seoul"),
            _ => (format!("user{i}@{domain}"), "Busan"),
        };
        [address, format!("Kim, {i}"), city.to_string(), format!("FAN{i}")]
    }
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
                let [address, name, city, coupon] = Self::row(i, self.domain);
                let line = format!("{address},\"{name}\",{city},{coupon}\r\n");
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
