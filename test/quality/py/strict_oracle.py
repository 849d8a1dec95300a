"""An independent judge of records against a Tributary data contract, and of the table
the orders pipeline made from them.

Python's own JSON parser (strict: no NaN, no duplicate keys through object_pairs_hook,
exact decimals through parse_float=Decimal) and plain Python rules decide which records
are valid. With a table path, delta-rs reads orders_events and every valid record is
compared, column by column, with its row.

usage: strict_oracle.py <records file> <contract json> [<orders_events table path>]

The records file holds, per record: partition (u32 LE), offset (u64 LE), length (u32 LE,
0xffffffff for a null value) and the bytes. Prints one JSON object:
{"valid": n, "invalid": [[partition, offset], ...], "problems": [...], "rows": n}
"""

import datetime
import json
import re
import struct
import sys
from decimal import Decimal

MAX_DEPTH = 64
MAX_SAFE = 2**53 - 1

sys.set_int_max_str_digits(0)
sys.setrecursionlimit(20000)


class Invalid(Exception):
    pass


def no_duplicates(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise Invalid(f"duplicate key {k!r}")
        seen.add(k)
    return dict(pairs)


def no_constant(name):
    raise Invalid(f"{name} is not JSON")


def depth(v):
    if isinstance(v, dict):
        return 1 + max((depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((depth(x) for x in v), default=0)
    return 0


def strings_ok(v):
    """Every string and key must be Unicode text (no lone surrogate from an escape)."""
    if isinstance(v, str):
        v.encode("utf-8")
    elif isinstance(v, dict):
        for k, x in v.items():
            k.encode("utf-8")
            strings_ok(x)
    elif isinstance(v, list):
        for x in v:
            strings_ok(x)


def parse(raw):
    if raw is None or len(raw) == 0:
        raise Invalid("empty")
    text = raw.decode("utf-8")  # strict: invalid UTF-8 raises
    v = json.loads(
        text,
        object_pairs_hook=no_duplicates,
        parse_float=Decimal,
        parse_constant=no_constant,
    )
    if not isinstance(v, dict):
        raise Invalid("not an object")
    if depth(v) > MAX_DEPTH:
        raise Invalid("too deep")
    strings_ok(v)
    return v


def is_number(x):
    return isinstance(x, (int, Decimal)) and not isinstance(x, bool)


def check_field(spec, v):
    """The value's typed form, or raises Invalid."""
    name = spec["name"]
    required = spec.get("required", True)
    if v is None:
        if required:
            raise Invalid(f"{name} missing")
        return None
    t = spec["type"]
    if t == "string":
        if not isinstance(v, str):
            raise Invalid(f"{name} not a string")
    elif t == "boolean":
        if not isinstance(v, bool):
            raise Invalid(f"{name} not a boolean")
    elif t in ("integer", "number"):
        if not is_number(v):
            raise Invalid(f"{name} not a number")
        d = Decimal(v)
        if not d.is_finite() or abs(float(d)) == float("inf"):
            raise Invalid(f"{name} out of double range")
        if t == "integer":
            if d != d.to_integral_value():
                raise Invalid(f"{name} not an integer")
            if abs(d) > MAX_SAFE:
                raise Invalid(f"{name} beyond 2^53")
            v = int(d)
        else:
            if "decimals" in spec:
                exp = d.normalize().as_tuple().exponent if d != 0 else 0
                if -exp > spec["decimals"]:
                    raise Invalid(f"{name} too many decimals")
            v = d
        if "min" in spec and d < Decimal(str(spec["min"])):
            raise Invalid(f"{name} below min")
        if "max" in spec and d > Decimal(str(spec["max"])):
            raise Invalid(f"{name} above max")
    elif t == "array":
        if not isinstance(v, list):
            raise Invalid(f"{name} not an array")
        if "minItems" in spec and len(v) < spec["minItems"]:
            raise Invalid(f"{name} too few items")
        if "items" in spec:
            out = []
            for e in v:
                if not isinstance(e, dict):
                    raise Invalid(f"{name} element not an object")
                out.append({s["name"]: check_field(s, e.get(s["name"])) for s in spec["items"]})
            v = out
    elif t == "object":
        if not isinstance(v, dict):
            raise Invalid(f"{name} not an object")
    if "enum" in spec and v not in spec["enum"]:
        raise Invalid(f"{name} not in enum")
    if "pattern" in spec and re.fullmatch(spec["pattern"], v) is None:
        raise Invalid(f"{name} does not match")
    return v


def judge(raw, contract):
    try:
        v = parse(raw)
        return {f["name"]: check_field(f, v.get(f["name"])) for f in contract["fields"]}
    except (Invalid, ValueError, UnicodeError, RecursionError):
        return None


def read_records(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        p, o, n = struct.unpack_from("<IQI", data, pos)
        pos += 16
        if n == 0xFFFFFFFF:
            yield p, o, None
        else:
            yield p, o, data[pos : pos + n]
            pos += n


def cents(d):
    # + 0 turns -0.00 into 0.00, as a DECIMAL column holds it.
    return str(Decimal(d).quantize(Decimal("0.01")) + 0)


def expected_row(p, o, e):
    ts = datetime.datetime.fromtimestamp(e["event_timestamp"], datetime.timezone.utc)
    return {
        "event_id": e["event_id"],
        "event_type": e["event_type"],
        "event_timestamp": ts,
        "order_id": e["order_id"],
        "user_id": e["user_id"],
        "total_amount": cents(e["total_amount"]) if e["total_amount"] is not None else None,
        "currency": e["currency"],
        "payment_method": e["payment_method"],
        "items": [
            {
                "sku": i["sku"],
                "quantity": i["quantity"],
                "unit_price": cents(i["unit_price"]) if i["unit_price"] is not None else None,
                "category": i["category"],
            }
            for i in e["items"]
        ],
        "current_status": e["current_status"],
        "source_partition": p,
        "source_offset": o,
        "event_hour": ts.strftime("%Y-%m-%d-%H"),
    }


def actual_row(r):
    ts = r["event_timestamp"]
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=datetime.timezone.utc)
    return {
        **{k: r[k] for k in ("event_id", "event_type", "order_id", "user_id", "currency", "payment_method")},
        "event_timestamp": ts,
        "total_amount": cents(r["total_amount"]) if r["total_amount"] is not None else None,
        "items": [
            {**i, "unit_price": cents(i["unit_price"]) if i["unit_price"] is not None else None}
            for i in r["items"]
        ],
        "current_status": r["current_status"],
        "source_partition": r["source_partition"],
        "source_offset": r["source_offset"],
        "event_hour": r["event_hour"],
    }


def main():
    records_path, contract_path = sys.argv[1], sys.argv[2]
    table = sys.argv[3] if len(sys.argv) > 3 else None
    with open(contract_path) as f:
        contract = json.load(f)
    invalid = []
    first = {}  # event_id -> expected row of its first valid occurrence
    valid = 0
    for p, o, raw in sorted(read_records(records_path), key=lambda r: (r[0], r[1])):
        e = judge(raw, contract)
        if e is None:
            invalid.append([p, o])
            continue
        valid += 1
        if table is not None and e["event_id"] not in first:
            first[e["event_id"]] = expected_row(p, o, e)
    out = {"valid": valid, "invalid": invalid, "problems": [], "rows": 0}
    if table is not None:
        from deltalake import DeltaTable

        rows = DeltaTable(table).to_pyarrow_table().to_pylist()
        out["rows"] = len(rows)
        seen = set()
        for r in rows:
            got = actual_row(r)
            eid = got["event_id"]
            if eid in seen:
                out["problems"].append(f"event {eid} is in the table more than once")
            seen.add(eid)
            want = first.get(eid)
            if want is None:
                out["problems"].append(f"event {eid} is in the table but no valid record has it")
            elif want != got:
                diff = {k: [str(want[k]), str(got[k])] for k in want if want[k] != got[k]}
                out["problems"].append(f"event {eid}: expected/got {diff}")
        for eid in first:
            if eid not in seen:
                out["problems"].append(f"valid event {eid} is missing from the table")
        out["problems"] = out["problems"][:50]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
