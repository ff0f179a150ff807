"""sparkort.OnnxModel: the pyspark.ml wrapper of io.sparkort.OnnxModel."""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Type, TypeVar, cast

from pyspark import keyword_only
from pyspark.ml.param import Param, Params, TypeConverters
from pyspark.ml.util import JavaMLReadable, JavaMLReader, JavaMLWritable
from pyspark.ml.wrapper import JavaTransformer
from pyspark.sql import SparkSession
from pyspark.sql.types import StructType, _parse_datatype_json_string

from sparkort._jvm import JAVA_STAGE, java_string_map, new_java_stage
from sparkort.errors import SparkOrtError, install_connect
from sparkort.functions import is_connect, transform_over_connect
from sparkort.node import ModelReservation, ScoringMetrics

if TYPE_CHECKING:
    from py4j.java_gateway import JavaObject

T = TypeVar("T")


def _string_dict(value: Any) -> Dict[str, str]:
    """Type converter of the dict params: any mapping of str to str, kept in its order."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected a dict of str to str, got {type(value).__name__}")
    out: Dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise TypeError(f"expected a dict of str to str, got the entry {key!r}: {item!r}")
        out[key] = item
    return out


def _null_handling(value: Any) -> str:
    """Type converter of handleNulls."""
    if value not in ("error", "keep"):
        raise TypeError(f"expected 'error' or 'keep', got {value!r}")
    return cast(str, value)


# The Java stage's defaults, for a Spark Connect client, which has no JVM to read them from.
_CONNECT_DEFAULTS: Dict[str, Any] = {"feedDict": {}, "fetchDict": {}, "batchSize": 0, "handleNulls": "error"}


def _connect_mode() -> bool:
    """Whether this Python process is a Spark Connect client (no JVM of its own)."""
    try:
        from pyspark.sql.utils import is_remote
    except ImportError:
        return False
    return bool(is_remote())


def _from_java_value(value: Any) -> Any:
    """A param value read from the JVM as a plain Python value (py4j hands maps and lists as proxies)."""
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "__iter__") and not isinstance(value, (str, bytes)):
        return list(value)
    return value


class OnnxModel(JavaTransformer, JavaMLReadable["OnnxModel"], JavaMLWritable):
    """Scores a DataFrame with an ONNX model inside the executors.

    ``transform`` returns every input column plus one column per fetched model output::

        scored = OnnxModel(
            modelLocation="/models/iris.onnx",        # local path or any Hadoop-FS URI
            feedDict={"input": "features"},           # ONNX input -> column
            fetchDict={"probs": "probabilities"},     # column -> ONNX output
        ).transform(df)

    It works as a ``pyspark.ml.Pipeline`` stage, and saves and loads with its model's bytes, so a
    loaded stage needs no original file. Defaults come from the Java stage.

    In a Spark Connect client ``transform`` and ``transformSchema`` work unchanged: they score through
    the SQL function ``onnx_predict`` on the server, which needs the sparkort jar and
    ``spark.sql.extensions=io.sparkort.SparkOrtExtensions``. ``reserve``, ``metrics`` and saving need
    the driver's JVM and raise a ``SparkOrtError`` there that says what to use instead.
    """

    modelLocation: "Param[str]" = Param(
        Params._dummy(), "modelLocation", "local path or Hadoop-FS URI of the ONNX model",
        typeConverter=TypeConverters.toString,
    )
    feedDict: "Param[Dict[str, str]]" = Param(
        Params._dummy(), "feedDict", "ONNX input name -> column name", typeConverter=_string_dict
    )
    fetchDict: "Param[Dict[str, str]]" = Param(
        Params._dummy(), "fetchDict",
        "output column name -> ONNX output name; empty = every output under its own name",
        typeConverter=_string_dict,
    )
    batchSize: "Param[int]" = Param(
        Params._dummy(),
        "batchSize",
        "rows per native call, 1 to 2147483647, or 0 (the default) for as many as make about 4 MiB of the"
        " model's tensors (16 to 65536 rows); a batch also ends at spark.sparkort.batchBytes bytes",
        typeConverter=TypeConverters.toInt,
    )
    handleNulls: "Param[str]" = Param(
        Params._dummy(), "handleNulls",
        "a row with a null input: 'error' fails the job naming the row, 'keep' gives it null outputs",
        typeConverter=_null_handling,
    )

    _input_kwargs: Dict[str, Any]
    # Set in __init__; present from the start so pyspark's __del__ copes with a failed constructor.
    _java_obj: Optional["JavaObject"] = None

    @keyword_only
    def __init__(
        self,
        *,
        modelLocation: Optional[str] = None,
        feedDict: Optional[Mapping[str, str]] = None,
        fetchDict: Optional[Mapping[str, str]] = None,
        batchSize: Optional[int] = None,
        handleNulls: Optional[str] = None,
    ) -> None:
        super().__init__()
        if _connect_mode():
            install_connect()
            self._setDefault(**_CONNECT_DEFAULTS)
        else:
            self._java_obj = new_java_stage(self.uid)
            # Params a newer jar has and this wrapper does not still round-trip, as plain Params.
            self._create_params_from_java()
            self._defaults_from_java()
        self.setParams(**self._input_kwargs)

    @keyword_only
    def setParams(
        self,
        *,
        modelLocation: Optional[str] = None,
        feedDict: Optional[Mapping[str, str]] = None,
        fetchDict: Optional[Mapping[str, str]] = None,
        batchSize: Optional[int] = None,
        handleNulls: Optional[str] = None,
    ) -> "OnnxModel":
        """Sets the params given; the others keep their values."""
        return self._set(**{k: v for k, v in self._input_kwargs.items() if v is not None})

    def setModelLocation(self, value: str) -> "OnnxModel":
        return self._set(modelLocation=value)

    def getModelLocation(self) -> str:
        return self.getOrDefault(self.modelLocation)

    def setFeedDict(self, value: Mapping[str, str]) -> "OnnxModel":
        return self._set(feedDict=value)

    def getFeedDict(self) -> Dict[str, str]:
        return self.getOrDefault(self.feedDict)

    def setFetchDict(self, value: Mapping[str, str]) -> "OnnxModel":
        return self._set(fetchDict=value)

    def getFetchDict(self) -> Dict[str, str]:
        return self.getOrDefault(self.fetchDict)

    def setBatchSize(self, value: int) -> "OnnxModel":
        return self._set(batchSize=value)

    def getBatchSize(self) -> int:
        return self.getOrDefault(self.batchSize)

    def setHandleNulls(self, value: str) -> "OnnxModel":
        return self._set(handleNulls=value)

    def getHandleNulls(self) -> str:
        return self.getOrDefault(self.handleNulls)

    def _java_stage(self) -> "JavaObject":
        """The Java stage with this stage's params (classic sessions only)."""
        if self._java_obj is None:
            raise SparkOrtError(self._connect_only("this needs the driver's JVM"))
        self._transfer_params_to_java()
        return self._java_obj

    @staticmethod
    def _connect_only(what: str) -> str:
        return (
            f"{what}, which a Spark Connect client does not have; over Spark Connect score with transform, "
            "sparkort.predict or onnx_predict in SQL, and read the scoring node's metrics (rows scored, batches, "
            "time in model) in the SQL tab of the server's Spark UI"
        )

    def _transform(self, dataset: Any) -> Any:
        if is_connect(dataset):
            return transform_over_connect(self, dataset)
        return super()._transform(dataset)

    def transformSchema(self, schema: StructType) -> StructType:
        """The schema ``transform`` returns, computed on the driver from the model's signature."""
        if self._java_obj is None:
            spark = SparkSession.getActiveSession()
            if spark is None:
                raise SparkOrtError("no active SparkSession: transformSchema asks the Spark Connect server")
            return cast(StructType, self._transform(spark.createDataFrame([], schema)).schema)
        assert self._java_obj is not None
        self._transfer_params_to_java()
        spark = SparkSession.active()
        java_schema = spark._jsparkSession.parseDataType(schema.json())
        out = self._java_obj.transformSchema(java_schema)
        return cast(StructType, _parse_datatype_json_string(out.json()))

    def reserve(self, spark: Optional[SparkSession] = None) -> List[ModelReservation]:
        """Loads the model on every live executor now, before any data arrives, so that scoring
        afterwards pays no load time; one entry per executor reached (in local mode, the driver)."""
        if self._java_obj is None:
            raise SparkOrtError(self._connect_only("reserve loads the model on the executors from the driver's JVM"))
        self._transfer_params_to_java()
        session = spark or SparkSession.active()
        return [ModelReservation.from_java(r) for r in self._java_obj.reserve(session._jsparkSession)]

    def metrics(self) -> ScoringMetrics:
        """Rows scored, batches, time in the model, executor loads and their time, bytes fetched:
        this stage's Spark accumulators (also on each stage's page of the Spark UI) as they stand."""
        if self._java_obj is None:
            raise SparkOrtError(self._connect_only("metrics are accumulators in the driver's JVM"))
        return ScoringMetrics.from_java(self._java_obj.metrics())

    @classmethod
    def read(cls) -> "JavaMLReader[OnnxModel]":
        return _OnnxModelReader(cls)

    def _make_java_param_pair(self, param: "Param[T]", value: T) -> "JavaObject":
        if isinstance(value, Mapping):
            assert self._java_obj is not None
            java_param = self._java_obj.getParam(self._resolveParam(param).name)
            return java_param.w(java_string_map(value))
        return super()._make_java_param_pair(param, value)

    def _defaults_from_java(self) -> None:
        java = self._java_obj
        assert java is not None
        for param in self.params:
            if java.hasParam(param.name):
                java_param = java.getParam(param.name)
                if java.hasDefault(java_param):
                    self._setDefault(**{param.name: _from_java_value(java.getDefault(java_param).get())})


class _OnnxModelReader(JavaMLReader[OnnxModel]):
    """Loads with io.sparkort.OnnxModel.read(); PySpark would look for sparkort.model.OnnxModel."""

    @classmethod
    def _java_loader_class(cls, clazz: Type[Any]) -> str:
        return JAVA_STAGE


def register_java_package() -> None:
    """Lets PySpark find this class for a Java stage named io.sparkort.OnnxModel.

    PySpark maps a saved or Java-built stage to its Python class by importing the Java class's
    package name ("org.apache.spark" becomes "pyspark"): for io.sparkort.OnnxModel that is
    ``__import__("io.sparkort")``, which fails because ``io`` is the standard library's module. The
    import system looks in sys.modules first, so an entry there under that name answers it.
    """
    package_name, class_name = JAVA_STAGE.rsplit(".", 1)
    if package_name not in sys.modules:
        module = types.ModuleType(package_name, "Python classes of the io.sparkort Java stages (sparkort).")
        setattr(module, class_name, OnnxModel)
        sys.modules[package_name] = module


__all__: List[str] = ["OnnxModel"]
