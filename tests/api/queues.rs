//! The job queues speak SQS's JSON protocol themselves (the suite's other tests run them against
//! moto): batches of at most ten, delays capped at SQS's fifteen minutes, signed requests, and
//! a message SQS refuses is an error, not a job silently lost.

use std::time::Duration;

use serde_json::json;
use switchboard_sqs::SqsQueue;
use switchboard_tests::fake::FakeServer;

const QUEUE: &str = "https://sqs.us-east-1.amazonaws.com/123456789012/jobs";

#[tokio::test]
async fn jobs_go_out_in_signed_batches_of_ten_with_their_delay() {
    let sqs = FakeServer::start(|_, _| {
        (
            200,
            "application/x-amz-json-1.0",
            r#"{"Successful":[],"Failed":[]}"#.into(),
        )
    })
    .await;
    let sdk = switchboard_runtime::sdk_config().await;
    let queue = SqsQueue::new(&sdk, Some(&sqs.url), QUEUE);
    let jobs: Vec<_> = (0..23).map(|n| json!({"job": n})).collect();
    queue.send(&jobs, Duration::from_secs(20 * 60)).await.unwrap();

    let sent = sqs.requests();
    let batches: Vec<usize> = sent
        .iter()
        .map(|r| r.json()["Entries"].as_array().unwrap().len())
        .collect();
    assert_eq!(batches, vec![10, 10, 3]);
    let first = &sent[0];
    assert_eq!(first.header("x-amz-target"), Some("AmazonSQS.SendMessageBatch"));
    assert_eq!(first.header("content-type"), Some("application/x-amz-json-1.0"));
    assert!(
        first.header("authorization").unwrap().contains("/sqs/aws4_request"),
        "signed for SQS"
    );
    let body = first.json();
    assert_eq!(body["QueueUrl"], QUEUE);
    assert_eq!(body["Entries"][0]["DelaySeconds"], 900, "SQS's longest delay");
    assert_eq!(body["Entries"][9]["Id"], "9");
    let bodies: Vec<String> = sent
        .iter()
        .flat_map(|r| r.json()["Entries"].as_array().unwrap().clone())
        .map(|entry| entry["MessageBody"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bodies[22], r#"{"job":22}"#);
}

#[tokio::test]
async fn a_message_sqs_refuses_is_an_error() {
    let sqs = FakeServer::start(|_, _| {
        (
            200,
            "application/x-amz-json-1.0",
            r#"{"Successful":[],"Failed":[{"Id":"0","Code":"InvalidParameterValue","SenderFault":true}]}"#.into(),
        )
    })
    .await;
    let sdk = switchboard_runtime::sdk_config().await;
    let err = SqsQueue::new(&sdk, Some(&sqs.url), QUEUE)
        .send(&[json!({"job": 1})], Duration::ZERO)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("InvalidParameterValue"), "{err:#}");

    let missing = FakeServer::start(|_, _| {
        (
            400,
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#
                .into(),
        )
    })
    .await;
    let err = SqsQueue::new(&sdk, Some(&missing.url), QUEUE)
        .send(&[json!({"job": 1})], Duration::ZERO)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("QueueDoesNotExist"), "{err:#}");
    assert_eq!(missing.requests().len(), 1, "a refusal is not sent again");
}
