//! One-click unsubscribe (RFC 8058), public and unauthenticated: the signed token in the link
//! is the only credential.
//!
//! - `POST /unsubscribe?token=…` with the body `List-Unsubscribe=One-Click` (what mailbox
//!   providers send, and what the confirmation page's button sends) unsubscribes at once and
//!   answers a small page: no redirect, and a repeat changes nothing.
//! - `GET /unsubscribe?token=…` only shows the confirmation page with that button: link
//!   scanners fetch links, and a fetch must not unsubscribe anyone.
//! - A malformed token answers 400, a forged or altered one 403, each with a page saying so.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use fanmail_common::api_gateway::{response, RequestExt};
use fanmail_common::domain::{
    AuditAction, AuditEntry, AuditSubject, DeliveryResult, Suppression, SuppressionReason, SuppressionScope,
    TokenError, UnsubscribeToken, UNSUBSCRIBE_LINK,
};
use fanmail_common::ports::Clock;
use fanmail_common::recipient_list::recipient_id;
use fanmail_common::store::{AuditLog, ResultLog, StoreError, SuppressionStore};

use crate::{Deps, Ports};

fn page(status: u16, title: &str, body: &str) -> ApiGatewayV2httpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title></head>\
         <body style=\"font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem\">\
         <h1>{title}</h1>{body}</body></html>"
    );
    let mut res = response(status, "text/html; charset=utf-8", html);
    res.headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    res
}

/// Why a link is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NoToken,
    /// A token whose signature does not match: altered, or not ours.
    Forged,
    /// A token that does not even decode (often a link cut by a line break).
    Damaged,
    /// A token made with a key two rotations old.
    Expired,
    /// The key could not be read: nothing can be checked now.
    Unavailable,
}

impl Refusal {
    fn page(self) -> ApiGatewayV2httpResponse {
        match self {
            Self::NoToken => page(
                400,
                "Link incomplete",
                "<p>This unsubscribe link has no token. Please use the link from the mail as it is.</p>",
            ),
            Self::Forged => page(
                403,
                "Link not valid",
                "<p>This unsubscribe link was altered or was not issued by us, so nothing was changed.</p>",
            ),
            Self::Expired => page(
                410,
                "Link expired",
                "<p>This unsubscribe link is too old to be checked. Please use the link in a newer mail from us, \
                 or reply to it and ask to be removed.</p>",
            ),
            Self::Unavailable => page(
                503,
                "Please try again",
                "<p>We cannot check unsubscribe links just now. Please try again in a few minutes.</p>",
            ),
            Self::Damaged => page(
                400,
                "Link damaged",
                "<p>This unsubscribe link is damaged (perhaps cut by a line break). Please use the link from the \
                 mail as it is.</p>",
            ),
        }
    }
}

/// The token's claims, or why the link is refused.
/// A link made with a key this instance does not hold (rotated in since its cold start) has
/// the keys read again, at most once a minute, before it is refused as expired.
async fn verified<P: Ports>(deps: &Deps<P>, request: &ApiGatewayV2httpRequest) -> Result<UnsubscribeToken, Refusal> {
    let token = request.query("token").filter(|t| !t.is_empty()).ok_or(Refusal::NoToken)?;
    let now = deps.clock.now();
    let keys = deps.unsubscribe_keys.current(now).await.ok_or(Refusal::Unavailable)?;
    let verified = match UnsubscribeToken::verify_with(token, &keys) {
        Err(TokenError::UnknownKey) => match deps.unsubscribe_keys.reread(now).await {
            Some(fresh) if fresh != keys => UnsubscribeToken::verify_with(token, &fresh),
            _ => Err(TokenError::UnknownKey),
        },
        other => other,
    };
    verified.map_err(|e| match e {
        TokenError::BadSignature => Refusal::Forged,
        TokenError::UnknownKey => Refusal::Expired,
        TokenError::Malformed | TokenError::WeakKey => Refusal::Damaged,
    })
}

/// `GET /unsubscribe?token=`: the confirmation page.
pub async fn confirm_page<P: Ports>(deps: &Deps<P>, request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    match verified(deps, request).await {
        // The form posts to this same URL (token included) with the one-click body.
        Ok(token) => page(
            200,
            "Unsubscribe",
            &format!(
                "<p>Stop mail from <strong>{}</strong> to <strong>{}</strong>?</p>\
                 <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                 <button type=\"submit\">Unsubscribe</button></form>",
                token.sender.as_str(),
                token.address.redacted(),
            ),
        ),
        Err(refusal) => refusal.page(),
    }
}

/// `POST /unsubscribe?token=`: unsubscribes at once.
pub async fn one_click<P: Ports>(deps: &Deps<P>, request: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let token = match verified(deps, request).await {
        Ok(token) => token,
        Err(refusal) => return refusal.page(),
    };
    let body = request.body_bytes().unwrap_or_default();
    let content_type = request.headers.get("content-type").and_then(|v| v.to_str().ok());
    if !crate::one_click::asks_to_unsubscribe(content_type, &body) {
        return page(
            400,
            "Nothing changed",
            "<p>The request did not ask to unsubscribe (List-Unsubscribe=One-Click).</p>",
        );
    }
    match unsubscribe(deps, &token).await {
        Ok(()) => page(
            200,
            "You are unsubscribed",
            &format!("<p>You will get no more mail from <strong>{}</strong>.</p>", token.sender.as_str()),
        ),
        Err(e) => {
            tracing::error!(error = %e, "unsubscribe could not be stored");
            page(
                503,
                "Please try again",
                "<p>We could not record your request just now. Please try again in a minute.</p>",
            )
        }
    }
}

/// Suppresses the address for the sender (idempotent) and counts it on the campaign once.
async fn unsubscribe<P: Ports>(deps: &Deps<P>, token: &UnsubscribeToken) -> Result<(), StoreError> {
    let now = deps.clock.now();
    let scope = SuppressionScope::of_sender_in(&token.sender, &deps.config.sender_domain);
    let suppression = Suppression {
        address: token.address.clone(),
        scope,
        reason: SuppressionReason::Unsubscribed,
        campaign_id: Some(token.campaign.clone()),
        created_at: now,
    };
    if deps.suppressions.add(&suppression).await? {
        let subject = AuditSubject::suppression(&token.address);
        let entry = AuditEntry::new(now, UNSUBSCRIBE_LINK, AuditAction::SuppressionAdded, subject)
            .with("scope", suppression.scope.key())
            .with("campaign", &token.campaign);
        deps.audit.record(&entry).await?;
        tracing::info!(campaign = %token.campaign, address = %token.address.redacted(), "unsubscribed");
    }
    let recipient = recipient_id(&token.address);
    match deps.results.record(&token.campaign, &recipient, DeliveryResult::Unsubscribed, now).await {
        // The suppression is what matters; a recipient the store no longer has is not counted.
        Ok(_) | Err(StoreError::NotFound(_) | StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::encodings::Body;
    use base64::Engine;
    use fanmail_common::domain::{CampaignId, EmailAddress, UnsubscribeKey};
    use lambda_runtime::LambdaEvent;

    use super::*;
    use crate::test_support::{deps, KEY};
    use crate::{handler, MemoryPorts};

    /// The form field and value RFC 8058 prescribes, urlencoded.
    const ONE_CLICK_BODY: &str = "List-Unsubscribe=One-Click";

    fn token_for(address: &str) -> String {
        UnsubscribeToken {
            address: EmailAddress::parse(address).unwrap(),
            sender: EmailAddress::parse("news@example.com").unwrap(),
            campaign: CampaignId::parse("c1").unwrap(),
        }
        .sign(KEY)
        .unwrap()
    }

    /// A request as API Gateway passes a form post (base64 body) or a GET; status and page.
    async fn send(deps: &Deps<MemoryPorts>, method: &str, token: &str, body: Option<&str>) -> (i64, String) {
        let mut req = ApiGatewayV2httpRequest::default();
        req.route_key = Some(format!("{method} /unsubscribe"));
        req.query_string_parameters = format!("token={token}").parse().unwrap();
        if let Some(body) = body {
            req.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
            req.is_base64_encoded = true;
        }
        let res = handler(deps, LambdaEvent::new(req, Default::default())).await.unwrap();
        let Some(Body::Text(page)) = res.body else { panic!("an HTML page") };
        (res.status_code, page)
    }

    /// A one-click POST as RFC 8058 §3.1 shows it.
    async fn send_multipart(deps: &Deps<MemoryPorts>, token: &str) -> (i64, String) {
        let body = "-----FormBoundaryjWmhtjORrn\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n-----FormBoundaryjWmhtjORrn--\r\n";
        let mut req = ApiGatewayV2httpRequest::default();
        req.route_key = Some("POST /unsubscribe".into());
        req.query_string_parameters = format!("token={token}").parse().unwrap();
        req.headers.insert("content-type", "multipart/form-data; boundary=---FormBoundaryjWmhtjORrn".parse().unwrap());
        req.body = Some(base64::engine::general_purpose::STANDARD.encode(body));
        req.is_base64_encoded = true;
        let res = handler(deps, LambdaEvent::new(req, Default::default())).await.unwrap();
        let Some(Body::Text(page)) = res.body else { panic!("an HTML page") };
        (res.status_code, page)
    }

    async fn sender_suppressions(deps: &Deps<MemoryPorts>, address: &str) -> Vec<Suppression> {
        deps.suppressions.find(&EmailAddress::parse(address).unwrap()).await.unwrap()
    }

    #[tokio::test]
    async fn a_get_only_shows_the_button_and_a_one_click_post_unsubscribes_once() {
        let deps = deps();
        let token = token_for("kim@example.com");
        let (status, page) = send(&deps, "GET", &token, None).await;
        assert_eq!(status, 200);
        assert!(
            page.contains("<form method=\"post\">") && page.contains("name=\"List-Unsubscribe\" value=\"One-Click\"")
        );
        assert!(!page.contains("kim@example.com"), "the page does not print the whole address");
        assert!(sender_suppressions(&deps, "kim@example.com").await.is_empty(), "a GET never unsubscribes");

        for _ in 0..2 {
            let (status, page) = send(&deps, "POST", &token, Some(ONE_CLICK_BODY)).await;
            assert_eq!(status, 200, "{page}");
            assert!(page.contains("You are unsubscribed"));
        }
        let found = sender_suppressions(&deps, "kim@example.com").await;
        assert_eq!(found.len(), 1, "idempotent");
        // RFC 8058's own example body: multipart/form-data.
        let token = token_for("lee@example.com");
        let (status, page) = send_multipart(&deps, &token).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(sender_suppressions(&deps, "lee@example.com").await.len(), 1);
        assert_eq!(found[0].scope, SuppressionScope::Domain("example.com".into()), "the whole sending domain");
        assert_eq!(found[0].reason, SuppressionReason::Unsubscribed);
        assert_eq!(found[0].campaign_id.as_ref().map(|c| c.as_str()), Some("c1"));
    }

    #[tokio::test]
    async fn a_forged_altered_or_damaged_token_is_refused_with_a_page() {
        let mut deps = deps();
        let token = token_for("kim@example.com");
        // One character of the sealed part changed.
        let (head, body) = token.rsplit_once('.').unwrap();
        let flipped = if body.ends_with('A') { 'B' } else { 'A' };
        let altered = format!("{head}.{}{flipped}", &body[..body.len() - 1]);
        let (status, page) = send(&deps, "POST", &altered, Some(ONE_CLICK_BODY)).await;
        assert_eq!(status, 403, "{page}");
        assert!(page.contains("Link not valid"));
        // Made with a key that is neither the current nor the previous one.
        let old =
            UnsubscribeToken::verify(&token, KEY).unwrap().sign(b"a key retired two rotations ago, 32 bytes+").unwrap();
        let (status, page) = send(&deps, "POST", &old, Some(ONE_CLICK_BODY)).await;
        assert!(status == 410 && page.contains("Link expired"), "{status} {page}");
        let (status, _) = send(&deps, "POST", "v1.garbage", Some(ONE_CLICK_BODY)).await;
        assert_eq!(status, 400);
        let (status, _) = send(&deps, "GET", "", None).await;
        assert_eq!(status, 400);
        let (status, _) = send(&deps, "POST", &token, Some("something=else")).await;
        assert_eq!(status, 400, "a POST must say List-Unsubscribe=One-Click");
        assert!(sender_suppressions(&deps, "kim@example.com").await.is_empty());
        // Without the key nothing can be checked: the page says to come back.
        deps.unsubscribe_keys = fanmail_common::ports::UnsubscribeKeys::fixed(None);
        let (status, page) = send(&deps, "POST", &token, Some(ONE_CLICK_BODY)).await;
        assert!(status == 503 && page.contains("try again"), "{status} {page}");
        assert!(sender_suppressions(&deps, "kim@example.com").await.is_empty());
    }

    /// The secret was rotated after this instance read it: a link made with the new key (by a
    /// sender started since) has the keys read again and is honoured, not answered 410.
    #[tokio::test]
    async fn a_link_made_with_a_key_rotated_in_since_the_cold_start_is_honoured() {
        use fanmail_common::ports::{FixedKey, UnsubscribeKeys, KEY_REREAD_INTERVAL};
        let mut deps = deps();
        const ROTATED: &[u8] = b"the key rotated in after the cold start, 32+";
        let rotated = UnsubscribeKey::new(ROTATED.to_vec()).unwrap().with_previous(KEY.to_vec()).unwrap();
        let started = deps.clock.now();
        deps.unsubscribe_keys = UnsubscribeKeys::new(
            std::sync::Arc::new(FixedKey(rotated)),
            Some(UnsubscribeKey::new(KEY.to_vec()).unwrap()),
            started,
        );
        deps.clock.advance(KEY_REREAD_INTERVAL);
        let token = UnsubscribeToken::verify(&token_for("kim@example.com"), KEY).unwrap().sign(ROTATED).unwrap();
        let (status, page) = send(&deps, "POST", &token, Some(ONE_CLICK_BODY)).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(sender_suppressions(&deps, "kim@example.com").await.len(), 1);
        // Links made with the key before the rotation still work.
        let (status, _) = send(&deps, "POST", &token_for("lee@example.com"), Some(ONE_CLICK_BODY)).await;
        assert_eq!(status, 200);
    }
}
