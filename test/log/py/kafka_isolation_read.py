"""Reads every record of a topic with Confluent's Python client (confluent-kafka, on
librdkafka) at a given isolation level, to check what Kafka's own consumers see.

Usage: kafka_isolation_read.py BROKERS TOPIC read_committed|read_uncommitted
Writes JSON to stdout: a list of {"partition", "offset", "key", "value"} (key and value
as UTF-8 text), by partition and offset. Reads each partition until the client reports
its end (the last stable offset at read_committed, the high watermark otherwise), so
offsets taken by transaction markers need not be counted.
"""
import json
import sys

from confluent_kafka import Consumer, KafkaError, TopicPartition

brokers, topic, isolation = sys.argv[1], sys.argv[2], sys.argv[3]
c = Consumer({
    "bootstrap.servers": brokers,
    "group.id": "tributary-test-isolation",
    "enable.auto.commit": False,
    "enable.partition.eof": True,
    "isolation.level": isolation,
})
meta = c.list_topics(topic, timeout=20)
parts = sorted(meta.topics[topic].partitions)
c.assign([TopicPartition(topic, p, 0) for p in parts])
out = []
left = set(parts)
while left:
    m = c.poll(20)
    if m is None:
        raise SystemExit(f"timed out with partitions {sorted(left)} not read to their end")
    if m.error():
        if m.error().code() == KafkaError._PARTITION_EOF:
            left.discard(m.partition())
            continue
        raise SystemExit(str(m.error()))
    out.append({
        "partition": m.partition(),
        "offset": m.offset(),
        "key": (m.key() or b"").decode(),
        "value": (m.value() or b"").decode(),
    })
c.close()
out.sort(key=lambda r: (r["partition"], r["offset"]))
json.dump(out, sys.stdout)
