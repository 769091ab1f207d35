//! One-click unsubscribe tokens (RFC 8058 links): they name the recipient, the sender (the
//! list a recipient leaves) and the campaign, and carry an HMAC-SHA-256 over all three, so a
//! token cannot be forged or altered, and unsubscribing needs no lookup of a guessable id.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{CampaignId, EmailAddress};

const VERSION: &str = "v1";
/// Keys shorter than this are refused (the stack generates 64 characters).
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the signing key is shorter than {MIN_KEY_BYTES} bytes")]
    WeakKey,
}

/// The key tokens are signed with. Its bytes never appear in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct UnsubscribeKey(Vec<u8>);

impl UnsubscribeKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, TokenError> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(TokenError::WeakKey);
        }
        Ok(Self(bytes))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UnsubscribeKey({} bytes)", self.0.len())
    }
}

/// What a token says: who leaves which sender's list, from which campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeToken {
    pub address: EmailAddress,
    pub sender: EmailAddress,
    pub campaign: CampaignId,
}

fn mac(key: &[u8], payload: &str) -> Result<Hmac<Sha256>, TokenError> {
    if key.len() < MIN_KEY_BYTES {
        return Err(TokenError::WeakKey);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| TokenError::WeakKey)?;
    mac.update(payload.as_bytes());
    Ok(mac)
}

impl UnsubscribeToken {
    fn payload(&self) -> String {
        let encode = |s: &str| URL_SAFE_NO_PAD.encode(s.as_bytes());
        format!("{VERSION}.{}.{}.{}", encode(self.address.as_str()), encode(self.sender.as_str()), self.campaign)
    }

    /// The URL-safe token: the payload and its signature.
    pub fn sign(&self, key: &[u8]) -> Result<String, TokenError> {
        let payload = self.payload();
        let tag = mac(key, &payload)?.finalize().into_bytes();
        Ok(format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag)))
    }

    /// Checks the signature (in constant time) and reads the token.
    pub fn verify(token: &str, key: &[u8]) -> Result<Self, TokenError> {
        let (payload, tag) = token.trim().rsplit_once('.').ok_or(TokenError::Malformed)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
        mac(key, payload)?.verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
        let mut parts = payload.split('.');
        let (Some(VERSION), Some(address), Some(sender), Some(campaign), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |s: &str| {
            let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Malformed)?;
            let text = String::from_utf8(bytes).map_err(|_| TokenError::Malformed)?;
            EmailAddress::parse(&text).map_err(|_| TokenError::Malformed)
        };
        Ok(Self {
            address: decode(address)?,
            sender: decode(sender)?,
            campaign: CampaignId::parse(campaign).map_err(|_| TokenError::Malformed)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef";

    fn token() -> UnsubscribeToken {
        UnsubscribeToken {
            address: EmailAddress::parse("kim@example.com").unwrap(),
            sender: EmailAddress::parse("news@example.com").unwrap(),
            campaign: CampaignId::parse("c1").unwrap(),
        }
    }

    #[test]
    fn a_signed_token_verifies_back_to_what_it_names() {
        let signed = token().sign(KEY).unwrap();
        assert!(signed.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "URL-safe: {signed}");
        assert!(!signed.contains("kim@example.com"), "the address is not readable in the link");
        assert_eq!(UnsubscribeToken::verify(&signed, KEY), Ok(token()));
    }

    #[test]
    fn an_altered_token_or_another_key_is_refused() {
        let signed = token().sign(KEY).unwrap();
        let mut other = token();
        other.address = EmailAddress::parse("lee@example.com").unwrap();
        let other_payload = other.sign(KEY).unwrap();
        // The other recipient's payload with this recipient's signature.
        let (payload, _) = other_payload.rsplit_once('.').unwrap();
        let (_, tag) = signed.rsplit_once('.').unwrap();
        assert_eq!(UnsubscribeToken::verify(&format!("{payload}.{tag}"), KEY), Err(TokenError::BadSignature));
        assert_eq!(
            UnsubscribeToken::verify(&signed, b"another key, also thirty-two bytes long!"),
            Err(TokenError::BadSignature)
        );
        assert_eq!(UnsubscribeToken::verify("no-dot", KEY), Err(TokenError::Malformed));
        assert!(UnsubscribeToken::verify(&format!("{signed}x"), KEY).is_err());
        assert_eq!(token().sign(b"short"), Err(TokenError::WeakKey));
        assert_eq!(UnsubscribeKey::new(b"short".to_vec()), Err(TokenError::WeakKey));
        assert_eq!(format!("{:?}", UnsubscribeKey::new(KEY).unwrap()), "UnsubscribeKey(48 bytes)");
    }
}
