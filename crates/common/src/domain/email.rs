//! Recipient and sender addresses.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a string is not an address fanmail will send to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("address is empty")]
    Empty,
    #[error("address is longer than 254 characters")]
    TooLong,
    #[error("address has no '@'")]
    MissingAt,
    #[error("address has more than one '@'")]
    MultipleAt,
    #[error("local part (before '@') is empty or longer than 64 characters")]
    BadLocalPart,
    #[error("domain '{0}' is not a valid domain name")]
    BadDomain(String),
    #[error("address contains whitespace, control characters or quotes")]
    BadCharacter,
}

/// A normalised e-mail address: trimmed, lower-cased, syntactically plausible.
///
/// Lower-casing the local part is not what RFC 5321 promises, but every mailbox provider a bulk
/// list reaches treats it case-insensitively, and it is what makes duplicates and suppressions
/// match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim().trim_start_matches("mailto:");
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::TooLong);
        }
        if trimmed.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '"' | '<' | '>' | ',' | ';' | '(' | ')' | '[' | ']' | '\\')
        }) {
            return Err(EmailError::BadCharacter);
        }
        let mut parts = trimmed.split('@');
        let (local, domain) = match (parts.next(), parts.next(), parts.next()) {
            (Some(_), None, _) => return Err(EmailError::MissingAt),
            (Some(l), Some(d), None) => (l, d),
            _ => return Err(EmailError::MultipleAt),
        };
        if local.is_empty()
            || local.len() > 64
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return Err(EmailError::BadLocalPart);
        }
        if !valid_domain(domain) {
            return Err(EmailError::BadDomain(domain.to_string()));
        }
        Ok(Self(trimmed.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit('@').next().unwrap_or_default()
    }

    /// A form safe for logs: first character of the local part and the domain.
    pub fn redacted(&self) -> String {
        let first = self.0.chars().next().unwrap_or('?');
        format!("{first}***@{}", self.domain())
    }
}

/// `text` with every address in it shown as [`EmailAddress::redacted`] shows one: for texts
/// that come from elsewhere (an SES refusal names the address it refused) before they are
/// logged or stored.
pub fn redact_addresses(text: &str) -> String {
    let local_char = |c: char| c.is_alphanumeric() || "._%+-!#$&'*/=?^`{|}~".contains(c);
    let domain_char = |c: char| c.is_alphanumeric() || c == '.' || c == '-';
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '@' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = (0..i).rev().take_while(|&j| local_char(chars[j])).last();
        let mut end = i + 1;
        while end < chars.len() && domain_char(chars[end]) {
            end += 1;
        }
        let domain: String = chars[i + 1..end].iter().collect::<String>().trim_end_matches('.').to_string();
        match start {
            Some(start) if domain.contains('.') => {
                // Take back the local part already copied, keeping its first character.
                let local_len = i - start;
                let kept: String = out.chars().take(out.chars().count() - local_len + 1).collect();
                out = kept;
                out.push_str("***@");
                out.push_str(&domain);
                i += 1 + domain.chars().count();
            }
            _ => {
                out.push('@');
                i += 1;
            }
        }
    }
    out
}

fn valid_domain(domain: &str) -> bool {
    if domain.len() > 253 || !domain.contains('.') {
        return false;
    }
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    })
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        let a = EmailAddress::parse("  Kim.MinSu@Example.COM \t").unwrap();
        assert_eq!(a.as_str(), "kim.minsu@example.com");
        assert_eq!(a.domain(), "example.com");
    }

    #[test]
    fn rejects_each_kind_of_bad_address_with_its_reason() {
        assert_eq!(EmailAddress::parse(""), Err(EmailError::Empty));
        assert_eq!(EmailAddress::parse("no-at.example.com"), Err(EmailError::MissingAt));
        assert_eq!(EmailAddress::parse("a@b@example.com"), Err(EmailError::MultipleAt));
        assert_eq!(EmailAddress::parse("@example.com"), Err(EmailError::BadLocalPart));
        assert_eq!(EmailAddress::parse("a..b@example.com"), Err(EmailError::BadLocalPart));
        assert_eq!(EmailAddress::parse("a@localhost"), Err(EmailError::BadDomain("localhost".into())));
        assert_eq!(EmailAddress::parse("a@-x.com"), Err(EmailError::BadDomain("-x.com".into())));
        assert_eq!(EmailAddress::parse("a b@example.com"), Err(EmailError::BadCharacter));
        assert_eq!(EmailAddress::parse("a@example.com\r\nBcc: x@y.z"), Err(EmailError::BadCharacter));
    }

    #[test]
    fn redacted_form_hides_the_local_part() {
        let a = EmailAddress::parse("someone@example.com").unwrap();
        assert_eq!(a.redacted(), "s***@example.com");
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<EmailAddress>("\"x@example.com\"").is_ok());
        assert!(serde_json::from_str::<EmailAddress>("\"nope\"").is_err());
    }

    #[test]
    fn addresses_in_a_text_are_redacted_and_the_rest_kept() {
        let ses = "Email address is not verified. The following identities failed the check in region \
                   US-EAST-1: kim.minsu+news@example.com, <lee@mail.example.co.kr>. Contact admin@ ops.";
        assert_eq!(
            redact_addresses(ses),
            "Email address is not verified. The following identities failed the check in region \
             US-EAST-1: k***@example.com, <l***@mail.example.co.kr>. Contact admin@ ops."
        );
        assert_eq!(redact_addresses("김민수@example.com 님"), "김***@example.com 님");
        assert_eq!(redact_addresses("no address @ all, a@b"), "no address @ all, a@b");
    }
}
