package io.sparkort;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.execution.QueryExecution;
import org.apache.spark.sql.types.StructType;

/**
 * The Spark internals sparkort reaches for, found by name at run time: Spark 4 moved them from
 * {@code org.apache.spark.sql.Dataset}/{@code SparkSession} to their {@code classic} subclasses,
 * so a call compiled against 3.5 would not link there. Everything version-specific stays here.
 */
final class SparkShim {
  private SparkShim() {}

  /** The Dataset's rows as Spark computes them internally (no conversion to {@code Row}). */
  static RDD<InternalRow> internalRows(Dataset<?> dataset) {
    QueryExecution execution = (QueryExecution) invoke(dataset, "queryExecution");
    return execution.toRdd();
  }

  /** A DataFrame over internal rows that already match {@code schema}. */
  @SuppressWarnings("unchecked")
  static Dataset<Row> createDataFrame(SparkSession session, RDD<InternalRow> rows, StructType schema) {
    return (Dataset<Row>)
        invoke(session, "internalCreateDataFrame", new Class<?>[] {RDD.class, StructType.class, boolean.class},
            rows, schema, false);
  }

  private static Object invoke(Object target, String name) {
    return invoke(target, name, new Class<?>[0]);
  }

  private static Object invoke(Object target, String name, Class<?>[] types, Object... args) {
    try {
      Method method = target.getClass().getMethod(name, types);
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      throw new SparkOrtException(name + " failed: " + cause, cause);
    } catch (ReflectiveOperationException e) {
      throw new SparkOrtException(
          "this Spark version has no " + target.getClass().getName() + "." + name
              + "; sparkort supports Spark 3.5 and 4.x", e);
    }
  }
}
