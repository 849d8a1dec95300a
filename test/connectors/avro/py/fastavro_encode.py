"""Frames records the way Confluent's Avro serializer does, with fastavro as the encoder.

Input (stdin, JSON): {"schemas": {"<id>": <schema>}, "records": [{"id": <id>, "value": {...}}]}.
Values are JSON: a decimal field's value is its text ("12.30"), a timestamp-millis or
-micros field's value is an ISO-8601 UTC text or epoch number in the field's unit.
Output (stdout): one line per record, the framed bytes in hex (byte 0, the id as 4 bytes
big-endian, the Avro body).
"""

import datetime
import decimal
import io
import json
import struct
import sys

import fastavro


def logical(t):
    if isinstance(t, dict):
        return t.get("logicalType")
    return None


def convert(value, t):
    if value is None:
        return None
    if isinstance(t, list):
        branch = next(b for b in t if b != "null")
        return convert(value, branch)
    lt = logical(t)
    if lt == "decimal":
        return decimal.Decimal(value)
    if lt in ("timestamp-millis", "timestamp-micros") and isinstance(value, str):
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def main():
    spec = json.load(sys.stdin)
    schemas = {int(k): fastavro.parse_schema(v) for k, v in spec["schemas"].items()}
    raw = {int(k): v for k, v in spec["schemas"].items()}
    out = []
    for r in spec["records"]:
        sid = r["id"]
        fields = {f["name"]: f["type"] for f in raw[sid]["fields"]}
        value = {k: convert(v, fields[k]) for k, v in r["value"].items()}
        buf = io.BytesIO()
        buf.write(b"\x00" + struct.pack(">I", sid))
        fastavro.schemaless_writer(buf, schemas[sid], value)
        out.append(buf.getvalue().hex())
    sys.stdout.write("\n".join(out) + "\n")


main()
