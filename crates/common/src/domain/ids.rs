//! Identifiers that cannot be empty or carry characters unsafe in keys, paths and logs.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {kind}: use 1-{max} characters from A-Z a-z 0-9 - _")]
pub struct IdError {
    pub kind: &'static str,
    pub value: String,
    pub max: usize,
}

fn check(kind: &'static str, value: &str) -> Result<(), IdError> {
    const MAX: usize = 64;
    let ok = !value.is_empty()
        && value.len() <= MAX
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(IdError { kind, value: value.chars().take(80).collect(), max: MAX })
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check($kind, &value)?;
                Ok(Self(value))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

id_type!(
    /// Names one campaign.
    CampaignId, "campaign id"
);
id_type!(
    /// Names one template (all of its versions).
    TemplateId, "template id"
);
id_type!(
    /// Names one recipient within a campaign; stable across retries of the split.
    RecipientId, "recipient id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_key_safe_ids_and_rejects_the_rest() {
        assert!(CampaignId::parse("c_01-ab").is_ok());
        assert!(CampaignId::parse("").is_err());
        assert!(TemplateId::parse("../etc/passwd").is_err());
        assert!(RecipientId::parse("a".repeat(65)).is_err());
        let err = TemplateId::parse("a b").unwrap_err();
        assert_eq!(err.kind, "template id");
    }
}
