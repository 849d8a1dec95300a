"""Decodes framed Avro records with Confluent's own deserializer (confluent-kafka).

Input (stdin, JSON): {"topic": ..., "schemas": [<schema text>, ...], "records": [<hex>, ...]}.
The schemas are registered, in order, under "<topic>-value" of the client's in-memory
registry (mock://), which numbers them from 1 as ours does; each record is then
deserialized by AvroDeserializer, which reads the schema id from the record's header.
Output (stdout, JSON): the records as objects, values normalised: decimals as text,
timestamps as ISO-8601 UTC with microseconds, dates as yyyy-mm-dd, bytes as hex.
"""

import datetime
import decimal
import json
import sys
import uuid

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def norm(v):
    if isinstance(v, decimal.Decimal):
        return format(v, "f")
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return v.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, (bytes, bytearray)):
        return bytes(v).hex()
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, int) and abs(v) > 2**53:
        return str(v)
    return v


def main():
    spec = json.load(sys.stdin)
    client = SchemaRegistryClient.new_client({"url": "mock://tributary-test"})
    ids = [client.register_schema(f"{spec['topic']}-value", Schema(s, "AVRO")) for s in spec["schemas"]]
    deserialize = AvroDeserializer(client)
    ctx = SerializationContext(spec["topic"], MessageField.VALUE)
    out = []
    for h in spec["records"]:
        record = deserialize(bytes.fromhex(h), ctx)
        out.append({k: norm(v) for k, v in record.items()})
    json.dump({"ids": ids, "records": out}, sys.stdout)


main()
