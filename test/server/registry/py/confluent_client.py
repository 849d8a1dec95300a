"""Python's confluent-kafka (its schema-registry client and Avro serde) against a
registry, for test/server/registry/python-client.test.ts. Reads one JSON request on
stdin ({"action": ..., "url": ..., ...}) and prints one JSON answer on stdout."""

import datetime
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext


def plain(value):
    """Timestamps decoded by fastavro as datetimes, back to epoch milliseconds."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def error(err):
    return {"status": err.http_status_code, "code": err.error_code, "message": err.error_message}


def produce(client, req):
    """Serializes records as a producer would (auto-registering the schema)."""
    ser = AvroSerializer(client, req["schema"], conf={"auto.register.schemas": True})
    ctx = SerializationContext(req["topic"], MessageField.VALUE)
    return {"messages": [ser(r, ctx).hex() for r in req["records"]]}


def consume(client, req):
    """Deserializes messages as a consumer would (writer schema fetched by id)."""
    des = AvroDeserializer(client, req.get("reader_schema"))
    ctx = SerializationContext(req["topic"], MessageField.VALUE)
    return {"records": [plain(des(bytes.fromhex(m), ctx)) for m in req["messages"]]}


def evolve(client, req):
    """Registers v1 and v2, checks compatibility, is refused v3; reports what it saw."""
    subject = req["subject"]
    out = {}
    out["id1"] = client.register_schema(subject, Schema(req["v1"], "AVRO"))
    out["id1_again"] = client.register_schema(subject, Schema(req["v1"], "AVRO"))
    out["v2_compatible"] = client.test_compatibility(subject, Schema(req["v2"], "AVRO"))
    out["v2_compatible_all"] = client.test_compatibility_all_versions(subject, Schema(req["v2"], "AVRO"))
    out["id2"] = client.register_schema(subject, Schema(req["v2"], "AVRO"))
    out["v3_compatible"] = client.test_compatibility(subject, Schema(req["v3"], "AVRO"))
    try:
        client.register_schema(subject, Schema(req["v3"], "AVRO"))
        out["v3"] = "registered"
    except SchemaRegistryError as e:
        out["v3"] = error(e)
    latest = client.get_latest_version(subject)
    out["latest"] = {"id": latest.schema_id, "version": latest.version, "schema": latest.schema.schema_str}
    out["versions"] = client.get_versions(subject)
    found = client.lookup_schema(subject, Schema(req["v1"], "AVRO"))
    out["lookup_v1"] = {"id": found.schema_id, "version": found.version}
    out["by_id"] = client.get_schema(out["id1"]).schema_str
    out["subjects"] = client.get_subjects()
    return out


def admin(client, req):
    """Configuration and deletes, as CI tools do them."""
    subject = req["subject"]
    out = {}
    out["global"] = client.get_compatibility()
    out["set_subject"] = client.set_compatibility(subject, "FULL")
    out["subject"] = client.get_compatibility(subject)
    out["soft_deleted"] = client.delete_subject(subject)
    out["subjects_after_soft"] = client.get_subjects()
    try:
        client.get_latest_version(subject)
        out["latest_after_soft"] = "found"
    except SchemaRegistryError as e:
        out["latest_after_soft"] = error(e)
    out["permanently_deleted"] = client.delete_subject(subject, permanent=True)
    try:
        client.get_compatibility(subject)
        out["subject_config_after_permanent"] = "found"
    except SchemaRegistryError as e:
        out["subject_config_after_permanent"] = error(e)
    return out


ACTIONS = {"produce": produce, "consume": consume, "evolve": evolve, "admin": admin}

if __name__ == "__main__":
    request = json.load(sys.stdin)
    client = SchemaRegistryClient({"url": request["url"]})
    print(json.dumps(ACTIONS[request["action"]](client, request)))
