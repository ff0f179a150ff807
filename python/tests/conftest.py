from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator

import numpy as np
import onnxruntime as ort
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sparkort  # noqa: E402

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REPO = Path(__file__).resolve().parents[2]


def onnxruntime_outputs(model_path: "Path | str", feeds: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """Every output of the model, by name, as ONNX Runtime's Python API computes it on `feeds`."""
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds)))


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return Path(os.environ.get("SPARKORT_TEST_MODELS", REPO / "build" / "test-models"))


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator["SparkSession"]:
    session = (
        sparkort.session_builder()
        .master("local[2]")
        .appName("sparkort-pytest")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "3")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
        .getOrCreate()
    )
    yield session
    session.stop()


@dataclass(frozen=True)
class Iris:
    """scikit-learn's iris dataset with a logistic regression converted by skl2onnx (input X, [N, 4]
    float; output probabilities, [N, 3] float) and ONNX Runtime Python's probabilities on every row."""

    model: Path
    columns: list[str]
    features: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray


@pytest.fixture(scope="session")
def iris(tmp_path_factory: pytest.TempPathFactory) -> Iris:
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    data = load_iris()
    x = data.data.astype(np.float32)
    clf = LogisticRegression(max_iter=1000).fit(x, data.target)
    path = tmp_path_factory.mktemp("iris") / "iris.onnx"
    path.write_bytes(to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}).SerializeToString())
    probabilities = onnxruntime_outputs(path, {"X": x})["probabilities"]
    columns = [name.replace(" (cm)", "").replace(" ", "_") for name in data.feature_names]
    return Iris(path, columns, x, data.target, probabilities)
