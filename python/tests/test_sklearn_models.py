"""scikit-learn models converted by skl2onnx, trained on scikit-learn's bundled datasets, scored
through sparkort and compared with ONNX Runtime's Python API on the same model and data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import pandas as pd
import pytest
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import DataFrame, SparkSession
from skl2onnx import convert_sklearn, to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sparkort
from conftest import onnxruntime_outputs

OPSET = 17
IRIS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _score(model_path: Path, df: DataFrame, feed: Dict[str, str], fetch: Dict[str, str]) -> List[Any]:
    model = sparkort.OnnxModel(modelLocation=str(model_path), feedDict=feed, fetchDict=fetch, batchSize=32)
    return sorted(model.transform(df).collect(), key=lambda r: r.id)


def _assert_maps_equal(got: List[Dict[Any, float]], want: List[Dict[Any, float]]) -> None:
    assert len(got) == len(want)
    for row, (g, w) in enumerate(zip(got, want)):
        assert set(g) == set(w), f"row {row}: keys {sorted(g)} vs {sorted(w)}"
        np.testing.assert_allclose([g[k] for k in w], [w[k] for k in w], rtol=1e-6, atol=1e-7, err_msg=f"row {row}")


def _save(model: Any, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture(scope="module")
def iris_frame() -> pd.DataFrame:
    data = load_iris()
    frame = pd.DataFrame(data.data, columns=IRIS)
    frame.insert(0, "id", range(len(frame)))
    frame["species"] = np.asarray(data.target_names)[data.target]
    frame["target"] = data.target
    return frame


def test_logistic_regression_with_zipmap_from_four_double_columns(spark: SparkSession, iris_frame: pd.DataFrame, tmp_path: Path) -> None:
    x = iris_frame[IRIS].to_numpy(np.float32)
    classifier = LogisticRegression(max_iter=500).fit(x, iris_frame["target"])
    path = _save(to_onnx(classifier, x[:1], target_opset=OPSET), tmp_path / "logreg.onnx")
    expected = onnxruntime_outputs(path, {"X": x})

    df = spark.createDataFrame(iris_frame[["id", *IRIS]]).repartition(3)
    rows = _score(path, df, {"X": ",".join(IRIS)}, {"label": "output_label", "probability": "output_probability"})

    assert [r.label for r in rows] == expected["output_label"].tolist()
    _assert_maps_equal([r.probability for r in rows], expected["output_probability"])


def test_random_forest_with_string_labels_from_a_vector_column(spark: SparkSession, iris_frame: pd.DataFrame, tmp_path: Path) -> None:
    x = iris_frame[IRIS].to_numpy(np.float32)
    forest = RandomForestClassifier(n_estimators=12, max_depth=4, random_state=0).fit(x, iris_frame["species"])
    path = _save(to_onnx(forest, x[:1], target_opset=OPSET), tmp_path / "forest.onnx")
    expected = onnxruntime_outputs(path, {"X": x})

    assembled = VectorAssembler(inputCols=IRIS, outputCol="features").transform(spark.createDataFrame(iris_frame[["id", *IRIS]]))
    rows = _score(path, assembled.repartition(2), {"X": "features"}, {"label": "output_label", "probability": "output_probability"})

    assert [r.label for r in rows] == expected["output_label"].tolist()
    assert {type(k) for r in rows for k in r.probability} == {str}
    _assert_maps_equal([r.probability for r in rows], expected["output_probability"])


def test_gradient_boosting_regressor_from_an_array_column(spark: SparkSession, tmp_path: Path) -> None:
    data = load_diabetes()
    x = data.data.astype(np.float32)
    regressor = GradientBoostingRegressor(n_estimators=40, random_state=0).fit(x, data.target)
    path = _save(to_onnx(regressor, x[:1], target_opset=OPSET), tmp_path / "gbr.onnx")
    expected = onnxruntime_outputs(path, {"X": x})["variable"]

    frame = pd.DataFrame({"id": range(len(x)), "features": [row.tolist() for row in data.data]})
    rows = _score(path, spark.createDataFrame(frame).repartition(3), {"X": "features"}, {"prediction": "variable"})

    got = np.asarray([r.prediction for r in rows], dtype=np.float32)
    assert isinstance(rows[0].prediction, float), "[N, 1] is one value per row"
    np.testing.assert_allclose(got, expected[:, 0], rtol=1e-6, atol=1e-6)


def test_column_transformer_with_one_hot_string_and_scaled_numbers(spark: SparkSession, iris_frame: pd.DataFrame, tmp_path: Path) -> None:
    features = ["species", "sepal_length", "sepal_width"]
    target = (iris_frame["petal_length"] > 4.0).astype(int)
    pipeline = Pipeline([
        ("columns", ColumnTransformer([
            ("onehot", OneHotEncoder(), ["species"]),
            ("scale", StandardScaler(), ["sepal_length", "sepal_width"]),
        ])),
        ("classifier", LogisticRegression(max_iter=500)),
    ]).fit(iris_frame[features], target)
    types = [("species", StringTensorType([None, 1])), ("sepal_length", FloatTensorType([None, 1])),
             ("sepal_width", FloatTensorType([None, 1]))]
    path = _save(convert_sklearn(pipeline, initial_types=types, target_opset={"": OPSET, "ai.onnx.ml": 1}), tmp_path / "pipeline.onnx")
    as_column: Callable[[str, Any], np.ndarray] = lambda name, t: iris_frame[name].to_numpy().astype(t).reshape(-1, 1)  # noqa: E731
    expected = onnxruntime_outputs(path, {"species": as_column("species", object), "sepal_length": as_column("sepal_length", np.float32),
                                   "sepal_width": as_column("sepal_width", np.float32)})

    df = spark.createDataFrame(iris_frame[["id", *features]]).repartition(3)
    rows = _score(path, df, {f: f for f in features}, {"label": "output_label", "probability": "output_probability"})

    assert [r.label for r in rows] == expected["output_label"].tolist()
    _assert_maps_equal([r.probability for r in rows], expected["output_probability"])
