"""The local stand-ins for Lambda's event source mappings (SQS queues and the table's stream)
and for EventBridge Scheduler's rate schedules.

For each SQS event of template.yaml, several pollers long-poll the queue, hand each batch to the function
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
    def __init__(self, mappings, queues, sqs_endpoint, api_url, region, pollers=1):
        self.mappings = mappings
        self.pollers = pollers
        self.queues = queues
        self.api_url = api_url
        self.region = region
        self.sqs = boto3.client("sqs", endpoint_url=sqs_endpoint, region_name=region, aws_access_key_id="local", aws_secret_access_key="local")
        self.stopping = threading.Event()
        self.threads = []
        self.streams = []

    def add_schedule(self, mapping, speedup):
        """Invokes the function every `mapping.period / speedup` seconds, as the schedule would."""
        def run():
            while not self.stopping.wait(mapping.period / speedup):
                self.call(mapping.function, mapping.input)
        thread = threading.Thread(target=run, name=f"schedule-{mapping.function}", daemon=True)
        self.threads.append(thread)

    def add_stream(self, mapping, stream_arn, endpoints, on_failure_url):
        self.streams.append(StreamBridge(mapping, stream_arn, endpoints, self.invoke, self.region, on_failure_url))

    def start(self):
        for thread in self.threads:
            thread.start()
        for mapping in self.mappings:
            for n in range(self.pollers):
                thread = threading.Thread(target=self._run, args=(mapping,), name=f"bridge-{mapping.function}-{n}", daemon=True)
                thread.start()
                self.threads.append(thread)
        for stream in self.streams:
            stream.start()

    def stop(self):
        self.stopping.set()
        for stream in self.streams:
            stream.stop()
        for thread in self.threads:
            thread.join(timeout=5)

    def call(self, function, event):
        """The function's answer, or None when the invocation or the function failed."""
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
        return body

    def invoke(self, function, event, key="messageId"):
        """The ids of the records that failed, or None when the whole invocation failed."""
        body = self.call(function, event)
        if body is None:
            return None
        failures = body.get("batchItemFailures") or []
        ids = {f.get("itemIdentifier") for f in failures}
        known = {r[key] if key in r else r["dynamodb"][key] for r in event["Records"]}
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
            failed = self.invoke(mapping.function, event)
            if failed is None:
                continue
            done = [m for m in messages if m["MessageId"] not in failed]
            if done:
                self.sqs.delete_message_batch(QueueUrl=queue["ref"], Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])


def matches(pattern, value):
    """Whether `value` matches an event-filtering pattern: nested objects whose leaves list the
    values allowed (the subset of Lambda's filter syntax the template uses)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    return value in pattern


def _attribute(value):
    """An attribute value as DynamoDB Streams writes it: DynamoDB Local's stream writes an empty
    map as `{}` where AWS writes `{"M": {}}`."""
    if value == {}:
        return {"M": {}}
    if "M" in value:
        return {"M": {k: _attribute(v) for k, v in value["M"].items()}}
    if "L" in value:
        return {"L": [_attribute(v) for v in value["L"]]}
    return value


def _stream_record(record, stream_arn, region):
    change = dict(record["dynamodb"])
    for image in ("NewImage", "OldImage", "Keys"):
        if image in change:
            change[image] = {k: _attribute(v) for k, v in change[image].items()}
    created = change.get("ApproximateCreationDateTime")
    if hasattr(created, "timestamp"):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {"eventID": record["eventID"], "eventName": record["eventName"], "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": change, "eventSourceARN": stream_arn}


class StreamBridge:
    """The local stand-in for Lambda's DynamoDB Streams event source mapping: reads every shard of
    the table's stream in order, hands the records that pass the mapping's filters to the function
    in batches, retries from the first record the function reports failed (`batchItemFailures`),
    and after `MaximumRetryAttempts` sends that record to the on-failure queue and goes on."""

    def __init__(self, mapping, stream_arn, endpoints, invoke, region, on_failure_url=None):
        self.mapping, self.stream_arn, self.invoke, self.region = mapping, stream_arn, invoke, region
        self.on_failure_url = on_failure_url
        credentials = {"region_name": region, "aws_access_key_id": "local", "aws_secret_access_key": "local"}
        self.streams = boto3.client("dynamodbstreams", endpoint_url=endpoints["dynamodb"], **credentials)
        self.sqs = boto3.client("sqs", endpoint_url=endpoints["moto"], **credentials)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"stream-{mapping.function}", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=5)

    def _deliver(self, records):
        """Hands `records` to the function until they are all done or given up on."""
        attempts = 0
        while records and not self.stopping.is_set():
            event = {"Records": [_stream_record(r, self.stream_arn, self.region) for r in records]}
            failed = self.invoke(self.mapping.function, event, key="SequenceNumber")
            if failed is not None and not failed:
                return
            # The whole batch failed, or from the first record reported.
            at = 0 if failed is None else min(i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed)
            attempts += 1
            if attempts > self.mapping.max_retries:
                if self.on_failure_url:
                    self.sqs.send_message(QueueUrl=self.on_failure_url, MessageBody=json.dumps(event["Records"][at], default=str))
                print(f"[bridge] {self.mapping.function}: gave up on stream record {records[at]['dynamodb']['SequenceNumber']}", flush=True)
                records, attempts = records[at + 1:], 0
            else:
                records = records[at:]
                self.stopping.wait(min(2 ** attempts * 0.1, 5))

    def _iterator(self, shard_id, after):
        """An iterator of the shard: after the last record read, or from its oldest."""
        if after:
            return self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                                   ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=after)["ShardIterator"]
        return self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def _run(self):
        iterators, last_read = {}, {}
        while not self.stopping.is_set():
            try:
                shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
                for shard in shards:
                    if shard["ShardId"] not in iterators:
                        iterators[shard["ShardId"]] = self._iterator(shard["ShardId"], None)
                busy = False
                for shard_id, iterator in list(iterators.items()):
                    if iterator is None:
                        continue
                    try:
                        out = self.streams.get_records(ShardIterator=iterator, Limit=self.mapping.batch_size)
                    except (self.streams.exceptions.TrimmedDataAccessException,
                            self.streams.exceptions.ExpiredIteratorException):
                        # An iterator idle for a while goes stale in DynamoDB Local: take a new
                        # one where reading stopped.
                        try:
                            iterators[shard_id] = self._iterator(shard_id, last_read.get(shard_id))
                        except self.streams.exceptions.TrimmedDataAccessException:
                            # Trimmed past it too: from the oldest (routing twice changes nothing).
                            iterators[shard_id] = self._iterator(shard_id, None)
                        continue
                    iterators[shard_id] = out.get("NextShardIterator")
                    if out.get("Records"):
                        last_read[shard_id] = out["Records"][-1]["dynamodb"]["SequenceNumber"]
                    records = [r for r in out.get("Records", []) if any(matches(f, r) for f in self.mapping.filters)]
                    busy = busy or bool(out.get("Records"))
                    self._deliver(records)
            except Exception as e:  # noqa: BLE001 - DynamoDB Local going away, or busy
                if not self.stopping.is_set():
                    print(f"[bridge] stream of {self.mapping.function}: {e}", flush=True)
                self.stopping.wait(1)
                continue
            if not busy:
                self.stopping.wait(0.2)
