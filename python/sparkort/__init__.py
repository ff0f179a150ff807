"""sparkort: ONNX model inference inside Spark executors.

    import sparkort

    spark = sparkort.session_builder().master("local[*]").getOrCreate()
    scored = sparkort.OnnxModel(
        modelLocation="model.onnx", feedDict={"input": "features"}, fetchDict={"probs": "probabilities"}
    ).transform(df)

    df.withColumn("probabilities", sparkort.predict("model.onnx", "features"))   # a Column
    spark.sql("SELECT onnx_predict('model.onnx', features) FROM t")               # with the extension
"""

__version__ = "0.1.0"

from sparkort import errors as _errors
from sparkort._jvm import jar_path, session_builder
from sparkort.errors import InferenceError, InvalidInputError, ModelLoadError, NativeLibraryError, SparkOrtError
from sparkort.functions import predict, register
from sparkort.model import OnnxModel, register_java_package as _register_java_package
from sparkort.node import ModelReservation, ScoringMetrics

_errors.install()
if _errors.connect_client_active():
    _errors.install_connect()
_register_java_package()

__all__ = [
    "OnnxModel",
    "predict",
    "register",
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
