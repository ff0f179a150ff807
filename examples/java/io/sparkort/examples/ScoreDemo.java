package io.sparkort.examples;

import static org.apache.spark.sql.functions.col;

import io.sparkort.OnnxModel;
import java.util.Arrays;
import java.util.Collections;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Scores a DataFrame of 64-feature rows with an ONNX model, as a spark-submit job:
 *
 * <pre>
 * spark-submit --jars sparkort-0.1.0.jar --class io.sparkort.examples.ScoreDemo sparkort-examples.jar \
 *     mlp.onnx 2000000
 * </pre>
 */
public final class ScoreDemo {
  private ScoreDemo() {}

  public static void main(String[] args) {
    String modelPath = args[0];
    long rows = args.length > 1 ? Long.parseLong(args[1]) : 2_000_000L;
    SparkSession spark = SparkSession.builder().appName("sparkort-demo").getOrCreate();

    // 64 float features per row, materialised in memory so the timing below is scoring alone.
    Dataset<Row> features = spark.range(rows)
        .selectExpr("id", "transform(sequence(0, 63), i -> cast(sin(id * 0.001D + i) as float)) AS features")
        .cache();
    features.count();

    OnnxModel model = new OnnxModel()
        .setModelLocation(modelPath)
        .setFeedDict(Collections.singletonMap("features", "features"))
        .setFetchDict(Collections.singletonMap("probabilities", "probabilities"));
    Dataset<Row> scored = model.transform(features);
    System.out.println("model: " + model.signature());
    scored.select(col("id"), col("probabilities")).show(5, false);

    // One pass warms the JIT and loads the model on every executor; the median of three is reported.
    double[] seconds = new double[4];
    for (int pass = 0; pass < seconds.length; pass++) {
      long start = System.nanoTime();
      scored.write().format("noop").mode("overwrite").save();
      seconds[pass] = (System.nanoTime() - start) / 1e9;
    }
    double[] timed = Arrays.copyOfRange(seconds, 1, seconds.length);
    Arrays.sort(timed);
    double median = timed[timed.length / 2];
    System.out.printf("sparkort scored %d rows on %s: median of 3 passes %.2f s = %.0f rows/s (first pass %.2f s)%n",
        rows, spark.sparkContext().master(), median, rows / median, seconds[0]);
    spark.stop();
  }
}
