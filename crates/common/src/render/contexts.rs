//! What a list's values may do in the HTML. The template's author writes the template and the
//! campaign's shared variables; a list's columns come from whoever filled the list. The rules
//! hold on the values themselves, however the template reaches them (`{{{x}}}`, `{{{this.x}}}`,
//! `{{{./x}}}`, `lookup`, `#each`, a block inside an attribute):
//!
//! - a column's value (and name) reaches the HTML part already escaped, and the part escapes
//!   with [`escape_keeping_entities`], which leaves an escape intact: so a column is escaped once
//!   wherever it lands, and raw HTML comes only from the campaign's own variables;
//! - after rendering, every URL attribute (`href`, `src`, `action`, ...) must be an `http(s):`,
//!   `mailto:`, `tel:` or `cid:` URL, or a relative one, unless the template writes the start of
//!   that link itself (`href="//cdn.example/…"`): else that recipient's mail is not rendered, so
//!   a `javascript:` link is never sent.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{RenderError, TemplatePart};

/// Attributes whose value is a URL a mail client may follow or load.
const URL_ATTRIBUTES: &[&str] =
    &["href", "src", "action", "formaction", "background", "poster", "cite", "xlink:href", "longdesc"];

/// Schemes a link may have whoever wrote it.
const SAFE_SCHEMES: &[&str] = &["http", "https", "mailto", "tel", "cid"];

#[derive(Debug, Default, Clone)]
pub struct Contexts {
    /// The literal starts of the template's URL attributes that already decide where the link
    /// goes (its scheme, or a path), normalised as [`normalise`] does.
    author_starts: Vec<String>,
}

impl Contexts {
    /// The contexts of an HTML part's source.
    pub fn of(source: &str) -> Self {
        let author_starts = Tags::new(source)
            .filter(|(name, _)| is_url_attribute(name))
            .map(|(_, value)| literal_start(value))
            .filter(|start| decides_destination(start))
            .collect();
        Self { author_starts }
    }

    /// The recipient's values (and column names) as the HTML part may use them: escaped.
    pub fn recipient_for_html<'a>(recipient: &'a BTreeMap<String, String>) -> Cow<'a, BTreeMap<String, String>> {
        if recipient.iter().all(|(k, v)| !needs_escape(k) && !needs_escape(v)) {
            return Cow::Borrowed(recipient);
        }
        Cow::Owned(recipient.iter().map(|(k, v)| (handlebars::html_escape(k), handlebars::html_escape(v))).collect())
    }

    /// Refuses a rendered HTML part with a link whose destination is not safe and not the
    /// template's own, naming the column it came from when one shows.
    pub fn check_links(&self, html: &str, recipient: &BTreeMap<String, String>) -> Result<(), RenderError> {
        for (attribute, value) in Tags::new(html).filter(|(name, _)| is_url_attribute(name)) {
            let link = normalise(value);
            if safe_link(&link) || self.author_starts.iter().any(|start| link.starts_with(start.as_str())) {
                continue;
            }
            let shown: String = decode_entities(value).trim().chars().take(30).collect();
            let column = recipient
                .iter()
                .find(|(_, v)| !v.trim().is_empty() && value.contains(handlebars::html_escape(v.trim()).as_str()));
            let message = match column {
                Some((name, _)) => format!(
                    "the list's '{name}' makes a link ({attribute}) that is not an http(s), mailto: or tel: URL ('{shown}')"
                ),
                None => format!("a link ({attribute}) is not an http(s), mailto: or tel: URL ('{shown}')"),
            };
            return Err(RenderError { part: TemplatePart::Html, message });
        }
        Ok(())
    }
}

/// handlebars' HTML escape, except that an entity already there (`&amp;`, `&#x27;`) is left
/// as it is: a column escaped before rendering is not escaped twice. (A campaign variable
/// that holds an entity's text shows as that character.)
pub fn escape_keeping_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        match c {
            '&' if entity_length(&text[at..]).is_some() => out.push('&'),
            '<' | '>' | '"' | '&' | '\'' | '`' | '=' => {
                out.push_str(&handlebars::html_escape(c.encode_utf8(&mut [0; 4])))
            }
            _ => out.push(c),
        }
    }
    out
}

fn needs_escape(text: &str) -> bool {
    text.contains(['<', '>', '"', '&', '\'', '`', '='])
}

fn is_url_attribute(name: &str) -> bool {
    URL_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// The length of the character reference at the start of `text` (`&amp;`, `&#39;`, `&#x3D;`).
fn entity_length(text: &str) -> Option<usize> {
    let body = text.strip_prefix('&')?;
    let (digits, skip) = if let Some(hex) = body.strip_prefix("#x").or_else(|| body.strip_prefix("#X")) {
        (hex.bytes().take_while(u8::is_ascii_hexdigit).count(), 2)
    } else if let Some(decimal) = body.strip_prefix('#') {
        (decimal.bytes().take_while(u8::is_ascii_digit).count(), 1)
    } else {
        let name = body.bytes().take_while(u8::is_ascii_alphanumeric).count();
        (if body.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) { name } else { 0 }, 0)
    };
    (digits > 0 && body.as_bytes().get(skip + digits) == Some(&b';')).then_some(1 + skip + digits + 1)
}

/// An attribute's value as a browser reads its destination: character references decoded,
/// tabs and line breaks dropped, surrounding spaces and controls trimmed, lower case.
fn normalise(value: &str) -> String {
    let decoded = decode_entities(value);
    let kept: String = decoded.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    kept.trim_matches(|c: char| c.is_control() || c == ' ').to_lowercase()
}

/// Numeric character references (with or without `;`) and the named ones that spell
/// characters a scheme or a path is made of.
fn decode_entities(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let (decoded, used) = decode_one(rest).unwrap_or(('&', 1));
        out.push(decoded);
        rest = &rest[used..];
    }
    out.push_str(rest);
    out
}

fn decode_one(text: &str) -> Option<(char, usize)> {
    let body = &text[1..];
    if let Some(number) = body.strip_prefix('#') {
        let (radix, digits) = match number.strip_prefix(['x', 'X']) {
            Some(hex) => (16, hex),
            None => (10, number),
        };
        let length = digits.bytes().take_while(|b| (*b as char).is_digit(radix)).count();
        let code = u32::from_str_radix(&digits[..length], radix).ok()?;
        let prefix = 2 + usize::from(radix == 16) + length;
        let used = prefix + usize::from(text.as_bytes().get(prefix) == Some(&b';'));
        return Some((char::from_u32(code).unwrap_or('\u{FFFD}'), used));
    }
    let names = [("amp;", '&'), ("colon;", ':'), ("sol;", '/'), ("tab;", '\t'), ("newline;", '\n'), ("quot;", '"')];
    let lower = body.get(..body.len().min(8))?.to_ascii_lowercase();
    names.iter().find(|(name, _)| lower.starts_with(name)).map(|(name, c)| (*c, 1 + name.len()))
}

/// The scheme of a normalised link, if it has one.
fn scheme(link: &str) -> Option<&str> {
    let (scheme, _) = link.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some(scheme)
}

/// A normalised link that is empty, relative on this host, or of a safe scheme.
fn safe_link(link: &str) -> bool {
    match scheme(link) {
        Some(scheme) => SAFE_SCHEMES.contains(&scheme),
        None => !(link.starts_with("//") || link.starts_with("/\\") || link.starts_with('\\')),
    }
}

/// The literal text before a value's first `{{`, normalised.
fn literal_start(value: &str) -> String {
    normalise(value.split("{{").next().unwrap_or_default())
}

/// Whether a link's literal start already fixes its destination: a scheme written out, or a
/// path or fragment that nothing after it can turn into another host.
fn decides_destination(start: &str) -> bool {
    // A protocol-relative start names its host only once the host is followed by something.
    if let Some(host_and_rest) = start.strip_prefix("//") {
        return host_and_rest.contains(['/', '?', '#']);
    }
    match start.find([':', '/', '?', '#', '\\']) {
        None => false,
        Some(at) if start[at..].starts_with(':') => true,
        Some(0) if start.starts_with('/') => start.len() > 1 && !start[1..].starts_with(['/', '\\']),
        Some(_) => !start.starts_with('\\'),
    }
}

/// The attributes of the tags in an HTML text, as (name, raw value) pairs; comments skipped.
struct Tags<'a> {
    html: &'a str,
    at: usize,
    in_tag: bool,
}

impl<'a> Tags<'a> {
    fn new(html: &'a str) -> Self {
        Self { html, at: 0, in_tag: false }
    }
}

impl<'a> Iterator for Tags<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let bytes = self.html.as_bytes();
        loop {
            if !self.in_tag {
                let open = self.at + self.html[self.at..].find('<')?;
                if self.html[open..].starts_with("<!--") {
                    self.at = self.html[open..].find("-->").map_or(self.html.len(), |end| open + end + 3);
                    continue;
                }
                let name = bytes[open + 1..].iter().take_while(|b| b.is_ascii_alphanumeric()).count();
                self.at = open + 1 + name;
                self.in_tag = name > 0;
                continue;
            }
            while self.at < bytes.len() && (bytes[self.at].is_ascii_whitespace() || bytes[self.at] == b'/') {
                self.at += 1;
            }
            if self.at >= bytes.len() || bytes[self.at] == b'>' {
                self.at += 1;
                self.in_tag = false;
                if self.at > bytes.len() {
                    return None;
                }
                continue;
            }
            let start = self.at;
            while self.at < bytes.len()
                && !matches!(bytes[self.at], b'=' | b'>' | b'/')
                && !bytes[self.at].is_ascii_whitespace()
            {
                self.at += 1;
            }
            let name = &self.html[start..self.at.max(start + 1).min(bytes.len())];
            self.at = self.at.max(start + 1);
            let mut peek = self.at;
            while peek < bytes.len() && bytes[peek].is_ascii_whitespace() {
                peek += 1;
            }
            if peek >= bytes.len() || bytes[peek] != b'=' {
                continue;
            }
            peek += 1;
            while peek < bytes.len() && bytes[peek].is_ascii_whitespace() {
                peek += 1;
            }
            let value = match bytes.get(peek) {
                Some(quote @ (b'"' | b'\'')) => {
                    let end = self.html[peek + 1..].find(*quote as char).map_or(bytes.len(), |e| peek + 1 + e);
                    self.at = (end + 1).min(bytes.len());
                    &self.html[peek + 1..end]
                }
                _ => {
                    let end = self.html[peek..]
                        .find(|c: char| c.is_ascii_whitespace() || c == '>')
                        .map_or(bytes.len(), |e| peek + e);
                    self.at = end;
                    &self.html[peek..end]
                }
            };
            return Some((name, value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tags_yield_their_attributes_quoted_or_not_and_comments_are_skipped() {
        let html =
            r#"<p>a < b</p><!-- <a href="x"> --><A HREF = 'one' title="t"><img src=two alt><br/><a data-href="three">"#;
        let found: Vec<_> = Tags::new(html).collect();
        assert_eq!(found, [("HREF", "one"), ("title", "t"), ("src", "two"), ("data-href", "three")]);
    }

    #[test]
    fn links_are_read_as_a_browser_reads_them() {
        for unsafe_link in [
            "javascript:alert(1)",
            " JaVaScRiPt:x",
            "java\tscript:x",
            "&#106;avascript:x",
            "&#x6A;avascript&colon;x",
            "data:text/html,x",
            "//evil.example",
            "vbscript:x",
        ] {
            assert!(!safe_link(&normalise(unsafe_link)), "{unsafe_link}");
        }
        for safe in [
            "https://example.com/a",
            " HTTPS://x",
            "mailto:kim@example.com",
            "tel:+821012345678",
            "",
            "#top",
            "/path",
            "page.html",
            "a&amp;b:c",
        ] {
            assert!(safe_link(&normalise(safe)), "{safe}");
        }
    }

    #[test]
    fn an_escape_already_there_is_kept_and_everything_else_escaped() {
        assert_eq!(
            escape_keeping_entities("Fish &amp; <Chips> & 'x'=`y`"),
            "Fish &amp; &lt;Chips&gt; &amp; &#x27;x&#x27;&#x3D;&#x60;y&#x60;"
        );
        let once = handlebars::html_escape("<b>&amp;</b>\"");
        assert_eq!(escape_keeping_entities(&once), once, "a column escaped before rendering is not escaped again");
        assert_eq!(escape_keeping_entities("&#x; &; &1;"), "&amp;#x; &amp;; &amp;1;");
    }

    #[test]
    fn a_link_whose_destination_the_template_writes_itself_is_the_authors() {
        let c = Contexts::of(
            r#"<img src="//cdn.example/{{logo}}"><a href="javascript:void(0)">x</a><a href="{{link}}">y</a><a href="java{{rest}}">z</a>"#,
        );
        assert!(c
            .check_links(r#"<img src="//cdn.example/a.png"><a href="javascript:void(0)">x</a>"#, &row(&[]))
            .is_ok());
        let error = c
            .check_links(r#"<a href="javascript:alert(1)">y</a>"#, &row(&[("link", "javascript:alert(1)")]))
            .unwrap_err();
        assert!(error.message.contains("the list's 'link' makes a link (href)"), "{}", error.message);
        assert!(c.check_links(r#"<a href="javascript:alert(2)">z</a>"#, &row(&[])).is_err(), "'java' decides nothing");
    }
}
