"""One Spark session that reads and writes many Delta tables on request.

Starting Spark costs seconds, so a test file starts this once and sends it requests:
one JSON object per line on stdin, one JSON answer per line on stdout,
{"ok": <result>} or {"error": "<Type>: <message>"}. The first line out is
{"ready": {"spark": ..., "delta": ...}}. Requests:

  {"op": "read", "path": P, "version"?: N, "timestamp"?: ISO-8601}
      -> describe(): version, schema (Spark JSON), partitionColumns, protocol,
         configuration, files, rows (normal form, see spark_normalize.py)
  {"op": "write", "path": P, "schema": <Delta StructType JSON>, "steps": [...]}
      -> {"steps": [{"op", "version", "rows"}], "final": describe()}
  {"op": "sql", "query": Q}  -> {"rows": [...]}

Write steps (Delta's own Python API, so Spark's code writes every byte):
  {"op": "write", "mode": "append"|"overwrite", "rows": [...], "partitionBy": [...]}
  {"op": "merge", "rows": [...], "on": ["id"], "whenMatched": "update"|"delete",
   "whenNotMatched": "insert"|"ignore"}
  {"op": "update", "predicate": SQL, "set": {"col": SQL}}
  {"op": "delete", "predicate": SQL}
  {"op": "optimize"}   (bin-packing compaction)
  {"op": "vacuum"}     (retention 0: every unreferenced file goes)
  {"op": "sql", "query": Q}   (e.g. ALTER TABLE delta.`P` SET TBLPROPERTIES ...)

usage: spark_worker.py            serve requests
       spark_worker.py --warm-up  start Spark once, write and read a table, exit
                                  (fills the Ivy cache: scripts/provision/spark.sh)
"""

import datetime
import json
import os
import shutil
import sys
import tempfile
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

# Keep stdout for answers only: the JVM (Ivy prints there) and Python prints share fd 1,
# so answers go to a private copy of it and fd 1 becomes stderr.
_answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)
sys.stdout = sys.stderr

from delta.tables import DeltaTable  # noqa: E402
from pyspark.sql import types as T  # noqa: E402
from spark_normalize import norm_rows, spark_rows  # noqa: E402
from spark_session import start_session, stop_session  # noqa: E402


def latest_version(spark, path):
    return DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]


def version_at(spark, path, timestamp):
    """The version Spark's timestampAsOf picks: the last commit at or before `timestamp`."""
    at = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).replace(tzinfo=None)
    history = DeltaTable.forPath(spark, path).history().select("version", "timestamp").collect()
    return max(h["version"] for h in history if h["timestamp"] <= at)


def describe(spark, path, version=None, timestamp=None):
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    elif timestamp is not None:
        reader = reader.option("timestampAsOf", timestamp)
    df = reader.load(path)
    detail = DeltaTable.forPath(spark, path).detail().collect()[0]
    if version is None:
        version = version_at(spark, path, timestamp) if timestamp is not None else latest_version(spark, path)
    return {
        "version": version,
        "schema": df.schema.jsonValue(),
        "partitionColumns": list(detail["partitionColumns"]),
        "configuration": dict(detail["properties"] or {}),
        "protocol": {"minReaderVersion": detail["minReaderVersion"],
                     "minWriterVersion": detail["minWriterVersion"]},
        "files": sorted(df.inputFiles()),
        "rows": norm_rows(df),
    }


def frame(spark, schema, rows):
    return spark.createDataFrame(spark_rows(schema, rows), schema)


def run_step(spark, path, schema, step):
    op = step["op"]
    if op == "write":
        writer = frame(spark, schema, step["rows"]).write.format("delta").mode(step.get("mode", "append"))
        if step.get("partitionBy"):
            writer = writer.partitionBy(*step["partitionBy"])
        writer.save(path)
        return
    if op == "sql":
        spark.sql(step["query"]).collect()
        return
    table = DeltaTable.forPath(spark, path)
    if op == "merge":
        on = " AND ".join(f"t.`{c}` = s.`{c}`" for c in step["on"])
        merger = table.alias("t").merge(frame(spark, schema, step["rows"]).alias("s"), on)
        if step.get("whenMatched", "update") == "update":
            merger = merger.whenMatchedUpdateAll()
        else:
            merger = merger.whenMatchedDelete()
        if step.get("whenNotMatched", "insert") == "insert":
            merger = merger.whenNotMatchedInsertAll()
        merger.execute()
    elif op == "update":
        table.update(condition=step.get("predicate"), set=step["set"])
    elif op == "delete":
        table.delete(step.get("predicate"))
    elif op == "optimize":
        table.optimize().executeCompaction()
    elif op == "vacuum":
        table.vacuum(0.0)
    else:
        raise ValueError(f"unknown step {op!r}")


def write(spark, path, schema_json, steps):
    schema = T.StructType.fromJson(schema_json)
    out = []
    for step in steps:
        run_step(spark, path, schema, step)
        version = latest_version(spark, path)
        rows = norm_rows(spark.read.format("delta").load(path))
        out.append({"op": step["op"], "version": version, "rows": rows})
    return {"steps": out, "final": describe(spark, path)}


def handle(spark, req):
    op = req["op"]
    if op == "read":
        return describe(spark, req["path"], req.get("version"), req.get("timestamp"))
    if op == "write":
        return write(spark, req["path"], req["schema"], req["steps"])
    if op == "sql":
        return {"rows": norm_rows(spark.sql(req["query"]))}
    raise ValueError(f"unknown request {op!r}")


def answer(obj):
    _answers.write(json.dumps(obj, sort_keys=True) + "\n")
    _answers.flush()


def warm_up(spark):
    """Proves the session can write and read a Delta table (and so has its jars)."""
    base = tempfile.mkdtemp(prefix="tributary-spark-warm-up-")
    path = os.path.join(base, "t")
    schema = T.StructType([T.StructField("id", T.LongType()), T.StructField("p", T.StringType())])
    try:
        write(spark, path, schema.jsonValue(), [{"op": "write", "rows": [{"id": 1, "p": "a"}],
                                                 "partitionBy": ["p"]}])
        rows = describe(spark, path)["rows"]
        if rows != [{"id": "1", "p": "a"}]:
            raise RuntimeError(f"Spark read back {rows} from its own warm-up table {path}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main():
    spark = start_session()
    if "--warm-up" in sys.argv:
        warm_up(spark)
        answer({"ok": {"spark": spark.version}})
        stop_session(spark)
        return
    import importlib.metadata
    answer({"ready": {"spark": spark.version, "delta": importlib.metadata.version("delta-spark")}})
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer({"ok": handle(spark, json.loads(line))})
        except Exception as err:  # the caller asserts on refusals, so report them as data
            traceback.print_exc()
            answer({"error": f"{type(err).__name__}: {err}"[:4000]})
    stop_session(spark)


if __name__ == "__main__":
    main()
    sys.stderr.flush()
    _answers.flush()
    # The JVM gateway's teardown can take seconds; the work is done.
    os._exit(0)
