//! What every suppression store does, run against each adapter.

use crate::domain::SuppressionReason;
use crate::domain::{CampaignId, EmailAddress, Suppression, SuppressionScope};
use crate::store::fixtures::*;
use crate::store::SuppressionStore;

pub async fn run(store: &impl SuppressionStore) {
    let address = EmailAddress::parse("gone@example.com").unwrap();
    let all = Suppression {
        address: address.clone(),
        scope: SuppressionScope::All,
        reason: SuppressionReason::HardBounce,
        campaign_id: Some(CampaignId::parse("c1").unwrap()),
        created_at: T0,
    };
    let unsub = Suppression {
        scope: SuppressionScope::Sender("news@example.com".into()),
        reason: SuppressionReason::Unsubscribed,
        ..all.clone()
    };
    store.put(&all).await.unwrap();
    store.put(&unsub).await.unwrap();
    store.put(&all).await.unwrap();
    let mut found = store.find(&address).await.unwrap();
    found.sort_by_key(|s| s.scope.key());
    assert_eq!(found, [all.clone(), unsub.clone()]);
    assert!(store.find(&EmailAddress::parse("fine@example.com").unwrap()).await.unwrap().is_empty());
    assert_eq!(store.list(10, None).await.unwrap().items.len(), 2);
    let sender = EmailAddress::parse("news@example.com").unwrap();
    let other_sender = EmailAddress::parse("shop@example.com").unwrap();
    let fine = EmailAddress::parse("fine@example.com").unwrap();
    let asked = [address.clone(), fine.clone()];
    assert_eq!(store.suppressed_among(&asked, &other_sender).await.unwrap(), [address.clone()].into());
    assert!(store.remove(&address, &SuppressionScope::All).await.unwrap());
    assert_eq!(
        store.suppressed_among(&asked, &sender).await.unwrap(),
        [address.clone()].into(),
        "unsubscribed from this sender"
    );
    assert!(store.suppressed_among(&asked, &other_sender).await.unwrap().is_empty(), "but not from another");
    store.put(&all).await.unwrap();
    assert!(store.remove(&address, &SuppressionScope::All).await.unwrap());
    assert!(!store.remove(&address, &SuppressionScope::All).await.unwrap());
    assert_eq!(store.find(&address).await.unwrap(), [unsub]);

    // Unsubscribed from the verified domain: no mail from any of its subdomains either.
    let domain_wide = Suppression {
        address: fine.clone(),
        scope: SuppressionScope::Domain("example.com".into()),
        reason: SuppressionReason::Unsubscribed,
        ..all.clone()
    };
    store.put(&domain_wide).await.unwrap();
    let from_sub = EmailAddress::parse("offers@mail.example.com").unwrap();
    assert_eq!(store.suppressed_among(std::slice::from_ref(&fine), &from_sub).await.unwrap(), [fine.clone()].into());
    let elsewhere = EmailAddress::parse("offers@example.org").unwrap();
    assert!(store.suppressed_among(&[fine], &elsewhere).await.unwrap().is_empty());
}
