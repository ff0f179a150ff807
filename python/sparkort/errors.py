"""sparkort's Python errors: the Java exceptions of io.sparkort, re-raised under these names.

Importing sparkort hooks the converter PySpark applies to every failed JVM call, so an
io.sparkort exception anywhere in a Java error's cause chain surfaces as the matching error below,
with the Java exception's message. That covers the driver-side calls (transform, transformSchema,
save, load) and failed jobs alike: a bad row fails the job at the action the user called (collect,
write, count), and Spark keeps the executor's exception as the cause of the job's failure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Type

if TYPE_CHECKING:
    from py4j.java_gateway import JavaObject


class SparkOrtError(Exception):
    """Base of every sparkort error. ``java_class`` names the Java exception it came from."""

    def __init__(self, message: str, java_class: Optional[str] = None) -> None:
        super().__init__(message)
        self.java_class = java_class


class InvalidInputError(SparkOrtError):
    """A column, model input or row does not fit the model (io.sparkort.InvalidInputException)."""


class ModelLoadError(SparkOrtError):
    """The model cannot be read, saved or loaded (io.sparkort.ModelLoadException)."""


class InferenceError(SparkOrtError):
    """ONNX Runtime failed while scoring a batch (io.sparkort.InferenceException)."""


class NativeLibraryError(SparkOrtError):
    """The native libraries cannot be extracted or loaded (io.sparkort.NativeLibraryException)."""


_BY_JAVA_CLASS: Dict[str, Type[SparkOrtError]] = {
    "io.sparkort.InvalidInputException": InvalidInputError,
    "io.sparkort.ModelLoadException": ModelLoadError,
    "io.sparkort.InferenceException": InferenceError,
    "io.sparkort.NativeLibraryException": NativeLibraryError,
    "io.sparkort.SparkOrtException": SparkOrtError,
}
_JAVA_PACKAGE = "io.sparkort."
_MAX_CAUSES = 32


def from_java(throwable: Optional["JavaObject"]) -> Optional[SparkOrtError]:
    """The error for the first io.sparkort exception in a Java throwable's cause chain, else None."""
    for _ in range(_MAX_CAUSES):
        if throwable is None:
            return None
        thrown = throwable.getClass().getName()
        cls = throwable.getClass()
        # A subclass we do not list maps to its nearest listed ancestor; ours extend only each other.
        while cls is not None and cls.getName().startswith(_JAVA_PACKAGE):
            error = _BY_JAVA_CLASS.get(cls.getName())
            if error is not None:
                return error(throwable.getMessage() or thrown, thrown)
            cls = cls.getSuperclass()
        throwable = throwable.getCause()
    return None


def install() -> None:
    """Puts sparkort's conversion in front of PySpark's for every failed JVM call. Idempotent."""
    try:
        from pyspark.errors.exceptions import captured

        original: Callable[[Any], Any] = captured.convert_exception
    except (ImportError, AttributeError):  # a PySpark without this hook: Java errors stay Py4JJavaError
        return
    if getattr(original, "_sparkort", False):
        return

    def convert_exception(e: "JavaObject") -> Any:
        try:
            error = from_java(e)
        except Exception:  # a broken gateway: leave the error to PySpark as it was
            error = None
        return error if error is not None else original(e)

    setattr(convert_exception, "_sparkort", True)
    captured.convert_exception = convert_exception


def _sparkort_error_in(classes: Any, message: str) -> Optional[SparkOrtError]:
    for name in classes:
        error = _BY_JAVA_CLASS.get(name)
        if error is not None:
            return error(message, name)
    return None


def from_connect(info: Any, message: str, resp: Any) -> Optional[SparkOrtError]:
    """The error for the first io.sparkort exception a Spark Connect server reported, else None."""
    import json

    if resp is not None:
        for error in getattr(resp, "errors", []):
            found = _sparkort_error_in(list(error.error_type_hierarchy), error.message)
            if found is not None:
                return found
    raw = info.metadata.get("classes") if info is not None else None
    found = _sparkort_error_in(json.loads(raw) if raw else [], message)
    if found is not None:
        return found
    # A failed job names the executor's exception in its message only.
    for name in _BY_JAVA_CLASS:
        marker = name + ": "
        if marker in message:
            return _BY_JAVA_CLASS[name](message[message.index(marker) + len(marker):].split("\n")[0], name)
    return None


def install_connect() -> None:
    """Converts io.sparkort exceptions a Spark Connect server reports, as ``install`` does for py4j.

    Idempotent; does nothing where the Connect client (grpc) is not installed.
    """
    try:
        from pyspark.errors.exceptions import connect as errors_module
        from pyspark.sql.connect.client import core
    except ImportError:
        return
    original: Callable[..., Any] = getattr(core, "convert_exception")
    if getattr(original, "_sparkort", False):
        return

    def convert_exception(info: Any, truncated_message: str, resp: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            error = from_connect(info, truncated_message, resp)
        except Exception:  # an unexpected response: leave it to PySpark
            error = None
        return error if error is not None else original(info, truncated_message, resp, *args, **kwargs)

    setattr(convert_exception, "_sparkort", True)
    setattr(core, "convert_exception", convert_exception)
    setattr(errors_module, "convert_exception", convert_exception)


def connect_client_active() -> bool:
    """Whether this process already runs a Spark Connect client (checked without importing one)."""
    import os
    import sys

    return "pyspark.sql.connect.client.core" in sys.modules or "SPARK_CONNECT_MODE_ENABLED" in os.environ
