# Databricks notebook source
# MAGIC %md
# MAGIC # Score a table with an ONNX model (sparkort)
# MAGIC
# MAGIC Runs the model inside the executors: no UDF, no Python worker, no per-row serialization.
# MAGIC
# MAGIC **Cluster libraries** (Compute > your cluster > Libraries > Install new), both from a Unity
# MAGIC Catalog volume or the workspace:
# MAGIC - `sparkort-0.1.0.jar` (JVM classes and the native libraries, Linux x86_64)
# MAGIC - `sparkort-0.1.0-py3-none-any.whl` (the Python API)
# MAGIC
# MAGIC Use a cluster in *dedicated* (single user) access mode on Databricks Runtime 14.3 LTS or newer
# MAGIC (Spark 3.5 with JDK 8 or 17, or Spark 4.x with JDK 17). Nothing else is installed by hand.
# MAGIC
# MAGIC The model below is a scikit-learn iris classifier converted by `skl2onnx` (input `X`, four
# MAGIC floats; outputs `output_label` and `output_probability`); set the cell below to your own model,
# MAGIC table and columns.

# COMMAND ----------

# Where the model is: a Unity Catalog volume path, or dbfs:/..., or any Hadoop-FS URI.
MODEL_PATH = "/Volumes/main/default/models/iris.onnx"
# The table to score, its feature columns in the order the model's input takes them, and where the
# scored rows go.
INPUT_TABLE = "main.default.iris"
FEATURE_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
OUTPUT_TABLE = "main.default.iris_scored"

# COMMAND ----------

import sparkort
from pyspark.sql import functions as F

model = sparkort.OnnxModel(
    modelLocation=MODEL_PATH,
    feedDict={"X": ", ".join(FEATURE_COLUMNS)},  # ONNX input <- these columns, in order
    fetchDict={"predicted": "output_label", "probability": "output_probability"},  # column <- ONNX output
)
table = spark.table(INPUT_TABLE)
model.transformSchema(table.schema)  # checks the columns against the model now, before any job runs

# COMMAND ----------

scored = model.transform(table)
scored.write.mode("overwrite").saveAsTable(OUTPUT_TABLE)

# COMMAND ----------

result = spark.table(OUTPUT_TABLE)
result.groupBy("predicted").agg(F.count("*").alias("rows"), F.avg(F.col("probability")[F.col("predicted")]).alias("mean_probability")).orderBy("predicted").show()
