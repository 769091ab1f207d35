//! The unsubscribe keys and where they come from (Secrets Manager in production). Read at
//! start, and read again when a link names a key this instance does not have (the secret was
//! rotated since the cold start) or when the first read failed, at most once a minute.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::domain::UnsubscribeKey;

#[derive(Debug, Clone, thiserror::Error)]
#[error("the unsubscribe key could not be read: {0}")]
pub struct KeyError(pub String);

/// Where the keys are read from.
pub trait KeySource: Send + Sync {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<UnsubscribeKey, KeyError>> + Send + '_>>;
}

/// A key that never changes (tests, the simulation).
pub struct FixedKey(pub UnsubscribeKey);

impl KeySource for FixedKey {
    fn read(&self) -> Pin<Box<dyn Future<Output = Result<UnsubscribeKey, KeyError>> + Send + '_>> {
        let key = self.0.clone();
        Box::pin(async move { Ok(key) })
    }
}

/// The shortest time between two reads of the source: a flood of links with made-up key ids
/// costs one read a minute.
pub const KEY_REREAD_INTERVAL: Duration = Duration::minutes(1);

/// The keys an instance holds, and their source.
#[derive(Clone)]
pub struct UnsubscribeKeys {
    source: Arc<dyn KeySource>,
    held: Arc<Mutex<Held>>,
}

struct Held {
    keys: Option<UnsubscribeKey>,
    read_at: Option<OffsetDateTime>,
}

impl UnsubscribeKeys {
    /// Keys read from `source` (already, at start: `first`, `None` if that read failed).
    pub fn new(source: Arc<dyn KeySource>, first: Option<UnsubscribeKey>, now: OffsetDateTime) -> Self {
        Self { source, held: Arc::new(Mutex::new(Held { keys: first, read_at: Some(now) })) }
    }

    /// Keys that are what they are (tests, the simulation); `None`: unreadable for good.
    pub fn fixed(keys: Option<UnsubscribeKey>) -> Self {
        struct Unreadable;
        impl KeySource for Unreadable {
            fn read(&self) -> Pin<Box<dyn Future<Output = Result<UnsubscribeKey, KeyError>> + Send + '_>> {
                Box::pin(async { Err(KeyError("no key source".into())) })
            }
        }
        let source: Arc<dyn KeySource> = match &keys {
            Some(key) => Arc::new(FixedKey(key.clone())),
            None => Arc::new(Unreadable),
        };
        Self { source, held: Arc::new(Mutex::new(Held { keys, read_at: None })) }
    }

    /// The keys held now; read again first if none are held and the last read is a minute old.
    pub async fn current(&self, now: OffsetDateTime) -> Option<UnsubscribeKey> {
        let held = self.held.lock().unwrap().keys.clone();
        match held {
            Some(keys) => Some(keys),
            None => self.reread(now).await,
        }
    }

    /// Reads the source again (a link named a key not held), unless it was read less than
    /// [`KEY_REREAD_INTERVAL`] ago; returns the keys held afterwards.
    pub async fn reread(&self, now: OffsetDateTime) -> Option<UnsubscribeKey> {
        {
            let mut held = self.held.lock().unwrap();
            if held.read_at.is_some_and(|at| now - at < KEY_REREAD_INTERVAL) {
                return held.keys.clone();
            }
            held.read_at = Some(now);
        }
        match self.source.read().await {
            Ok(keys) => {
                self.held.lock().unwrap().keys = Some(keys.clone());
                tracing::info!("unsubscribe keys read again");
                Some(keys)
            }
            Err(e) => {
                tracing::warn!(error = %e, "unsubscribe keys could not be read again");
                self.held.lock().unwrap().keys.clone()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use time::macros::datetime;

    /// Hands out the keys it is given, counting its reads.
    struct Rotating {
        keys: Mutex<UnsubscribeKey>,
        reads: AtomicUsize,
    }

    impl KeySource for Rotating {
        fn read(&self) -> Pin<Box<dyn Future<Output = Result<UnsubscribeKey, KeyError>> + Send + '_>> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            let key = self.keys.lock().unwrap().clone();
            Box::pin(async move { Ok(key) })
        }
    }

    fn key(byte: u8) -> UnsubscribeKey {
        UnsubscribeKey::new(vec![byte; 32]).unwrap()
    }

    #[tokio::test]
    async fn a_rotated_key_is_read_again_at_most_once_a_minute() {
        let t0 = datetime!(2026-12-07 10:00 UTC);
        let source = Arc::new(Rotating { keys: Mutex::new(key(1)), reads: AtomicUsize::new(0) });
        let keys = UnsubscribeKeys::new(source.clone(), Some(key(1)), t0);
        *source.keys.lock().unwrap() = key(2);
        assert_eq!(keys.reread(t0 + Duration::seconds(30)).await, Some(key(1)), "read a moment ago: not again");
        assert_eq!(source.reads.load(Ordering::Relaxed), 0);
        assert_eq!(keys.reread(t0 + Duration::minutes(2)).await, Some(key(2)), "the rotated key");
        assert_eq!(keys.current(t0 + Duration::minutes(2)).await, Some(key(2)));
        assert_eq!(keys.reread(t0 + Duration::minutes(2) + Duration::seconds(10)).await, Some(key(2)));
        assert_eq!(source.reads.load(Ordering::Relaxed), 1, "a flood of unknown ids costs one read");
    }

    #[tokio::test]
    async fn keys_unreadable_at_start_are_read_when_first_needed() {
        let t0 = datetime!(2026-12-07 10:00 UTC);
        let source = Arc::new(Rotating { keys: Mutex::new(key(3)), reads: AtomicUsize::new(0) });
        let keys = UnsubscribeKeys::new(source, None, t0);
        assert_eq!(keys.current(t0 + Duration::seconds(5)).await, None, "not before a minute");
        assert_eq!(keys.current(t0 + Duration::minutes(1)).await, Some(key(3)));
    }
}
