use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;

use crate::ports::{ByteStream, ObjectMeta, ObjectStore, ObjectStoreError, PresignedUpload};

/// An object's bytes (shared, so opening a large list copies nothing) and its content type.
type Object = (Arc<[u8]>, String);

#[derive(Debug, Default, Clone)]
pub struct MemoryObjectStore {
    objects: Arc<Mutex<HashMap<String, Object>>>,
}

impl MemoryObjectStore {
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(key).map(|(body, _)| body.to_vec())
    }
}

impl ObjectStore for MemoryObjectStore {
    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        now: OffsetDateTime,
        expires_in: Duration,
    ) -> Result<PresignedUpload, ObjectStoreError> {
        Ok(PresignedUpload {
            url: format!("memory://uploads/{key}?expires={}", expires_in.as_secs()),
            method: "PUT".into(),
            headers: vec![
                ("content-type".into(), content_type.into()),
                ("content-length".into(), content_length.to_string()),
            ],
            expires_at: now + expires_in,
        })
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectMeta>, ObjectStoreError> {
        Ok(self.objects.lock().unwrap().get(key).map(|(body, content_type)| ObjectMeta {
            size: body.len() as u64,
            content_type: Some(content_type.clone()),
        }))
    }

    async fn open(&self, key: &str, from: u64) -> Result<ByteStream, ObjectStoreError> {
        let body = self.objects.lock().unwrap().get(key).map(|(body, _)| body.clone());
        let body = body.ok_or_else(|| ObjectStoreError::NotFound(key.to_string()))?;
        let mut cursor = std::io::Cursor::new(body);
        cursor.set_position(from.min(cursor.get_ref().len() as u64));
        Ok(Box::pin(cursor))
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), ObjectStoreError> {
        self.objects.lock().unwrap().insert(key.to_string(), (body.into(), content_type.to_string()));
        Ok(())
    }
}
