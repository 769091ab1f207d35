//! What every template store does, run against each adapter.

use crate::domain::TemplateId;
use crate::store::fixtures::*;
use crate::store::{StoreError, TemplateStore};

pub async fn run(store: &impl TemplateStore) {
    let id = TemplateId::parse("welcome").unwrap();
    assert!(store.get(&id, None).await.unwrap().is_none());
    store.put_version(&template("welcome", 1)).await.unwrap();
    store.put_version(&template("welcome", 2)).await.unwrap();
    assert!(matches!(store.put_version(&template("welcome", 2)).await, Err(StoreError::AlreadyExists(_))));
    assert!(matches!(store.put_version(&template("welcome", 1)).await, Err(StoreError::AlreadyExists(_))));
    assert_eq!(store.get(&id, None).await.unwrap().unwrap().version, 2);
    assert_eq!(store.get(&id, Some(1)).await.unwrap().unwrap(), template("welcome", 1));
    store.put_version(&template("other", 1)).await.unwrap();

    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list(1, cursor.as_deref()).await.unwrap();
        listed.extend(page.items.into_iter().map(|t| (t.id.to_string(), t.latest_version)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    listed.sort();
    assert_eq!(listed, [("other".to_string(), 1), ("welcome".to_string(), 2)]);

    assert!(store.delete(&id).await.unwrap());
    assert!(!store.delete(&id).await.unwrap());
    assert!(store.get(&id, None).await.unwrap().is_none(), "a deleted template has no latest version");
    assert!(store.get(&id, Some(2)).await.unwrap().is_some(), "pinned versions stay readable");
}
