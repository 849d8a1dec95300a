"""The one Spark session the Spark interop scripts use: local, small, UTC, with Delta.

Delta's jars come from Maven Central through Spark's Ivy (configure_spark_with_delta_pip
asks for io.delta:delta-spark_<spark major.minor>_2.13:<delta-spark version>). Ivy looks
in Maven Central only (scripts/provision/spark/ivysettings.xml) and caches in
<repo>/.cache/spark-ivy (override: TRIBUTARY_SPARK_IVY), so only the first run
downloads; scripts/provision/spark.sh makes that first run.
"""

import os
import shutil
import tempfile
import time

# Spark hands timestamps to Python as naive local datetimes; in UTC they are what the
# table holds. Set before the JVM starts so it inherits the zone too.
os.environ["TZ"] = "UTC"
time.tzset()

from delta import configure_spark_with_delta_pip  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
IVY = os.environ.get("TRIBUTARY_SPARK_IVY", os.path.join(ROOT, ".cache", "spark-ivy"))
IVY_SETTINGS = os.path.join(ROOT, "scripts", "provision", "spark", "ivysettings.xml")


_warehouses = []


def start_session(app_name="tributary-interop"):
    """A local[2] Spark session with Delta's SQL extension and catalog."""
    # Path-based tables only; the warehouse just must not land in the working directory.
    warehouse = tempfile.mkdtemp(prefix="tributary-spark-warehouse-")
    _warehouses.append(warehouse)
    builder = (
        SparkSession.builder.appName(app_name)
        .master("local[2]")
        .config("spark.jars.ivy", IVY)
        .config("spark.jars.ivySettings", IVY_SETTINGS)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Tests make tiny tables on a 2-core machine: few tasks per shuffle.
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        # Rebuilding a snapshot (time travel) is a Spark job over this many partitions
        # (default 50): seconds per old version read on a small machine.
        .config("spark.databricks.delta.snapshotPartitions", "2")
        # VACUUM lists files in this many tasks (default 10000): a minute per VACUUM here.
        .config("spark.sql.sources.parallelPartitionDiscovery.parallelism", "2")
        # VACUUM with retention 0 (the test wants every unreferenced file gone now).
        .config("spark.databricks.delta.retentionDurationCheck.enabled", "false")
    )
    spark = configure_spark_with_delta_pip(builder).getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def stop_session(spark):
    """Stops Spark and removes the session's scratch directory."""
    spark.stop()
    for warehouse in _warehouses:
        shutil.rmtree(warehouse, ignore_errors=True)
