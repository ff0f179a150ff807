package io.sparkort;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.SparkSession;
import scala.Option;

/**
 * sparkort's Column functions, for Java and Scala jobs (the Python package has the same as
 * {@code sparkort.predict} and {@code sparkort.register}). Each builds a call of the SQL function
 * {@code onnx_predict}, so {@code df.withColumn("p", onnxPredict(...))}, {@code select} and SQL all
 * score through the same plan node as {@link OnnxModel#transform}.
 *
 * <pre>{@code
 * import static io.sparkort.functions.onnxPredict;
 * df.withColumn("scores", onnxPredict("/models/mlp.onnx", col("features")));
 * }</pre>
 */
@SuppressWarnings("checkstyle:TypeName")
public final class functions {
  private functions() {}

  /**
   * The model's predictions for {@code inputs}: one column per model input in the model's order, or
   * for a model with one input, one array column or several scalar columns. The result is the one
   * output's value, or a struct of the model's outputs by name.
   */
  public static Column onnxPredict(String modelLocation, Column... inputs) {
    prepareActiveSession();
    return org.apache.spark.sql.functions.call_function(PredictFunctions.ONNX_PREDICT,
        prepend(org.apache.spark.sql.functions.lit(modelLocation), inputs));
  }

  /**
   * {@code model}'s predictions with its params: {@code inputs} are the columns of its feedDict in
   * order (none: the feedDict's own columns by name); the result is the one fetched output's value,
   * or a struct by fetchDict column name (by output name for an empty fetchDict).
   */
  public static Column onnxPredict(OnnxModel model, Column... inputs) {
    prepareActiveSession();
    List<Column> options = new ArrayList<>();
    option(options, "modelLocation", model.getModelLocation());
    option(options, "batchSize", String.valueOf(model.getBatchSize()));
    option(options, "handleNulls", model.getHandleNulls());
    List<Column> args = new ArrayList<>();
    for (Map.Entry<String, String> feed : model.getFeedDict().entrySet()) {
      for (String column : feed.getValue().split(",")) {
        args.add(org.apache.spark.sql.functions.col(column.trim()));
        option(options, "input." + args.size(), feed.getKey());
      }
    }
    for (Map.Entry<String, String> fetch : model.getFetchDict().entrySet()) {
      option(options, "output." + fetch.getKey(), fetch.getValue());
    }
    Column[] fed = inputs.length > 0 ? inputs : args.toArray(new Column[0]);
    return org.apache.spark.sql.functions.call_function(PredictFunctions.ONNX_PREDICT,
        prepend(org.apache.spark.sql.functions.map(options.toArray(new Column[0])), fed));
  }

  /**
   * Registers {@code name(columns...)} in {@code spark}, a temporary SQL function scoring with
   * {@code model}'s params as they are now (feedDict order, fetchDict, batchSize, handleNulls). The
   * model is read now. {@code SHOW FUNCTIONS} lists it; {@code DESCRIBE FUNCTION} describes it.
   */
  public static void register(SparkSession spark, String name, OnnxModel model) {
    PredictFunctions.register(spark, name, model);
  }

  /**
   * Adds {@code onnx_predict} and the scoring rules to {@code spark}, a session built without
   * {@link SparkOrtExtensions} (with it, or done before, this does nothing).
   */
  public static void registerFunctions(SparkSession spark) {
    SparkShim.planScoring(spark);
  }

  /** In a session without {@link SparkOrtExtensions}: adds {@code onnx_predict} and the scoring rules. */
  private static void prepareActiveSession() {
    Option<SparkSession> active = SparkSession.getActiveSession();
    if (active.isDefined() && SparkShim.isClassic(active.get())) {
      SparkShim.planScoring(active.get());
    }
  }

  private static void option(List<Column> options, String key, String value) {
    options.add(org.apache.spark.sql.functions.lit(key));
    options.add(org.apache.spark.sql.functions.lit(value));
  }

  private static Column[] prepend(Column first, Column[] rest) {
    Column[] all = new Column[rest.length + 1];
    all[0] = first;
    System.arraycopy(rest, 0, all, 1, rest.length);
    return all;
  }
}
