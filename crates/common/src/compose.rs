//! One recipient's mail exactly as fanmail sends it: the template rendered over the campaign's
//! shared variables and the recipient's own, with the signed one-click unsubscribe link
//! (RFC 8058) and its headers, and the message tags SES events are joined by. The sender sends
//! what this composes; a template preview shows it.

use std::collections::BTreeMap;

use crate::domain::{CampaignId, EmailAddress, RecipientId, Sender, UnsubscribeToken};
use crate::ports::OutgoingMail;
use crate::render::{MailData, MailTemplate, RenderError};

/// Who a mail is from and to, and what it belongs to.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub sender: &'a Sender,
    pub campaign: &'a CampaignId,
    pub recipient: &'a RecipientId,
    pub to: &'a EmailAddress,
}

/// Everything but the template that goes into one mail.
#[derive(Debug, Clone)]
pub struct MailInput<'a> {
    pub envelope: Envelope<'a>,
    pub shared: &'a BTreeMap<String, String>,
    pub vars: &'a BTreeMap<String, String>,
    /// Where unsubscribe links point, up to the token: `https://…/unsubscribe?token=`.
    pub unsubscribe_base: &'a str,
    /// The key unsubscribe tokens are signed with.
    pub unsubscribe_key: &'a [u8],
}

/// The mail, or why the template cannot be rendered for this recipient.
pub fn compose(template: &MailTemplate, input: &MailInput<'_>) -> Result<OutgoingMail, RenderError> {
    let envelope = &input.envelope;
    let token = UnsubscribeToken {
        address: envelope.to.clone(),
        sender: envelope.sender.address.clone(),
        campaign: envelope.campaign.clone(),
    }
    .sign(input.unsubscribe_key)
    .expect("the key's length is checked when it is loaded");
    let unsubscribe_url = format!("{}{token}", input.unsubscribe_base);
    let rendered = template.render(&MailData {
        shared: input.shared,
        recipient: input.vars,
        unsubscribe_url: &unsubscribe_url,
    })?;
    Ok(OutgoingMail {
        from: envelope.sender.from_header(),
        to: envelope.to.clone(),
        reply_to: envelope.sender.reply_to.clone(),
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        // Mailbox providers POST `List-Unsubscribe=One-Click` to the link.
        headers: vec![
            ("List-Unsubscribe".into(), format!("<{unsubscribe_url}>")),
            ("List-Unsubscribe-Post".into(), "List-Unsubscribe=One-Click".into()),
        ],
        tags: vec![
            ("campaign".into(), envelope.campaign.to_string()),
            ("recipient".into(), envelope.recipient.to_string()),
        ],
    })
}
