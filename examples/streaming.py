"""sparkort streaming: score files as they arrive, with a checkpoint, and restart without losing or
repeating a row.

Trains a logistic regression on scikit-learn's bundled iris dataset and converts it with skl2onnx;
then a Structured Streaming query reads Parquet files from an input folder as they appear, scores
them with sparkort and writes the predictions to an output folder, with a checkpoint. The query is
stopped, more files arrive, and it is started again from its checkpoint: the output holds every
input row exactly once, with the probabilities ONNX Runtime's Python API gives.

    python examples/streaming.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from pyspark.sql import DataFrame, SparkSession
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

import sparkort


def train_and_convert(path: Path) -> np.ndarray:
    """Writes the ONNX model to `path`; returns the iris features."""
    data = load_iris()
    x = data.data.astype(np.float32)
    clf = LogisticRegression(max_iter=1000).fit(x, data.target)
    path.write_bytes(to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}).SerializeToString())
    return x


def arrive(spark: SparkSession, x: np.ndarray, ids: range, inbox: Path, staging: Path) -> None:
    """Writes rows `ids` as one Parquet file and moves it into `inbox` whole, as a producer would."""
    rows = [(i, [float(v) for v in x[i]]) for i in ids]
    folder = staging / f"batch-{ids.start}"
    spark.createDataFrame(rows, "id long, features array<float>").coalesce(1).write.parquet(str(folder))
    (part,) = folder.glob("*.parquet")
    part.rename(inbox / f"rows-{ids.start}.parquet")


def run_until_caught_up(model: sparkort.OnnxModel, events: DataFrame, out: Path, checkpoint: Path) -> None:
    query = (
        model.transform(events)
        .writeStream.format("parquet")
        .option("checkpointLocation", str(checkpoint))
        .start(str(out))
    )
    query.processAllAvailable()
    query.stop()


def main() -> None:
    spark = sparkort.session_builder().master("local[2]").appName("sparkort-streaming").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inbox, out, checkpoint, staging = root / "in", root / "out", root / "checkpoint", root / "staging"
        inbox.mkdir()
        x = train_and_convert(root / "iris.onnx")
        model = sparkort.OnnxModel(
            modelLocation=str(root / "iris.onnx"),
            feedDict={"X": "features"},
            fetchDict={"probabilities": "probabilities"},
        )
        events = spark.readStream.schema("id long, features array<float>").parquet(str(inbox))

        arrive(spark, x, range(0, 60), inbox, staging)
        arrive(spark, x, range(60, 100), inbox, staging)
        run_until_caught_up(model, events, out, checkpoint)
        print(f"first run: {spark.read.parquet(str(out)).count()} rows scored")

        arrive(spark, x, range(100, 150), inbox, staging)  # while the query is down
        run_until_caught_up(model, events, out, checkpoint)

        scored = spark.read.parquet(str(out)).orderBy("id").collect()
        ids = [row["id"] for row in scored]
        assert ids == list(range(150)), "every row exactly once"
        session = ort.InferenceSession(str(root / "iris.onnx"), providers=["CPUExecutionProvider"])
        want = session.run(["probabilities"], {"X": x})[0]
        got = np.array([row["probabilities"] for row in scored], dtype=np.float32)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        print(f"after the restart: {len(scored)} rows, each once, equal to ONNX Runtime's probabilities")
    spark.stop()


if __name__ == "__main__":
    main()
