//! What every audit log does, run against each adapter.

use time::Duration;

use super::AuditLog;
use crate::domain::{AuditAction, AuditEntry, AuditSubject, CampaignId, EmailAddress};
use crate::store::fixtures::T0;
use crate::store::StoreError;

pub async fn run(log: &impl AuditLog) {
    let campaign = AuditSubject::campaign(&CampaignId::parse("audited").unwrap());
    let kim = AuditSubject::suppression(&EmailAddress::parse("kim@example.com").unwrap());
    let entries = [
        AuditEntry::new(T0, "arn:aws:iam::1:user/ann", AuditAction::CampaignCreated, campaign.clone()),
        AuditEntry::new(
            T0 + Duration::seconds(1),
            "arn:aws:iam::1:user/bob",
            AuditAction::SuppressionLifted,
            kim.clone(),
        )
        .with("reasons", "complaint")
        .with("forced", true),
        AuditEntry::new(
            T0 + Duration::seconds(2),
            "arn:aws:iam::1:user/ann",
            AuditAction::CampaignPaused,
            campaign.clone(),
        ),
        // The same change twice in one millisecond by two callers: both kept.
        AuditEntry::new(
            T0 + Duration::seconds(3),
            "arn:aws:iam::1:user/ann",
            AuditAction::CampaignResumed,
            campaign.clone(),
        ),
        AuditEntry::new(
            T0 + Duration::seconds(3),
            "arn:aws:iam::1:user/bob",
            AuditAction::CampaignResumed,
            campaign.clone(),
        ),
    ];
    for entry in &entries {
        log.record(entry).await.unwrap();
    }

    // Everyone's, newest first, a page at a time.
    let (mut all, mut cursor) = (Vec::new(), None);
    loop {
        let page = log.list(None, 2, cursor.as_deref()).await.unwrap();
        assert!(page.items.len() <= 2);
        all.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let ours: Vec<&AuditEntry> = all.iter().filter(|e| e.subject == campaign || e.subject == kim).collect();
    assert_eq!(ours.len(), 5, "{all:?}");
    assert!(ours.windows(2).all(|w| w[0].at >= w[1].at), "newest first: {ours:?}");
    assert_eq!(ours[4], &entries[0]);
    let lifted = ours.iter().find(|e| e.action == AuditAction::SuppressionLifted).unwrap();
    assert_eq!((lifted.detail["reasons"].as_str(), lifted.detail["forced"].as_str()), ("complaint", "true"));

    // One subject's.
    let page = log.list(Some(&campaign), 10, None).await.unwrap();
    let actions: Vec<AuditAction> = page.items.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::CampaignResumed,
            AuditAction::CampaignResumed,
            AuditAction::CampaignPaused,
            AuditAction::CampaignCreated
        ]
    );
    assert_eq!(log.list(Some(&kim), 10, None).await.unwrap().items, vec![entries[1].clone()]);
    assert!(matches!(log.list(None, 2, Some("not a cursor!")).await, Err(StoreError::BadCursor)));
}
