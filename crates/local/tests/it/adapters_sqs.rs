use aws_sdk_sqs::Client;
use fanmail_common::aws::SqsQueue;
use fanmail_common::ports::{OutgoingMessage, Queue, QueueError};

use crate::support::stack;

async fn drain(client: &Client, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let out = client.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        if out.messages().is_empty() {
            return bodies;
        }
        for m in out.messages() {
            bodies.push(m.body().unwrap().to_string());
            client.delete_message().queue_url(url).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
}

#[tokio::test]
async fn send_all_places_every_message_in_batches_of_ten() {
    let (sdk, stack) = stack().await;
    let client = Client::new(&sdk);
    let url = stack.reference("RecipientsQueue").unwrap();
    let queue = SqsQueue::new(client.clone(), url);
    let messages: Vec<_> = (0..25).map(|i| OutgoingMessage::new(format!("m{i}"), format!("body-{i}"))).collect();
    queue.send_all(&messages).await.unwrap();
    let mut bodies = drain(&client, url).await;
    bodies.sort();
    let mut expected: Vec<_> = (0..25).map(|i| format!("body-{i}")).collect();
    expected.sort();
    assert_eq!(bodies, expected);
}

#[tokio::test]
async fn ten_large_messages_are_sent_in_batches_within_sqss_size_limit() {
    let (sdk, stack) = stack().await;
    let client = Client::new(&sdk);
    let url = stack.reference("RecipientsQueue").unwrap();
    let queue = SqsQueue::new(client.clone(), url);
    // Rows with large fields: 1.1 MiB together, over any SQS queue's limit for one batch.
    let messages: Vec<_> =
        (0..10).map(|i| OutgoingMessage::new(format!("m{i}"), format!("{i}{}", "x".repeat(110 * 1024)))).collect();
    queue.send_all(&messages).await.unwrap();
    assert_eq!(drain(&client, url).await.len(), 10);
}

#[tokio::test]
async fn an_oversized_message_is_refused_before_sending_anything() {
    let (sdk, stack) = stack().await;
    let client = Client::new(&sdk);
    let url = stack.reference("RecipientsQueue").unwrap();
    let queue = SqsQueue::new(client.clone(), url);
    let big = OutgoingMessage::new("big", "x".repeat(300 * 1024));
    let err = queue.send_all(&[OutgoingMessage::new("ok", "small"), big]).await.unwrap_err();
    assert!(matches!(err, QueueError::TooLarge { ref id, .. } if id == "big"), "{err}");
    assert!(drain(&client, url).await.is_empty());
}

#[tokio::test]
async fn a_queue_that_does_not_exist_reports_every_entry_as_failed() {
    let (sdk, _stack) = stack().await;
    let queue = SqsQueue::new(Client::new(&sdk), "http://127.0.0.1:1/123456789012/none");
    let err = queue.send_all(&[OutgoingMessage::new("a", "1"), OutgoingMessage::new("b", "2")]).await.unwrap_err();
    match err {
        QueueError::Partial { failed_ids, .. } => assert_eq!(failed_ids, ["a", "b"]),
        other => panic!("expected Partial, got {other}"),
    }
}

#[tokio::test]
async fn a_message_sent_in_a_group_carries_its_group_on_the_standard_queue() {
    use aws_sdk_sqs::types::MessageSystemAttributeName;
    let (sdk, stack) = stack().await;
    let client = Client::new(&sdk);
    let url = stack.reference("RecipientsQueue").unwrap();
    let queue = SqsQueue::new(client.clone(), url);
    queue.send_all(&[OutgoingMessage::new("m", "grouped").in_group("campaign-7")]).await.unwrap();
    let out = client
        .receive_message()
        .queue_url(url)
        .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
        .send()
        .await
        .unwrap();
    let message = &out.messages()[0];
    let group = message.attributes().and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId));
    assert_eq!(group.map(String::as_str), Some("campaign-7"));
    client.delete_message().queue_url(url).receipt_handle(message.receipt_handle().unwrap()).send().await.unwrap();
}
