"""The sparkort jar, and the few py4j steps the wrapper needs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from sparkort.errors import SparkOrtError

if TYPE_CHECKING:
    from py4j.java_gateway import JavaObject
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

JAVA_STAGE = "io.sparkort.OnnxModel"


def jar_path() -> str:
    """The sparkort jar: the one bundled in this package, else a source checkout's build output.

    SPARKORT_JAR overrides both.
    """
    from sparkort import __version__

    override = os.environ.get("SPARKORT_JAR")
    candidates = [Path(override)] if override else []
    here = Path(__file__).resolve().parent
    name = f"sparkort-{__version__}.jar"
    candidates += [here / "jars" / name, here.parents[1] / "dist" / name]
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    raise FileNotFoundError("no sparkort jar at " + ", ".join(str(c) for c in candidates) + "; run `make build`")


def session_builder() -> "SparkSession.Builder":
    """``SparkSession.builder`` with the sparkort jar on the driver's and the executors' classpath.

    The jar is added through ``spark.jars``, which Spark reads when it starts: an application that
    already runs (a notebook's ``spark``) needs the jar as a cluster library instead.
    """
    from pyspark.sql import SparkSession

    return SparkSession.builder.config("spark.jars", jar_path())


def active_context() -> "SparkContext":
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        raise SparkOrtError("no active SparkSession: create one first, e.g. sparkort.session_builder().getOrCreate()")
    return sc


def new_java_stage(uid: str) -> "JavaObject":
    """A new io.sparkort.OnnxModel in the JVM, or a clear error when the jar is not there."""
    from py4j.java_gateway import JavaClass

    jvm = active_context()._jvm
    assert jvm is not None
    cls = jvm.io.sparkort.OnnxModel
    if not isinstance(cls, JavaClass):
        raise SparkOrtError(
            f"{JAVA_STAGE} is not on this Spark application's classpath: start Spark with "
            "sparkort.session_builder() (or spark.jars=sparkort.jar_path()), or attach the sparkort jar "
            "as a cluster library"
        )
    return cls(uid)


def java_string_map(values: Mapping[str, str]) -> "JavaObject":
    """A java.util.LinkedHashMap: PySpark's own conversion gives a HashMap, losing the order."""
    jvm = active_context()._jvm
    assert jvm is not None
    out = jvm.java.util.LinkedHashMap()
    for key, value in values.items():
        out.put(key, value)
    return out
