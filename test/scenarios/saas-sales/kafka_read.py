"""Reads every record of a topic with Confluent's Python client (confluent-kafka).

Usage: kafka_read.py BROKERS TOPIC. Writes JSON to stdout: a list of
{"partition", "offset", "key", "value"} with key and value base64, by partition and offset.
"""
import base64
import json
import sys

from confluent_kafka import Consumer, TopicPartition

brokers, topic = sys.argv[1], sys.argv[2]
c = Consumer({"bootstrap.servers": brokers, "group.id": "tributary-test-read", "enable.auto.commit": False})
meta = c.list_topics(topic, timeout=20)
parts = sorted(meta.topics[topic].partitions)
ends = {}
for p in parts:
    low, high = c.get_watermark_offsets(TopicPartition(topic, p), timeout=20)
    ends[p] = high
c.assign([TopicPartition(topic, p, 0) for p in parts])
out = []
left = sum(ends.values())
while left > 0:
    m = c.poll(10)
    if m is None:
        raise SystemExit(f"timed out with {left} records left")
    if m.error():
        raise SystemExit(str(m.error()))
    out.append({
        "partition": m.partition(),
        "offset": m.offset(),
        "key": base64.b64encode(m.key() or b"").decode(),
        "value": base64.b64encode(m.value() or b"").decode(),
    })
    left -= 1
c.close()
out.sort(key=lambda r: (r["partition"], r["offset"]))
json.dump(out, sys.stdout)
