//! Addresses fanmail must not mail.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{CampaignId, EmailAddress};

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuppressionReason {
    HardBounce,
    RepeatedSoftBounce,
    Complaint,
    Unsubscribed,
    Manual,
}

impl fmt::Display for SuppressionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HardBounce => "hard_bounce",
            Self::RepeatedSoftBounce => "repeated_soft_bounce",
            Self::Complaint => "complaint",
            Self::Unsubscribed => "unsubscribed",
            Self::Manual => "manual",
        })
    }
}

/// Scope of a suppression: bounces and complaints hold for every mail; an unsubscribe holds
/// for the sending domain it was given for, whichever of the domain's addresses a later
/// campaign sends from (a reader who left `news@` is not mailed from `news2@`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum SuppressionScope {
    All,
    /// A sending domain, lower-case.
    Domain(String),
    /// One sending address: how unsubscribes were scoped before they covered the domain.
    /// Still honoured when read; no longer written.
    Sender(String),
}

impl SuppressionScope {
    /// The scope of an unsubscribe from mail sent by `sender`.
    pub fn of_sender(sender: &EmailAddress) -> Self {
        Self::Domain(sender.domain().to_ascii_lowercase())
    }

    /// The scope of an unsubscribe from mail sent by `sender` for the verified `domain`: that
    /// whole domain when the sender is in it or in one of its subdomains (any of which a
    /// campaign may send from), else the sender's own domain.
    pub fn of_sender_in(sender: &EmailAddress, domain: &str) -> Self {
        let own = sender.domain().to_ascii_lowercase();
        let domain = domain.to_ascii_lowercase();
        if own == domain || own.ends_with(&format!(".{domain}")) {
            Self::Domain(domain)
        } else {
            Self::Domain(own)
        }
    }

    /// Every scope that keeps mail from `sender` from an address: everything, the sender, its
    /// domain and each parent domain of it (`mail.example.com`, `example.com`; not the
    /// top-level label), so an unsubscribe from a domain covers its subdomains.
    pub fn covering(sender: &EmailAddress) -> Vec<Self> {
        let domain = sender.domain().to_ascii_lowercase();
        let mut scopes = vec![Self::All, Self::Sender(sender.to_string())];
        let mut rest = domain.as_str();
        while rest.contains('.') {
            scopes.push(Self::Domain(rest.to_string()));
            rest = rest.split_once('.').map_or("", |(_, parent)| parent);
        }
        scopes
    }

    pub fn key(&self) -> String {
        match self {
            Self::All => "*".to_string(),
            Self::Domain(d) => format!("domain#{d}"),
            Self::Sender(s) => format!("sender#{s}"),
        }
    }
}

impl TryFrom<String> for SuppressionScope {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if value == "*" {
            Ok(Self::All)
        } else if let Some(domain) = value.strip_prefix("domain#") {
            Ok(Self::Domain(domain.to_string()))
        } else if let Some(sender) = value.strip_prefix("sender#") {
            Ok(Self::Sender(sender.to_string()))
        } else {
            Err(format!("unknown suppression scope '{value}'"))
        }
    }
}

impl From<SuppressionScope> for String {
    fn from(value: SuppressionScope) -> Self {
        value.key()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suppression {
    pub address: EmailAddress,
    pub scope: SuppressionScope,
    pub reason: SuppressionReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<CampaignId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_keys_round_trip() {
        for scope in [
            SuppressionScope::All,
            SuppressionScope::Domain("example.com".into()),
            SuppressionScope::Sender("news@example.com".into()),
        ] {
            assert_eq!(SuppressionScope::try_from(scope.key()), Ok(scope));
        }
        assert!(SuppressionScope::try_from("bogus".to_string()).is_err());
    }

    #[test]
    fn an_unsubscribe_covers_every_address_of_the_sending_domain() {
        let news = EmailAddress::parse("news@Example.com").unwrap();
        let news2 = EmailAddress::parse("news2@example.com").unwrap();
        let scope = SuppressionScope::of_sender(&news);
        assert!(SuppressionScope::covering(&news2).contains(&scope));
        let other = EmailAddress::parse("news@other.example").unwrap();
        assert!(!SuppressionScope::covering(&other).contains(&scope));
    }

    /// A campaign may send from any subdomain of the verified domain: an unsubscribe from one
    /// covers the verified domain, and so mail from each of its subdomains.
    #[test]
    fn an_unsubscribe_covers_the_verified_domain_and_its_subdomains() {
        let from_sub = EmailAddress::parse("news@mail.Example.com").unwrap();
        let scope = SuppressionScope::of_sender_in(&from_sub, "example.com");
        assert_eq!(scope, SuppressionScope::Domain("example.com".into()));
        for sender in ["news@example.com", "offers@mail.example.com", "a@b.c.example.com"] {
            let sender = EmailAddress::parse(sender).unwrap();
            assert!(SuppressionScope::covering(&sender).contains(&scope), "{sender}");
        }
        for sender in ["news@example.org", "news@notexample.com"] {
            assert!(!SuppressionScope::covering(&EmailAddress::parse(sender).unwrap()).contains(&scope), "{sender}");
        }
        assert!(!SuppressionScope::covering(&from_sub).contains(&SuppressionScope::Domain("com".into())));
        let elsewhere = EmailAddress::parse("news@other.example").unwrap();
        assert_eq!(SuppressionScope::of_sender_in(&elsewhere, "example.com"), SuppressionScope::of_sender(&elsewhere));
    }
}
