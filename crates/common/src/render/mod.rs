//! Mail templates: compiled once, rendered per recipient.
//!
//! Subject, HTML and text are handlebars. Recipient data is HTML-escaped in the HTML body and
//! left as is in the subject and text body; a rendered subject never contains a line break or
//! other control character (so a recipient field cannot inject a header). What a list's value
//! may do in the HTML (never raw, never a `javascript:` link) is in [`contexts`].

mod contexts;

use std::collections::{BTreeMap, BTreeSet};

use handlebars::template::{Parameter, Template as Compiled, TemplateElement};
use handlebars::{no_escape, Handlebars, Path};
use serde::Serialize;

/// Variables every mail gets from fanmail itself rather than from the list.
pub const BUILT_IN_VARIABLES: &[&str] = &["unsubscribe_url"];

/// Which part of a template an error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplatePart {
    Subject,
    Html,
    Text,
}

impl TemplatePart {
    fn name(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Html => "html",
            Self::Text => "text",
        }
    }
}

/// A template that does not compile, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{} has a syntax error{}: {message}", part.name(), position(*line, *column))]
pub struct TemplateSyntaxError {
    pub part: TemplatePart,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
        (Some(l), None) => format!(" at line {l}"),
        _ => String::new(),
    }
}

#[derive(Debug, thiserror::Error)]
#[error("rendering {part:?} failed: {message}")]
pub struct RenderError {
    pub part: TemplatePart,
    pub message: String,
}

/// One rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

/// A compiled subject/HTML/text triple.
pub struct MailTemplate {
    html: Handlebars<'static>,
    plain: Handlebars<'static>,
    variables: BTreeSet<String>,
    /// Variables every mail shows as they are (`{{name}}` outside any block): blank when empty.
    shown: BTreeSet<String>,
    contexts: contexts::Contexts,
}

impl std::fmt::Debug for MailTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailTemplate").field("variables", &self.variables).finish()
    }
}

fn compile(part: TemplatePart, source: &str) -> Result<Compiled, TemplateSyntaxError> {
    let compiled = Compiled::compile(source).map_err(|e| {
        let (line, column) = e.pos().map_or((None, None), |(l, c)| (Some(l), Some(c)));
        TemplateSyntaxError { part, line, column, message: e.reason().to_string() }
    })?;
    Ok(compiled)
}

/// Refuses a template that uses a partial or a decorator, on save: none is registered, and
/// inline ones may call each other until the renderer's stack overflows. (A version saved
/// before this rule still compiles where it is sent.)
pub fn refuse_partials(subject: &str, html: &str, text: &str) -> Result<(), TemplateSyntaxError> {
    for (part, source) in [(TemplatePart::Subject, subject), (TemplatePart::Html, html), (TemplatePart::Text, text)] {
        if uses_partials(&compile(part, source)?) {
            let message = "partials ({{> name}}) and decorators ({{#*inline}}, {{*name}}) are not supported; \
                           write the part out where it is used";
            return Err(TemplateSyntaxError { part, line: None, column: None, message: message.into() });
        }
    }
    Ok(())
}

/// Whether a partial or a decorator appears anywhere, blocks included.
fn uses_partials(template: &Compiled) -> bool {
    template.elements.iter().any(|element| match element {
        TemplateElement::PartialExpression(_)
        | TemplateElement::PartialBlock(_)
        | TemplateElement::DecoratorExpression(_)
        | TemplateElement::DecoratorBlock(_) => true,
        TemplateElement::HelperBlock(h) => [&h.template, &h.inverse].into_iter().flatten().any(uses_partials),
        _ => false,
    })
}

/// Names of the top-level data fields a template reads. Inside `#each`/`#with` blocks the
/// context changes, so only the block's own argument counts there.
fn collect_variables(template: &Compiled, out: &mut BTreeSet<String>) {
    fn from_param(param: &Parameter, out: &mut BTreeSet<String>) {
        match param {
            Parameter::Path(Path::Relative((segments, raw))) => {
                if let Some(first) = raw.split(['.', '/', '[']).next().filter(|s| !s.is_empty() && *s != "this") {
                    if !segments.is_empty() {
                        out.insert(first.to_string());
                    }
                }
            }
            Parameter::Subexpression(sub) => {
                for p in sub.params().into_iter().flatten() {
                    from_param(p, out);
                }
            }
            _ => {}
        }
    }
    for element in &template.elements {
        match element {
            TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) => {
                from_param(&h.name, out);
                h.params.iter().for_each(|p| from_param(p, out));
            }
            TemplateElement::HelperBlock(h) => {
                h.params.iter().for_each(|p| from_param(p, out));
                let changes_context = matches!(&h.name, Parameter::Name(n) if n == "each" || n == "with");
                if !changes_context {
                    for inner in [&h.template, &h.inverse].into_iter().flatten() {
                        collect_variables(inner, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Names of the variables a template prints as they are, outside any block (`{{#if}}` and the
/// like make a value optional).
fn collect_shown(template: &Compiled, out: &mut BTreeSet<String>) {
    for element in &template.elements {
        if let TemplateElement::Expression(h) | TemplateElement::HtmlExpression(h) = element {
            if let (Parameter::Path(Path::Relative((segments, raw))), true) = (&h.name, h.params.is_empty()) {
                if segments.len() == 1 && raw != "this" {
                    out.insert(raw.clone());
                }
            }
        }
    }
}

/// Replaces control characters (CR, LF, tabs, ...) with spaces and collapses runs of spaces.
pub fn single_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = false;
    for c in text.chars() {
        let c = if c.is_control() || c == '\u{2028}' || c == '\u{2029}' { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    out.trim().to_string()
}

/// Added to an HTML body that has no `{{unsubscribe_url}}` of its own (before `</body>` if
/// there is one), so every mail shows a visible unsubscribe link. The URL is fanmail's own
/// (URL-safe characters only), so it is not HTML-escaped.
pub const DEFAULT_HTML_FOOTER: &str = "<p style=\"font-size:12px;color:#666666\">You receive this mail because you \
     are on our list. <a href=\"{{{unsubscribe_url}}}\">Unsubscribe</a></p>";
/// Added to a text body that has no `{{unsubscribe_url}}`.
pub const DEFAULT_TEXT_FOOTER: &str = "\n\n--\nUnsubscribe: {{unsubscribe_url}}\n";

fn with_html_footer(html: &str) -> String {
    match html.to_ascii_lowercase().rfind("</body>") {
        Some(at) => format!("{}{DEFAULT_HTML_FOOTER}{}", &html[..at], &html[at..]),
        None => format!("{html}{DEFAULT_HTML_FOOTER}"),
    }
}

/// Compiles a body part, adding the default unsubscribe footer to a non-empty body that does
/// not link `{{unsubscribe_url}}` itself.
fn compile_body(part: TemplatePart, source: &str) -> Result<Compiled, TemplateSyntaxError> {
    let compiled = compile(part, source)?;
    let mut variables = BTreeSet::new();
    collect_variables(&compiled, &mut variables);
    if source.trim().is_empty() || variables.contains("unsubscribe_url") {
        return Ok(compiled);
    }
    let footed = match part {
        TemplatePart::Html => with_html_footer(source),
        _ => format!("{source}{DEFAULT_TEXT_FOOTER}"),
    };
    compile(part, &footed)
}

impl MailTemplate {
    pub fn compile(subject: &str, html: &str, text: &str) -> Result<Self, TemplateSyntaxError> {
        let compiled = [
            (TemplatePart::Subject, compile(TemplatePart::Subject, subject)?),
            (TemplatePart::Html, compile_body(TemplatePart::Html, html)?),
            (TemplatePart::Text, compile_body(TemplatePart::Text, text)?),
        ];
        let mut variables = BTreeSet::new();
        let mut shown = BTreeSet::new();
        let mut contexts = contexts::Contexts::default();
        let mut html_registry = Handlebars::new();
        html_registry.register_escape_fn(contexts::escape_keeping_entities);
        let mut plain_registry = Handlebars::new();
        plain_registry.register_escape_fn(no_escape);
        for (part, template) in compiled {
            collect_variables(&template, &mut variables);
            collect_shown(&template, &mut shown);
            match part {
                TemplatePart::Html => {
                    contexts = contexts::Contexts::of(html);
                    html_registry.register_template(part.name(), template)
                }
                _ => plain_registry.register_template(part.name(), template),
            }
        }
        shown.retain(|v| !BUILT_IN_VARIABLES.contains(&v.as_str()));
        Ok(Self { html: html_registry, plain: plain_registry, variables, shown, contexts })
    }

    /// Every top-level variable the template reads.
    pub fn variables(&self) -> &BTreeSet<String> {
        &self.variables
    }

    /// Variables the recipient list must provide: all but the built-ins and `provided`.
    pub fn required_columns<'a>(&'a self, provided: &'a BTreeSet<String>) -> impl Iterator<Item = &'a String> + 'a {
        self.variables.iter().filter(move |v| !BUILT_IN_VARIABLES.contains(&v.as_str()) && !provided.contains(*v))
    }

    /// The variables the mail would show blank: printed as they are, and empty in the data.
    pub fn blank_in(&self, shared: &BTreeMap<String, String>, recipient: &BTreeMap<String, String>) -> Vec<&str> {
        let value = |name: &String| recipient.get(name).or_else(|| shared.get(name));
        self.shown.iter().filter(|v| value(v).is_none_or(|x| x.trim().is_empty())).map(String::as_str).collect()
    }

    /// The mail; an error when a part cannot be rendered, or the subject renders empty (a mail
    /// needs one).
    pub fn render(&self, data: &MailData<'_>) -> Result<RenderedMail, RenderError> {
        let err = |part: TemplatePart| move |e: handlebars::RenderError| RenderError { part, message: e.to_string() };
        let subject = single_line(&self.plain.render("subject", data).map_err(err(TemplatePart::Subject))?);
        if subject.is_empty() {
            return Err(RenderError {
                part: TemplatePart::Subject,
                message: "the subject is empty for this recipient, and a mail needs one".into(),
            });
        }
        Ok(RenderedMail {
            subject,
            html: {
                let recipient = contexts::Contexts::recipient_for_html(data.recipient);
                let html_data = MailData { recipient: &recipient, ..*data };
                let html = self.html.render("html", &html_data).map_err(err(TemplatePart::Html))?;
                self.contexts.check_links(&html, data.recipient)?;
                html
            },
            text: self.plain.render("text", data).map_err(err(TemplatePart::Text))?,
        })
    }
}

/// Render data: the recipient's columns over the campaign's shared variables, plus built-ins.
#[derive(Debug, Serialize)]
pub struct MailData<'a> {
    #[serde(flatten)]
    pub shared: &'a BTreeMap<String, String>,
    #[serde(flatten)]
    pub recipient: &'a BTreeMap<String, String>,
    pub unsubscribe_url: &'a str,
}

#[cfg(test)]
mod tests {
    #[test]
    fn partials_and_inline_partials_are_refused_so_none_can_recurse() {
        let recursive = r#"{{#*inline "a"}}{{> b}}{{/inline}}{{#*inline "b"}}{{> a}}{{/inline}}<p>{{> a}}</p>"#;
        let refused = refuse_partials("s", recursive, "t").unwrap_err();
        assert!(refused.message.contains("partials"), "{refused:?}");
        for source in ["{{> footer}}", "{{#if x}}{{#> layout}}x{{/layout}}{{/if}}", "{{*log}}"] {
            assert!(refuse_partials("s", "<p>x</p>", source).is_err(), "{source}");
        }
        assert!(refuse_partials("Hi {{name}}", "<p>{{#if x}}{{x}}{{/if}}</p>", "t").is_ok());
    }

    use super::*;

    #[test]
    fn a_body_without_an_unsubscribe_link_gets_the_default_footer() {
        let none = BTreeMap::new();
        let data = MailData { shared: &none, recipient: &none, unsubscribe_url: "https://u.example/x?token=t" };
        let t = MailTemplate::compile("Hi", "<html><body><p>Hello</p></BODY></html>", "Hello").unwrap();
        let mail = t.render(&data).unwrap();
        assert!(
            mail.html.contains("<a href=\"https://u.example/x?token=t\">Unsubscribe</a></p></BODY>"),
            "{}",
            mail.html
        );
        assert!(mail.text.ends_with("Unsubscribe: https://u.example/x?token=t\n"), "{}", mail.text);

        let own = MailTemplate::compile("Hi", "<a href=\"{{unsubscribe_url}}\">Leave</a>", "").unwrap();
        let mail = own.render(&data).unwrap();
        assert_eq!(mail.html.matches("https://u.example").count(), 1, "no second link: {}", mail.html);
        assert_eq!(mail.text, "", "an empty text body stays empty");
    }

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn renders_personal_fields_escaping_html_only_in_the_html_body() {
        let t = MailTemplate::compile(
            "Hi {{name}}",
            "<p>Hi {{name}} from {{brand}}</p>{{unsubscribe_url}}",
            "Hi {{name}} {{unsubscribe_url}}",
        )
        .unwrap();
        let shared = vars(&[("brand", "fanmail"), ("name", "shared loses")]);
        let recipient = vars(&[("name", "Kim <b>&</b>")]);
        let mail = t.render(&MailData { shared: &shared, recipient: &recipient, unsubscribe_url: "u" }).unwrap();
        assert_eq!(mail.subject, "Hi Kim <b>&</b>");
        assert_eq!(mail.html, "<p>Hi Kim &lt;b&gt;&amp;&lt;/b&gt; from fanmail</p>u");
        assert_eq!(mail.text, "Hi Kim <b>&</b> u");
    }

    /// However the template reaches a list's value, it lands escaped and never as a link
    /// that is not web, mail or phone; the campaign's own variables stay raw where asked.
    #[test]
    fn a_lists_values_are_escaped_and_checked_however_the_template_reaches_them() {
        let shared = vars(&[("banner", "<b>Sale</b>")]);
        let row = vars(&[("x", "<img src=x onerror=alert(1)>"), ("link", "javascript:alert(1)")]);
        let data = MailData { shared: &shared, recipient: &row, unsubscribe_url: "https://u.example/x" };
        for spelling in [
            "{{{x}}}",
            "{{{this.x}}}",
            "{{{./x}}}",
            "{{{[x]}}}",
            "{{&x}}",
            "{{{lookup this \"x\"}}}",
            "{{#each this}}{{{this}}}{{/each}}",
            "{{#with this}}{{{x}}}{{/with}}",
        ] {
            let t = MailTemplate::compile("s", &format!("<p>{spelling}</p>"), "t").unwrap();
            let html = t.render(&data).unwrap().html;
            assert!(!html.contains("<img"), "{spelling}: {html}");
            assert!(html.contains("&lt;img src&#x3D;x onerror&#x3D;alert(1)&gt;"), "{spelling}: escaped once: {html}");
        }
        for link in [
            "<a href=\"{{link}}\">x</a>",
            "<a href=\"{{{link}}}\">x</a>",
            "<a href=\"{{#if link}}{{link}}{{/if}}\">x</a>",
            "<a href='{{lookup this \"link\"}}'>x</a>",
            "<a title=\"t\" HREF = {{link}}>x</a>",
        ] {
            let t = MailTemplate::compile("s", link, "t").unwrap();
            let error = t.render(&data).unwrap_err();
            assert!(error.message.contains("the list's 'link' makes a link"), "{link}: {}", error.message);
        }
        let t = MailTemplate::compile("s", "{{{banner}}} {{banner}} <a href=\"{{link}}\">x</a>", "t").unwrap();
        let safe = vars(&[("link", "https://example.com/?a=1&b=2")]);
        let html = t.render(&MailData { recipient: &safe, ..data }).unwrap().html;
        assert!(
            html.starts_with(
                "<b>Sale</b> &lt;b&gt;Sale&lt;/b&gt; <a href=\"https://example.com/?a&#x3D;1&amp;b&#x3D;2\">"
            ),
            "{html}"
        );
    }

    #[test]
    fn a_subject_can_never_contain_a_line_break() {
        let t = MailTemplate::compile("Hello {{name}}", "x", "x").unwrap();
        let recipient = vars(&[("name", "Kim\r\nBcc: victim@example.com\u{2028}x")]);
        let mail =
            t.render(&MailData { shared: &BTreeMap::new(), recipient: &recipient, unsubscribe_url: "" }).unwrap();
        assert_eq!(mail.subject, "Hello Kim Bcc: victim@example.com x");
        assert!(!mail.subject.contains(['\r', '\n']));
    }

    #[test]
    fn a_syntax_error_names_the_part_line_and_column() {
        let err = MailTemplate::compile("ok", "<p>\n  {{#if x}}\n</p>", "ok").unwrap_err();
        assert_eq!(err.part, TemplatePart::Html);
        assert!(err.line.is_some(), "{err}");
        let err = MailTemplate::compile("Hi {{name", "x", "y").unwrap_err();
        assert_eq!((err.part, err.line), (TemplatePart::Subject, Some(1)));
        assert!(err.to_string().starts_with("subject has a syntax error at line 1"), "{err}");
    }

    #[test]
    fn variables_are_the_top_level_fields_read() {
        let t = MailTemplate::compile(
            "{{name}} {{upper city}}",
            "{{#if vip}}{{discount.code}}{{else}}{{regular}}{{/if}}{{#each items}}{{title}}{{/each}}<a href=\"{{unsubscribe_url}}\">x</a>",
            "{{!comment}}{{this}}",
        )
        .unwrap();
        let expected: BTreeSet<String> = ["city", "discount", "items", "name", "regular", "unsubscribe_url", "vip"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // `upper` is a helper name, not data; `title` is read inside #each, relative to items.
        assert_eq!(t.variables(), &expected);
        let provided: BTreeSet<String> = ["discount".to_string()].into();
        let required: Vec<_> = t.required_columns(&provided).cloned().collect();
        assert_eq!(required, ["city", "items", "name", "regular", "vip"]);
    }

    #[test]
    fn a_subject_that_renders_empty_is_an_error_and_blank_shown_variables_are_named() {
        let t = MailTemplate::compile(
            "{{headline}}",
            "<p>Dear {{name}}</p>{{#if coupon}}<b>{{coupon}}</b>{{/if}}{{{unsubscribe_url}}}",
            "{{brand}}",
        )
        .unwrap();
        let shared = vars(&[("brand", "fanmail")]);
        let row = vars(&[("headline", " \t "), ("name", "")]);
        let data = MailData { shared: &shared, recipient: &row, unsubscribe_url: "u" };
        let error = t.render(&data).unwrap_err();
        assert_eq!(error.part, TemplatePart::Subject);
        assert!(error.message.contains("subject is empty"), "{}", error.message);
        // `coupon` is inside `{{#if}}`: optional, never reported; `brand` comes from the shared vars.
        assert_eq!(t.blank_in(&shared, &row), vec!["headline", "name"]);
        let full = vars(&[("headline", "News"), ("name", "Kim")]);
        assert!(t.blank_in(&shared, &full).is_empty());
        assert!(t.render(&MailData { shared: &shared, recipient: &full, unsubscribe_url: "u" }).is_ok());
    }
}
