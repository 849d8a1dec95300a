"""Confluent's Python client (confluent-kafka: its schema-registry client, Avro serializer
and deserializer, Producer and DeserializingConsumer) for the saas-* scenario tests.

One process per test: it reads one JSON request per line on stdin and answers each with
one JSON line on stdout, so a test can ask it to produce, run the pipeline, then ask it
to consume. Requests ({"action": ...}):
- decode {url, topic, records: [hex]}: each framed record through AvroDeserializer,
  which fetches the writer schema by the record's id from the registry at `url`;
- evolve {url, subject, v1, v2, v3}: register v1, test and register v2, get v3 refused;
- produce {url, brokers, topic, schema, records}: a Producer with AvroSerializer (schema
  auto-registered), each record keyed by its account_id; amounts as decimal text,
  timestamps as epoch ms; flushed before answering;
- consume {url, brokers, topic, count}: a DeserializingConsumer with AvroDeserializer
  from the earliest offsets until `count` records were read.
Values come back normalised: decimals as text, datetimes as ISO 8601 UTC with µs.
"""

import datetime
import decimal
import json
import sys
import uuid

from confluent_kafka import DeserializingConsumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext, StringDeserializer


def norm(v):
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    return v


def decode(req):
    client = SchemaRegistryClient({"url": req["url"]})
    des = AvroDeserializer(client)
    ctx = SerializationContext(req["topic"], MessageField.VALUE)
    return {"records": [norm(des(bytes.fromhex(h), ctx)) for h in req["records"]]}


def evolve(req):
    client = SchemaRegistryClient({"url": req["url"]})
    subject = req["subject"]
    out = {"id1": client.register_schema(subject, Schema(req["v1"], "AVRO"))}
    out["v2_compatible"] = client.test_compatibility(subject, Schema(req["v2"], "AVRO"))
    out["id2"] = client.register_schema(subject, Schema(req["v2"], "AVRO"))
    out["v3_compatible"] = client.test_compatibility(subject, Schema(req["v3"], "AVRO"))
    try:
        out["v3"] = {"id": client.register_schema(subject, Schema(req["v3"], "AVRO"))}
    except SchemaRegistryError as e:
        out["v3"] = {"status": e.http_status_code, "code": e.error_code, "message": e.error_message}
    out["versions"] = client.get_versions(subject)
    return out


def produce(req):
    client = SchemaRegistryClient({"url": req["url"]})
    # Written as a producer in the wild does: the schema registered (or found) by the serializer.
    ser = AvroSerializer(client, req["schema"], conf={"auto.register.schemas": True})
    p = Producer({"bootstrap.servers": req["brokers"], "enable.idempotence": True, "linger.ms": 5})
    ctx = SerializationContext(req["topic"], MessageField.VALUE)
    failures = []

    def done(err, _msg):
        if err is not None:
            failures.append(str(err))

    for r in req["records"]:
        value = dict(r)
        value["amount"] = decimal.Decimal(value["amount"])
        for k in ("event_time", "ingest_time"):
            value[k] = datetime.datetime.fromtimestamp(value[k] / 1000, tz=datetime.timezone.utc)
        p.produce(req["topic"], key=r["account_id"].encode(), value=ser(value, ctx), on_delivery=done)
        p.poll(0)
    left = p.flush(60)
    if left or failures:
        raise RuntimeError(f"{left} records not delivered; failures: {failures[:3]}")
    return {"produced": len(req["records"])}


def consume(req):
    client = SchemaRegistryClient({"url": req["url"]})
    c = DeserializingConsumer(
        {
            "bootstrap.servers": req["brokers"],
            "group.id": f"saas-confluent-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "key.deserializer": StringDeserializer("utf_8"),
            "value.deserializer": AvroDeserializer(client),
        }
    )
    c.subscribe([req["topic"]])
    out = []
    deadline = datetime.datetime.now() + datetime.timedelta(seconds=60)
    while len(out) < req["count"]:
        if datetime.datetime.now() > deadline:
            raise RuntimeError(f"read {len(out)} of {req['count']} records in 60 s")
        m = c.poll(1)
        if m is None:
            continue
        if m.error():
            raise RuntimeError(str(m.error()))
        headers = {k: v.decode() for k, v in (m.headers() or [])}
        out.append(
            {
                "partition": m.partition(),
                "offset": m.offset(),
                "key": m.key(),
                "plan": headers.get("tributary-plan"),
                "value": norm(m.value()),
            }
        )
    c.close()
    return {"records": out}


ACTIONS = {"decode": decode, "evolve": evolve, "produce": produce, "consume": consume}

for line in sys.stdin:
    if not line.strip():
        continue
    req = json.loads(line)
    try:
        answer = {"ok": ACTIONS[req["action"]](req)}
    except Exception as err:  # the test reports it
        answer = {"error": f"{type(err).__name__}: {err}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
