"""sparkort: ONNX model inference inside Spark executors.

This release exposes the location of the sparkort jar; the pyspark.ml wrapper comes next.
"""

from sparkort._jvm import jar_path

__all__ = ["jar_path"]
__version__ = "0.1.0"
