"""sparkort: ONNX model inference inside Spark executors.

    import sparkort

    spark = sparkort.session_builder().master("local[*]").getOrCreate()
    scored = sparkort.OnnxModel(
        modelLocation="model.onnx", feedDict={"input": "features"}, fetchDict={"probs": "probabilities"}
    ).transform(df)
"""

__version__ = "0.1.0"

from sparkort import errors as _errors
from sparkort._jvm import jar_path, session_builder
from sparkort.errors import InferenceError, InvalidInputError, ModelLoadError, NativeLibraryError, SparkOrtError
from sparkort.model import OnnxModel, register_java_package as _register_java_package
from sparkort.node import ModelReservation, ScoringMetrics

_errors.install()
_register_java_package()

__all__ = [
    "OnnxModel",
    "ModelReservation",
    "ScoringMetrics",
    "SparkOrtError",
    "InvalidInputError",
    "ModelLoadError",
    "InferenceError",
    "NativeLibraryError",
    "jar_path",
    "session_builder",
]
