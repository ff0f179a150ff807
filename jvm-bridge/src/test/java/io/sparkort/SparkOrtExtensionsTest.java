package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A session built with {@code spark.sql.extensions=io.sparkort.SparkOrtExtensions} plans and
 * optimizes scoring nodes through the extension alone: nothing is added to its
 * {@code spark.experimental}.
 */
class SparkOrtExtensionsTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = TestCase.localSpark("sparkort-extensions").config("spark.sql.extensions", SparkOrtExtensions.class.getName())
        .getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @Test
  void theExtensionAlonePlansPrunesAndPushesDown() {
    for (SparkSession session : Arrays.asList(spark, spark.newSession())) {
      TestCase c = TestCase.load("linear");
      OnnxModel model = c.onnxModel();
      Dataset<Row> scored = model.transform(c.dataFrame(session, 3));
      c.assertMatchesOnnxRuntime(scored.collectAsList());
      assertEquals(10, scored.filter("id < 10").collectAsList().size());
      assertEquals(c.rows + 10, model.metrics().rowsScored(), "the filter went below the model");
      assertEquals(c.rows, scored.select("id").count());
      assertEquals(c.rows + 10, model.metrics().rowsScored(), "no prediction read, no row scored");
      List<LogicalPlan> optimized = Plans.nodes(Plans.optimizedPlan(scored.select("id")));
      assertTrue(optimized.stream().noneMatch(n -> n instanceof OnnxScore), optimized.toString());
      assertTrue(session.experimental().extraStrategies().isEmpty(), "nothing added to spark.experimental");
      assertTrue(session.experimental().extraOptimizations().isEmpty(), "nothing added to spark.experimental");
    }
  }
}
