"""sparkort quickstart: scikit-learn -> ONNX -> score a Spark DataFrame inside the executors.

Trains a logistic regression on scikit-learn's bundled digits dataset (8x8 images, 10 classes),
converts it with skl2onnx, scores the held-out digits as a Spark DataFrame on local[*] with
sparkort, and prints the accuracy against the true labels; then scores --rows rows (the held-out
digits repeated, cached) and prints the rows/s.

    python examples/quickstart.py --rows 1000000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from skl2onnx import to_onnx
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

import sparkort


def train_and_convert(path: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """Writes the ONNX model to `path`; returns the held-out images, labels and sklearn's own accuracy."""
    digits = load_digits()
    x = digits.data.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.3, random_state=0)
    clf = LogisticRegression(max_iter=5000).fit(x_train, y_train)
    # Outputs: "output_label" (int64, one per row), "output_probability" (a {class: probability} map per row).
    onx = to_onnx(clf, x_train[:1])
    path.write_bytes(onx.SerializeToString())
    return x_test, y_test, float(clf.score(x_test, y_test))


def rows_per_second(model: sparkort.OnnxModel, df: DataFrame, rows: int) -> float:
    """Median of three timed passes over the cached rows, after one pass that loads the model everywhere."""
    seconds = []
    for _ in range(4):
        start = time.perf_counter()
        model.transform(df).write.format("noop").mode("overwrite").save()
        seconds.append(time.perf_counter() - start)
    return rows / statistics.median(seconds[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the throughput pass")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "digits.onnx"
        x_test, y_test, sklearn_accuracy = train_and_convert(model_path)

        spark: SparkSession = (
            sparkort.session_builder()
            .master("local[*]")
            .appName("sparkort-quickstart")
            .config("spark.driver.memory", "2g")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("WARN")
        digits = spark.createDataFrame(
            [(int(label), image.tolist()) for image, label in zip(x_test, y_test)], "label int, pixels array<float>"
        )
        model = sparkort.OnnxModel(
            modelLocation=str(model_path),
            feedDict={"X": "pixels"},  # skl2onnx names the model's input X
            fetchDict={"predicted": "output_label", "probabilities": "output_probability"},  # column <- output
        )

        scored = model.transform(digits)
        scored.select("label", "predicted", "probabilities").show(5, truncate=60)
        accuracy = scored.select(F.avg((F.col("predicted") == F.col("label")).cast("double"))).first()[0]
        print(f"accuracy on {len(y_test)} held-out digits: {accuracy:.4f} "
              f"(scikit-learn on the same digits: {sklearn_accuracy:.4f})")

        copies = max(1, args.rows // len(y_test))
        many = spark.range(copies).crossJoin(digits).select("label", "pixels").repartition(spark.sparkContext.defaultParallelism)
        many = many.cache()
        rows = many.count()
        rate = rows_per_second(model, many, rows)
        print(f"scored {rows:,} rows at {rate:,.0f} rows/s on local[*] ({spark.sparkContext.defaultParallelism} cores)")
        spark.stop()


if __name__ == "__main__":
    main()
