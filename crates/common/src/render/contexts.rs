//! Where a value lands in the HTML decides what it may hold. The template's author writes the
//! template and the campaign's shared variables; a list's columns come from whoever filled the
//! list, so:
//!
//! - a column is always HTML-escaped, even where the template prints raw HTML (`{{{x}}}`):
//!   raw HTML comes only from the campaign's own variables;
//! - a column that starts a link (`href="{{link}}"`, `src`, `action`, ...) must be an
//!   `http(s):` or `mailto:` URL, else that recipient's mail is not rendered (a `javascript:`
//!   link is never sent);
//! - a template that starts a link with a raw value (`href="{{{x}}}"`) is refused on save.

use std::collections::{BTreeMap, BTreeSet};

use handlebars::template::{Parameter, Template as Compiled, TemplateElement};
use handlebars::Path;

use super::{RenderError, TemplatePart, TemplateSyntaxError, BUILT_IN_VARIABLES};

/// Attributes whose value is a URL a mail client may follow or load.
const URL_ATTRIBUTES: &[&str] =
    &["href", "src", "action", "formaction", "background", "poster", "cite", "xlink:href", "longdesc"];

#[derive(Debug, Default, Clone)]
pub struct Contexts {
    /// Variables printed raw (`{{{x}}}`, `{{& x}}`) anywhere in the HTML.
    raw: BTreeSet<String>,
    /// Variables that start the value of a URL attribute.
    link_start: BTreeSet<String>,
}

impl Contexts {
    /// The contexts of an HTML part, or why it is refused.
    pub fn of(source: &str, compiled: &Compiled) -> Result<Self, TemplateSyntaxError> {
        let mut contexts = Self::default();
        collect_raw(compiled, &mut contexts.raw);
        contexts.raw.retain(|name| !BUILT_IN_VARIABLES.contains(&name.as_str()));
        // fanmail's own link (the default footer prints it raw) is not a list's value.
        for (name, raw) in link_starts(source).into_iter().filter(|(n, _)| !BUILT_IN_VARIABLES.contains(&n.as_str())) {
            if raw {
                return Err(TemplateSyntaxError {
                    part: TemplatePart::Html,
                    line: None,
                    column: None,
                    message: format!(
                        "'{{{{{{{name}}}}}}}' starts a link: a raw value cannot start a URL attribute; write \
                         '{{{{{name}}}}}' (a list's value there must be an http(s) or mailto: URL)"
                    ),
                });
            }
            contexts.link_start.insert(name);
        }
        Ok(contexts)
    }

    /// The recipient's values as the HTML part may use them: escaped where the template prints
    /// raw HTML, and refused where one would start a link that is not http(s) or mailto.
    pub fn recipient_for_html<'a>(
        &self,
        recipient: &'a BTreeMap<String, String>,
    ) -> Result<std::borrow::Cow<'a, BTreeMap<String, String>>, RenderError> {
        for name in &self.link_start {
            if let Some(value) = recipient.get(name).filter(|v| !safe_link(v)) {
                let shown: String = value.trim().chars().take(30).collect();
                return Err(RenderError {
                    part: TemplatePart::Html,
                    message: format!(
                        "the list's '{name}' starts a link but is not an http(s) or mailto: URL ('{shown}')"
                    ),
                });
            }
        }
        let raw_columns: Vec<&String> = self.raw.iter().filter(|name| recipient.contains_key(*name)).collect();
        if raw_columns.is_empty() {
            return Ok(std::borrow::Cow::Borrowed(recipient));
        }
        let mut escaped = recipient.clone();
        for name in raw_columns {
            let value = handlebars::html_escape(&recipient[name]);
            escaped.insert(name.clone(), value);
        }
        Ok(std::borrow::Cow::Owned(escaped))
    }
}

/// An empty value, or one that starts with `http:`, `https:` or `mailto:`.
fn safe_link(value: &str) -> bool {
    let value = value.trim().to_ascii_lowercase();
    value.is_empty() || ["http://", "https://", "mailto:"].iter().any(|scheme| value.starts_with(scheme))
}

fn collect_raw(template: &Compiled, out: &mut BTreeSet<String>) {
    for element in &template.elements {
        match element {
            TemplateElement::HtmlExpression(h) => {
                if let Parameter::Path(Path::Relative((_, raw))) = &h.name {
                    if let Some(first) = raw.split(['.', '/', '[']).next().filter(|s| !s.is_empty()) {
                        out.insert(first.to_string());
                    }
                }
            }
            TemplateElement::HelperBlock(h) => {
                for inner in [&h.template, &h.inverse].into_iter().flatten() {
                    collect_raw(inner, out);
                }
            }
            _ => {}
        }
    }
}

/// Variables that open a URL attribute's value (`href="{{link}}..."`), and whether raw.
fn link_starts(source: &str) -> Vec<(String, bool)> {
    let lower = source.to_ascii_lowercase();
    let mut found = Vec::new();
    for attribute in URL_ATTRIBUTES {
        let mut from = 0;
        while let Some(at) = lower[from..].find(attribute) {
            let start = from + at;
            from = start + attribute.len();
            // A whole attribute name: not the end of another word (`data-href`).
            let before = lower[..start].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':') {
                continue;
            }
            let rest = lower[from..].trim_start();
            let Some(rest) = rest.strip_prefix('=') else { continue };
            let rest = rest.trim_start().trim_start_matches(['"', '\'']).trim_start();
            let Some(expression) = rest.strip_prefix("{{") else { continue };
            let raw = expression.starts_with('{') || expression.trim_start_matches('~').trim_start().starts_with('&');
            let name: String = expression
                .trim_start_matches(['{', '~', '&'])
                .trim_start()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            // Blocks and helpers (`{{#if}}`, `{{else}}`) are not values.
            if !name.is_empty() && name != "else" {
                // The name as written (attribute search ran on a lower-cased copy).
                let offset = source.len() - rest.len() + "{{".len();
                let original: String = source[offset..]
                    .trim_start_matches(['{', '~', '&'])
                    .trim_start()
                    .chars()
                    .take(name.chars().count())
                    .collect();
                found.push((original, raw));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contexts(html: &str) -> Result<Contexts, TemplateSyntaxError> {
        Contexts::of(html, &Compiled::compile(html).unwrap())
    }

    fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn link_openers_and_raw_values_are_found() {
        let c = contexts(
            r#"<a href="{{Link}}">x</a><img SRC = '{{ logo }}'><a href="https://x.example/?u={{id}}">y</a>
               <p data-href="{{other}}">{{{promo}}}</p>{{#if vip}}{{&badge}}{{/if}}"#,
        )
        .unwrap();
        assert_eq!(c.link_start.iter().collect::<Vec<_>>(), ["Link", "logo"]);
        assert_eq!(c.raw.iter().collect::<Vec<_>>(), ["badge", "promo"]);
    }

    #[test]
    fn a_raw_value_that_starts_a_link_is_refused() {
        let error = contexts(r#"<a href="{{{link}}}">x</a>"#).unwrap_err();
        assert!(error.message.contains("'{{{link}}}' starts a link"), "{}", error.message);
        assert!(contexts(r#"<a href='{{&link}}'>x</a>"#).is_err());
        assert!(contexts(r#"<a href="{{link}}">x</a>"#).is_ok());
    }

    #[test]
    fn a_lists_values_are_escaped_where_raw_and_links_must_be_web_or_mail() {
        let c = contexts(r#"<a href="{{link}}">x</a>{{{promo}}}"#).unwrap();
        let fine = row(&[("link", " HTTPS://example.com/a"), ("promo", "<b>50%</b>")]);
        let html_view = c.recipient_for_html(&fine).unwrap();
        assert_eq!(html_view["promo"], "&lt;b&gt;50%&lt;/b&gt;");
        assert_eq!(html_view["link"], " HTTPS://example.com/a");
        for bad in ["javascript:alert(1)", " JaVaScRiPt:x", "data:text/html,x", "//evil.example"] {
            let error = c.recipient_for_html(&row(&[("link", bad)])).unwrap_err();
            assert!(error.message.contains("not an http(s) or mailto: URL"), "{bad}: {}", error.message);
        }
        assert!(c.recipient_for_html(&row(&[("link", "mailto:kim@example.com")])).is_ok());
        assert!(c.recipient_for_html(&row(&[("link", "")])).is_ok());
    }
}
