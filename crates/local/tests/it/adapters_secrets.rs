//! The unsubscribe keys read from Secrets Manager (the local endpoint): the current version,
//! and after a rotation the previous one too, so links already sent keep working.

use fanmail_common::aws::read_unsubscribe_key;
use fanmail_common::domain::{CampaignId, EmailAddress, UnsubscribeToken};

use crate::support::{endpoints, unique_name};

#[tokio::test]
async fn after_a_rotation_links_made_with_the_previous_version_still_verify() {
    let sdk = endpoints().sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = format!("unsubscribe-{}", unique_name());
    let first = "the first key of this secret, thirty-two bytes or more";
    secrets.create_secret().name(&name).secret_string(first).send().await.unwrap();
    let keys = read_unsubscribe_key(&sdk, &name).await.unwrap();
    assert_eq!(keys.bytes(), first.as_bytes());
    assert_eq!(format!("{keys:?}"), format!("UnsubscribeKey({} bytes, previous: false)", first.len()));
    let token = UnsubscribeToken {
        address: EmailAddress::parse("kim@example.com").unwrap(),
        sender: EmailAddress::parse("news@example.com").unwrap(),
        campaign: CampaignId::parse("c1").unwrap(),
    };
    let sent_before = token.sign(keys.bytes()).unwrap();

    let second = "the key after the rotation, also thirty-two bytes long";
    secrets.put_secret_value().secret_id(&name).secret_string(second).send().await.unwrap();
    let keys = read_unsubscribe_key(&sdk, &name).await.unwrap();
    assert_eq!(keys.bytes(), second.as_bytes(), "new links use the new key");
    assert_eq!(UnsubscribeToken::verify_with(&sent_before, &keys), Ok(token));

    let missing = read_unsubscribe_key(&sdk, &format!("{name}-missing")).await;
    assert!(missing.is_err());
    secrets.delete_secret().secret_id(&name).force_delete_without_recovery(true).send().await.unwrap();
}
