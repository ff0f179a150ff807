package io.sparkort;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.spark.sql.AnalysisException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A session built without the extension has {@code onnx_predict} once the sparkort API has been used
 * in it; its calls are taken into scoring nodes by the optimizer, and score as in a session with the
 * extension.
 */
class SqlWithoutExtensionTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = TestCase.localSpark("sparkort-sql-plain").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @Test
  void onnxPredictResolvesOnceTheApiIsUsedAndScoresInOneNode() {
    TestCase c = TestCase.load("linear");
    SparkSession session = spark.newSession();
    c.dataFrame(session, 2).createOrReplaceTempView("plain");
    String call = "onnx_predict('" + c.model.getAbsolutePath() + "', col_features)";
    AnalysisException unknown = assertThrows(AnalysisException.class, () -> session.sql("SELECT " + call + " FROM plain"));
    assertTrue(unknown.getMessage().toLowerCase(java.util.Locale.ROOT).contains("onnx_predict"), unknown.getMessage());

    SparkSession.setActiveSession(session);
    functions.onnxPredict(c.model.getAbsolutePath(), col("col_features"));
    Dataset<Row> scored = session.sql("SELECT id, " + call + " AS out_score FROM plain");
    c.assertMatchesOnnxRuntime(scored.collectAsList());
    List<LogicalPlan> optimized = Plans.nodes(Plans.optimizedPlan(scored));
    assertEquals(1, optimized.stream().filter(n -> n instanceof OnnxScore).count(), optimized.toString());

    long positive = c.onnxModel().transform(session.table("plain")).filter("out_score > 0").count();
    assertEquals(positive, session.sql("SELECT id FROM plain WHERE " + call + " > 0").count());
    Dataset<Row> filtered = session.sql("SELECT id, " + call + " AS out_score FROM plain WHERE id < 10");
    assertEquals(10, filtered.count());
    assertEquals(1, Plans.find(Plans.executedPlan(filtered), OnnxScoreExec.class).size());
  }
}
