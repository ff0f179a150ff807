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
