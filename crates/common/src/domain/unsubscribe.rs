//! One-click unsubscribe tokens (RFC 8058 links). A token names the recipient, the sender (the
//! list a recipient leaves) and the campaign, encrypted and authenticated (ChaCha20-Poly1305),
//! so a link reveals no address to whoever sees it (Referer headers, logs) and cannot be forged
//! or altered. It carries the id of the key it was made with: after the secret is rotated, links
//! already sent verify under the previous key.
//!
//! `v2.<key id>.<nonce and ciphertext>`; the nonce is derived from the content (the same
//! recipient, sender and campaign give the same token), so no random source is needed. Links
//! of the first version (`v1.`, the address in base64 and an HMAC) still verify.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit as _, Nonce};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{CampaignId, EmailAddress};

const VERSION: &str = "v2";
const FIRST_VERSION: &str = "v1";
/// Keys shorter than this are refused (the stack generates 64 characters).
pub const MIN_KEY_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed")]
    Malformed,
    #[error("the token's signature does not match")]
    BadSignature,
    #[error("the token was made with a key that is neither the current nor the previous one")]
    UnknownKey,
    #[error("the signing key is shorter than {MIN_KEY_BYTES} bytes")]
    WeakKey,
}

/// The keys tokens are made and read with: the current one, and the one before a rotation.
/// Their bytes never appear in logs.
#[derive(Clone, PartialEq, Eq)]
pub struct UnsubscribeKey {
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
}

impl UnsubscribeKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, TokenError> {
        let current = bytes.into();
        if current.len() < MIN_KEY_BYTES {
            return Err(TokenError::WeakKey);
        }
        Ok(Self { current, previous: None })
    }

    /// The key before the last rotation, still accepted for links already sent.
    pub fn with_previous(mut self, bytes: impl Into<Vec<u8>>) -> Result<Self, TokenError> {
        let previous = bytes.into();
        if previous.len() < MIN_KEY_BYTES {
            return Err(TokenError::WeakKey);
        }
        self.previous = Some(previous).filter(|p| *p != self.current);
        Ok(self)
    }

    /// The current key, which new tokens are made with.
    pub fn bytes(&self) -> &[u8] {
        &self.current
    }

    fn all(&self) -> impl Iterator<Item = &[u8]> {
        std::iter::once(self.current.as_slice()).chain(self.previous.as_deref())
    }
}

impl std::fmt::Debug for UnsubscribeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UnsubscribeKey({} bytes, previous: {})", self.current.len(), self.previous.is_some())
    }
}

/// What a token says: who leaves which sender's list, from which campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubscribeToken {
    pub address: EmailAddress,
    pub sender: EmailAddress,
    pub campaign: CampaignId,
}

/// HMAC-SHA-256 of `parts` under `key`.
fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], TokenError> {
    if key.len() < MIN_KEY_BYTES {
        return Err(TokenError::WeakKey);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| TokenError::WeakKey)?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// A short public name of a key: tokens say which key made them without revealing it.
fn key_id(key: &[u8]) -> Result<String, TokenError> {
    Ok(URL_SAFE_NO_PAD.encode(&hmac(key, &[b"fanmail unsubscribe key id"])?[..6]))
}

fn cipher(key: &[u8]) -> Result<ChaCha20Poly1305, TokenError> {
    let derived = hmac(key, &[b"fanmail unsubscribe encryption"])?;
    Ok(ChaCha20Poly1305::new(&derived.into()))
}

impl UnsubscribeToken {
    fn plaintext(&self) -> String {
        format!("{}\n{}\n{}", self.address, self.sender, self.campaign)
    }

    /// The URL-safe token, made with `key`.
    pub fn sign(&self, key: &[u8]) -> Result<String, TokenError> {
        let id = key_id(key)?;
        let plaintext = self.plaintext();
        let nonce_bytes = hmac(key, &[b"fanmail unsubscribe nonce\n", plaintext.as_bytes()])?;
        let nonce = Nonce::from_slice(&nonce_bytes[..12]);
        let aad = format!("{VERSION}.{id}");
        let sealed = cipher(key)?
            .encrypt(nonce, Payload { msg: plaintext.as_bytes(), aad: aad.as_bytes() })
            .map_err(|_| TokenError::Malformed)?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        Ok(format!("{aad}.{}", URL_SAFE_NO_PAD.encode(body)))
    }

    /// Reads a token made with `key`.
    pub fn verify(token: &str, key: &[u8]) -> Result<Self, TokenError> {
        Self::verify_with(token, &UnsubscribeKey::new(key.to_vec())?)
    }

    /// Reads a token made with the current or the previous key (checked in constant time).
    pub fn verify_with(token: &str, keys: &UnsubscribeKey) -> Result<Self, TokenError> {
        let token = token.trim();
        match token.split_once('.') {
            Some((VERSION, rest)) => {
                let (id, body) = rest.split_once('.').ok_or(TokenError::Malformed)?;
                let key = keys.all().find(|k| key_id(k).is_ok_and(|k| k == id)).ok_or(TokenError::UnknownKey)?;
                let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenError::Malformed)?;
                if body.len() < 12 + 16 {
                    return Err(TokenError::Malformed);
                }
                let (nonce, sealed) = body.split_at(12);
                let aad = format!("{VERSION}.{id}");
                let plaintext = cipher(key)?
                    .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: aad.as_bytes() })
                    .map_err(|_| TokenError::BadSignature)?;
                let text = String::from_utf8(plaintext).map_err(|_| TokenError::Malformed)?;
                let mut parts = text.split('\n');
                let (Some(address), Some(sender), Some(campaign), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(TokenError::Malformed);
                };
                Ok(Self {
                    address: EmailAddress::parse(address).map_err(|_| TokenError::Malformed)?,
                    sender: EmailAddress::parse(sender).map_err(|_| TokenError::Malformed)?,
                    campaign: CampaignId::parse(campaign).map_err(|_| TokenError::Malformed)?,
                })
            }
            Some((FIRST_VERSION, _)) => {
                let mut outcome = Err(TokenError::BadSignature);
                for key in keys.all() {
                    outcome = first_version(token, key);
                    if outcome != Err(TokenError::BadSignature) {
                        break;
                    }
                }
                outcome
            }
            _ => Err(TokenError::Malformed),
        }
    }
}

/// A link of the first version: `v1.<address b64>.<sender b64>.<campaign>.<HMAC>`.
fn first_version(token: &str, key: &[u8]) -> Result<UnsubscribeToken, TokenError> {
    let (payload, tag) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| TokenError::Malformed)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| TokenError::WeakKey)?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&tag).map_err(|_| TokenError::BadSignature)?;
    let mut parts = payload.split('.');
    let (Some(FIRST_VERSION), Some(address), Some(sender), Some(campaign), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |s: &str| {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| TokenError::Malformed)?;
        let text = String::from_utf8(bytes).map_err(|_| TokenError::Malformed)?;
        EmailAddress::parse(&text).map_err(|_| TokenError::Malformed)
    };
    Ok(UnsubscribeToken {
        address: decode(address)?,
        sender: decode(sender)?,
        campaign: CampaignId::parse(campaign).map_err(|_| TokenError::Malformed)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef0123456789abcdef";
    const NEXT_KEY: &[u8] = b"a key made by the rotation, thirty-two bytes or more";

    fn token() -> UnsubscribeToken {
        UnsubscribeToken {
            address: EmailAddress::parse("kim@example.com").unwrap(),
            sender: EmailAddress::parse("news@example.com").unwrap(),
            campaign: CampaignId::parse("c1").unwrap(),
        }
    }

    #[test]
    fn a_token_reads_back_to_what_it_names_and_reveals_no_address() {
        let signed = token().sign(KEY).unwrap();
        assert!(signed.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "URL-safe: {signed}");
        assert!(signed.starts_with("v2."), "{signed}");
        for revealing in ["kim@example.com", "news@example.com", "kim", "a2lt", "bmV3cw"] {
            assert!(!signed.contains(revealing), "{revealing} shows in {signed}");
        }
        assert_eq!(UnsubscribeToken::verify(&signed, KEY), Ok(token()));
        assert_eq!(token().sign(KEY).unwrap(), signed, "the same recipient gets the same link");
    }

    #[test]
    fn after_a_rotation_links_made_with_the_previous_key_still_verify() {
        let old_link = token().sign(KEY).unwrap();
        let rotated = UnsubscribeKey::new(NEXT_KEY).unwrap().with_previous(KEY).unwrap();
        assert_eq!(UnsubscribeToken::verify_with(&old_link, &rotated), Ok(token()));
        let new_link = token().sign(rotated.bytes()).unwrap();
        assert_ne!(new_link, old_link);
        assert_eq!(UnsubscribeToken::verify_with(&new_link, &rotated), Ok(token()));
        // Two rotations on, the first key is gone.
        let twice = UnsubscribeKey::new(b"the third key, also thirty-two bytes or more".to_vec())
            .unwrap()
            .with_previous(NEXT_KEY)
            .unwrap();
        assert_eq!(UnsubscribeToken::verify_with(&old_link, &twice), Err(TokenError::UnknownKey));
    }

    #[test]
    fn an_altered_token_or_another_key_is_refused() {
        let signed = token().sign(KEY).unwrap();
        let (head, body) = signed.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(body).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(UnsubscribeToken::verify(&altered, KEY), Err(TokenError::BadSignature));
        let other_key = b"another key, also thirty-two bytes long!";
        assert_eq!(UnsubscribeToken::verify(&signed, other_key), Err(TokenError::UnknownKey));
        // The right key id in front of another key's ciphertext.
        let foreign = token().sign(other_key).unwrap();
        let forged = format!("{head}.{}", foreign.rsplit_once('.').unwrap().1);
        assert_eq!(UnsubscribeToken::verify(&forged, KEY), Err(TokenError::BadSignature));
        assert_eq!(UnsubscribeToken::verify("no-dot", KEY), Err(TokenError::Malformed));
        assert_eq!(UnsubscribeToken::verify("v2.x.", KEY), Err(TokenError::UnknownKey));
        assert!(UnsubscribeToken::verify(&format!("{signed}x"), KEY).is_err());
        assert_eq!(token().sign(b"short"), Err(TokenError::WeakKey));
        assert_eq!(UnsubscribeKey::new(b"short".to_vec()), Err(TokenError::WeakKey));
        assert_eq!(format!("{:?}", UnsubscribeKey::new(KEY).unwrap()), "UnsubscribeKey(48 bytes, previous: false)");
    }

    #[test]
    fn links_of_the_first_version_still_verify_under_either_key() {
        // What the first version made: the address in base64 and an HMAC over the payload.
        let payload = format!(
            "v1.{}.{}.c1",
            URL_SAFE_NO_PAD.encode("kim@example.com"),
            URL_SAFE_NO_PAD.encode("news@example.com")
        );
        let tag = hmac(KEY, &[payload.as_bytes()]).unwrap();
        let link = format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag));
        assert_eq!(UnsubscribeToken::verify(&link, KEY), Ok(token()));
        let rotated = UnsubscribeKey::new(NEXT_KEY).unwrap().with_previous(KEY).unwrap();
        assert_eq!(UnsubscribeToken::verify_with(&link, &rotated), Ok(token()));
        assert_eq!(UnsubscribeToken::verify(&link, NEXT_KEY), Err(TokenError::BadSignature));
    }
}
