"""The local stand-in for Lambda's SQS event source mapping.

For each SQS event of template.yaml it long-polls the queue, hands each batch to the function
through `cargo lambda watch`'s invoke API, then deletes the messages that succeeded. Failed
messages (listed in `batchItemFailures`, or the whole batch when the invocation fails) stay
on the queue: they come back after the visibility timeout, and SQS's redrive policy moves
them to the dead-letter queue after `maxReceiveCount` receives - as on AWS.
"""

import json
import threading
import urllib.error
import urllib.request

import boto3


def _record(message, queue_arn, region):
    attributes = message.get("MessageAttributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {"stringValue": a.get("StringValue"), "binaryValue": a.get("BinaryValue"), "dataType": a["DataType"],
                   "stringListValues": [], "binaryListValues": []}
            for name, a in attributes.items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


class Bridge:
    def __init__(self, mappings, queues, sqs_endpoint, api_url, region):
        self.mappings = mappings
        self.queues = queues
        self.api_url = api_url
        self.region = region
        self.sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name=region, aws_access_key_id="local", aws_secret_access_key="local")
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for mapping in self.mappings:
            thread = threading.Thread(target=self._run, args=(mapping,), name=f"bridge-{mapping.function}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def _invoke(self, function, event):
        """The ids of the messages that failed, or None when the whole invocation failed."""
        request = urllib.request.Request(f"{self.api_url}/2015-03-31/functions/{function}/invocations", data=json.dumps(event).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=900) as response:
                body = json.loads(response.read() or b"null")
        except (urllib.error.URLError, OSError, ValueError) as e:
            print(f"[bridge] {function}: invocation failed: {e}", flush=True)
            return None
        if not isinstance(body, dict) or "errorType" in body or "errorMessage" in body:
            print(f"[bridge] {function}: function error: {body}", flush=True)
            return None
        failures = body.get("batchItemFailures") or []
        ids = {f.get("itemIdentifier") for f in failures}
        known = {r["messageId"] for r in event["Records"]}
        # As on AWS: an unknown or empty identifier fails the whole batch.
        return ids if ids <= known else None

    def _run(self, mapping):
        queue = self.queues[mapping.queue]
        while not self.stopping.is_set():
            try:
                received = self.sqs.receive_message(QueueUrl=queue["ref"], MaxNumberOfMessages=min(10, mapping.batch_size), WaitTimeSeconds=1,
                                                    AttributeNames=["All"], MessageAttributeNames=["All"])
            except Exception as e:  # noqa: BLE001 - the emulator is going away, or busy
                if not self.stopping.is_set():
                    print(f"[bridge] {mapping.queue}: receive failed: {e}", flush=True)
                    self.stopping.wait(1)
                continue
            messages = received.get("Messages", [])
            if not messages:
                continue
            event = {"Records": [_record(m, queue["arn"], self.region) for m in messages]}
            failed = self._invoke(mapping.function, event)
            if failed is None:
                continue
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(QueueUrl=queue["ref"], Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
