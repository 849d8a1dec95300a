"""Serializes records with Confluent's own AvroSerializer (confluent-kafka).

Input (stdin, JSON): {"topic": ..., "schema": <schema text>, "records": [{...}, ...]}.
The schema is registered under "<topic>-value" of the client's in-memory registry
(mock://), which gives it id 1; each record is serialized as a producer would.
Values as JSON: a decimal's value is its text, a timestamp-millis an ISO-8601 UTC text.
Output (stdout): one line per record, its bytes in hex.
"""

import datetime
import decimal
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def convert(value, t):
    if value is None:
        return None
    if isinstance(t, list):
        return convert(value, next(b for b in t if b != "null"))
    if isinstance(t, dict) and t.get("logicalType") == "decimal":
        return decimal.Decimal(value)
    if isinstance(t, dict) and t.get("logicalType", "").startswith("timestamp-") and isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def main():
    spec = json.load(sys.stdin)
    client = SchemaRegistryClient.new_client({"url": "mock://tributary-encode"})
    client.register_schema(f"{spec['topic']}-value", Schema(spec["schema"], "AVRO"))
    serialize = AvroSerializer(
        client, spec["schema"], conf={"auto.register.schemas": False, "use.latest.version": True}
    )
    ctx = SerializationContext(spec["topic"], MessageField.VALUE)
    types = {f["name"]: f["type"] for f in json.loads(spec["schema"])["fields"]}
    out = [serialize({k: convert(v, types[k]) for k, v in r.items()}, ctx).hex() for r in spec["records"]]
    sys.stdout.write("\n".join(out) + "\n")


main()
