use std::time::Duration;

use fanmail_common::aws::{s3_client, S3ObjectStore};
use fanmail_common::ports::{Clock, ObjectStore, ObjectStoreError};
use fanmail_common::system::SystemClock;
use tokio::io::AsyncReadExt;

use crate::support::{http, stack};

async fn store() -> S3ObjectStore {
    let (sdk, stack) = stack().await;
    S3ObjectStore::new(s3_client(&sdk), stack.reference("UploadBucket").unwrap())
}

#[tokio::test]
async fn objects_round_trip_and_stream_from_an_offset() {
    let store = store().await;
    store.put("lists/a.csv", b"email\nx@example.com\n".to_vec(), "text/csv").await.unwrap();
    let meta = store.head("lists/a.csv").await.unwrap().unwrap();
    assert_eq!(meta.size, 20);
    assert_eq!(meta.content_type.as_deref(), Some("text/csv"));
    let mut rest = String::new();
    store.open("lists/a.csv", 6).await.unwrap().read_to_string(&mut rest).await.unwrap();
    assert_eq!(rest, "x@example.com\n");
}

#[tokio::test]
async fn a_missing_object_is_none_on_head_and_not_found_on_open() {
    let store = store().await;
    assert!(store.head("lists/missing.csv").await.unwrap().is_none());
    assert!(matches!(store.open("lists/missing.csv", 0).await, Err(ObjectStoreError::NotFound(_))));
}

#[tokio::test]
async fn a_presigned_put_is_path_style_signs_type_and_length_and_uploads() {
    let store = store().await;
    let body = b"email,name\nkim@example.com,Kim\n".to_vec();
    let length = body.len() as u64;
    let presigned = store
        .presign_put("lists/p.csv", "text/csv", length, SystemClock.now(), Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(presigned.method, "PUT");
    assert!(presigned.url.starts_with("http://127.0.0.1:"), "{}", presigned.url);
    assert!(presigned.url.contains("/lists/p.csv?"), "path-style URL expected: {}", presigned.url);
    assert!(presigned.url.contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost"), "{}", presigned.url);
    assert!(presigned.url.contains("X-Amz-Expires=900"));
    let headers: Vec<(&str, &str)> = presigned.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let response = http("PUT", &presigned.url, &headers, body.clone()).await;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    assert_eq!(store.head("lists/p.csv").await.unwrap().unwrap().size, body.len() as u64);
}

#[tokio::test]
async fn a_presigned_put_is_signed_at_the_given_time() {
    let store = store().await;
    let at = time::macros::datetime!(2031-02-03 04:05:06 UTC);
    let presigned = store.presign_put("lists/q.csv", "text/csv", 10, at, Duration::from_secs(600)).await.unwrap();
    assert!(presigned.url.contains("X-Amz-Date=20310203T040506Z"), "{}", presigned.url);
    assert!(presigned.url.contains("X-Amz-Expires=600"), "{}", presigned.url);
    assert_eq!(presigned.expires_at, at + Duration::from_secs(600));
}
