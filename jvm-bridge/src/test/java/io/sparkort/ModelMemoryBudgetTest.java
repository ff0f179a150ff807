package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

/** spark.sparkort.modelMemory: an executor holding one model's worth closes the idle one to load another. */
class ModelMemoryBudgetTest {
  @Test
  void leastRecentlyUsedIdleModelIsClosedToLoadAnother() {
    TestCase c = TestCase.load("mlp");
    File first = TestModels.variant(c, 21);
    File second = TestModels.variant(c, 22);
    SparkSession spark = TestCase.localSpark("sparkort-memory-budget-test")
        .config(ModelNode.MEMORY_CONF, Long.toString(first.length() + first.length() / 2))
        .getOrCreate();
    try {
      Dataset<Row> input = c.dataFrame(spark, 2);
      OnnxModel a = c.onnxModel().setModelLocation(first.getPath());
      OnnxModel b = c.onnxModel().setModelLocation(second.getPath());
      c.assertMatchesOnnxRuntime(a.transform(input).collectAsList());
      c.assertMatchesOnnxRuntime(a.transform(input).collectAsList());
      assertEquals(1, a.metrics().modelLoads(), "a stays open between jobs");
      c.assertMatchesOnnxRuntime(b.transform(input).collectAsList());
      c.assertMatchesOnnxRuntime(a.transform(input).collectAsList());
      assertEquals(2, a.metrics().modelLoads(), "b's load closed a, so a was loaded again");
      assertEquals(1, b.metrics().modelLoads());
    } finally {
      spark.stop();
    }
  }
}
