"""Decodes Confluent-framed Avro records with fastavro, independently of our code.

Reads JSON from stdin: {"schemas": {"<id>": "<schema text>"}, "records": ["<base64>", ...],
"resolve": [{"record": i, "reader": "<schema text>"}]} and writes JSON to stdout:
{"records": [...], "resolve": [...]}. Each record gives {"ok": true, "id", "value",
"rest"} (rest: bytes left after the record) or {"ok": false, "stage": "frame" | "id" |
"decode", "error"}. Values are JSON-friendly: decimals as text, timestamps as epoch
milliseconds, UUIDs as text. Each "resolve" entry decodes record i (its writer schema
by id) with the reader schema given: Avro schema resolution.
"""
import base64
import datetime
import decimal
import io
import json
import sys
import uuid

import fastavro


def plain(v):
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, datetime.datetime):
        return int(round(v.timestamp() * 1000))
    if isinstance(v, uuid.UUID):
        return str(v)
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def main():
    req = json.load(sys.stdin)
    schemas = {int(k): fastavro.parse_schema(json.loads(t)) for k, t in req["schemas"].items()}
    out = []
    bodies = []
    for b64 in req["records"]:
        raw = base64.b64decode(b64)
        bodies.append(None)
        if len(raw) < 5 or raw[0] != 0:
            out.append({"ok": False, "stage": "frame", "error": f"{len(raw)} bytes, first {raw[:1].hex()}"})
            continue
        sid = int.from_bytes(raw[1:5], "big")
        if sid not in schemas:
            out.append({"ok": False, "stage": "id", "error": f"unknown schema id {sid}"})
            continue
        fo = io.BytesIO(raw[5:])
        try:
            value = fastavro.schemaless_reader(fo, schemas[sid])
        except Exception as e:  # noqa: BLE001 - any failure is the answer
            out.append({"ok": False, "stage": "decode", "error": f"{type(e).__name__}: {e}"})
            continue
        bodies[-1] = (sid, raw[5:])
        out.append({"ok": True, "id": sid, "value": plain(value), "rest": len(raw) - 5 - fo.tell()})
    resolved = []
    for r in req.get("resolve", []):
        sid, body = bodies[r["record"]]
        reader = fastavro.parse_schema(json.loads(r["reader"]))
        try:
            value = fastavro.schemaless_reader(io.BytesIO(body), schemas[sid], reader)
            resolved.append({"ok": True, "value": plain(value)})
        except Exception as e:  # noqa: BLE001
            resolved.append({"ok": False, "error": f"{type(e).__name__}: {e}"})
    json.dump({"records": out, "resolve": resolved}, sys.stdout)


main()
