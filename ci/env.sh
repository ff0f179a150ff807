# Sourced by the ci/ scripts: paths every step agrees on. Needs ci/setup to have run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. ci/versions.env
# The product is built against (and the full suite runs on) Spark 3.5 in .venv; ci/test runs the
# end-to-end suites again with the same jar on Spark 4 in .venv-spark4.
VENV_SPARK4="$ROOT/.venv-spark4"
# A virtualenv holding only what a user installs (pyspark, onnxruntime) plus the built wheel.
VENV_USER="$ROOT/.venv-user"
# A Spark Connect client (pyspark-client, no py4j), run by the Connect tests against a Spark 4.1 server.
VENV_CONNECT="$ROOT/.venv-connect"
ORT_LIBRARY="$(ls "$("$ROOT/.venv/bin/python" -c 'import os, onnxruntime; print(os.path.dirname(onnxruntime.__file__))')"/capi/libonnxruntime.so.*)"
JAR="$ROOT/dist/sparkort-$SPARKORT_VERSION.jar"
WHEEL="$ROOT/dist/sparkort-$SPARKORT_VERSION-py3-none-any.whl"
PLATFORM=linux-x86_64
# Arrow Java on JDK 17 needs java.nio opened (spark-submit adds this itself; plain java does not).
JAVA_OPENS="--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED"

# Points PY, SPARK_JARS, SPARK_HOME and friends at the pyspark installed in virtualenv $1.
use_spark() {
  PY="$1/bin/python"
  PYSPARK_DIR="$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
  SPARK_JARS="$PYSPARK_DIR/jars"
  # Spark's launcher (local-cluster executors, spark-submit) reads the Scala version from here when
  # it is not started by Spark's own shell scripts.
  SPARK_SCALA_VERSION="$(basename "$SPARK_JARS"/scala-library-*.jar | sed -E 's/scala-library-([0-9]+[.][0-9]+).*/\1/')"
  export SPARK_HOME="$PYSPARK_DIR" PYSPARK_PYTHON="$PY" SPARK_SCALA_VERSION
}
use_spark "$ROOT/.venv"

# compile_examples DIR: the example jobs, compiled against the jar as a user's job would be.
compile_examples() {
  mkdir -p "$1"
  javac --release 8 -Xlint:-options -encoding UTF-8 -d "$1" -cp "$JAR:$SPARK_JARS/*" $(find examples/java -name '*.java')
}
