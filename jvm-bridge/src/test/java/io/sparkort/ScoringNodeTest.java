package io.sparkort;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The scored DataFrame's own physical node, and the plans Spark builds on top of it. */
class ScoringNodeTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = TestCase.localSpark("sparkort-scoring-node").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @Test
  void scoredRowsAreNotProjectedAgain() {
    TestCase c = TestCase.load("two_inputs");
    Dataset<Row> scored = c.onnxModel().setBatchSize(5).transform(c.dataFrame(spark, 3));
    String plan = physicalPlan(scored);
    assertTrue(plan.contains("OnnxScore"), plan);
    assertFalse(plan.contains("ExistingRDD") || plan.contains("Project"), "nothing copies the rows again:\n" + plan);
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @Test
  void theScanCountsTheRowsItHandsOnForTheSqlTab() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> scored = c.onnxModel().setBatchSize(4).transform(c.dataFrame(spark, 3));
    OnnxScoreExec scan = Plans.find(Plans.executedPlan(scored), OnnxScoreExec.class).get(0);
    assertEquals(scan.nodeMetrics().outputRows, scan.metrics().apply("numOutputRows"));
    // Each action starts its plan's metrics from 0, as for Spark's own nodes.
    assertEquals(c.rows, scored.collectAsList().size());
    assertEquals(c.rows, scan.nodeMetrics().outputRows.value());
    assertEquals(c.rows, scan.nodeMetrics().scoredRows.value());
    // A limit stops reading early: only the rows handed on count.
    Dataset<Row> limited = scored.limit(3);
    assertEquals(3, limited.collectAsList().size());
    OnnxScoreExec limitedScan = Plans.find(Plans.executedPlan(limited), OnnxScoreExec.class).get(0);
    assertEquals(3, limitedScan.nodeMetrics().outputRows.value());
  }

  @Test
  void everySessionPlansItsScoredDataFrames() {
    SparkSession other = spark.newSession();
    TestCase c = TestCase.load("linear");
    Dataset<Row> scored = c.onnxModel().transform(c.dataFrame(other, 2));
    assertTrue(physicalPlan(scored).contains("OnnxScore"), physicalPlan(scored));
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @Test
  void rowsStayRightThroughPruningFiltersCachesJoinsAndShuffles() {
    TestCase c = TestCase.load("two_inputs");
    Dataset<Row> scored = c.onnxModel().setBatchSize(4).transform(c.dataFrame(spark, 3));

    // Only the outputs: the input columns the model needs are pruned above the scan, not below it.
    c.assertMatchesOnnxRuntime(scored.select("id", "out_sum", "out_norm").collectAsList());

    List<Row> even = scored.filter(col("id").mod(2).equalTo(0)).collectAsList();
    for (Row row : even) {
      int id = row.getInt(row.fieldIndex("id"));
      assertEquals(0, id % 2);
      c.assertRowMatches(row, id, "sum");
    }
    assertEquals((c.rows + 1) / 2, even.size());

    Dataset<Row> cached = scored.cache();
    assertEquals(c.rows, cached.count());
    c.assertMatchesOnnxRuntime(cached.collectAsList());
    cached.unpersist();

    // A shuffle keeps rows it has not sent yet: each must be its own copy, not the scorer's reused row.
    c.assertMatchesOnnxRuntime(scored.repartition(2, col("out_norm")).collectAsList());
    c.assertMatchesOnnxRuntime(scored.orderBy(col("out_norm").desc()).collectAsList());

    Dataset<Row> joined = scored.alias("a").join(scored.alias("b"), col("a.id").equalTo(col("b.id")))
        .select(col("a.id").as("id"), col("a.out_sum").as("out_sum"), col("b.out_norm").as("out_norm"));
    c.assertMatchesOnnxRuntime(joined.collectAsList());
  }

  @Test
  void inputValuesSurviveWhenTheOutputRowNeedsMoreNullBits() {
    // 61 more columns (strings, some null) put the input at 64 fields: the output's null bits take
    // a second word, so every string's offset in the output row moves.
    TestCase c = TestCase.load("two_inputs");
    Dataset<Row> input = c.dataFrame(spark, 2);
    for (int i = 0; i < 61; i++) {
      input = input.withColumn("s" + i,
          when(col("id").mod(i + 2).equalTo(0), lit(null).cast("string")).otherwise(concat(lit("v" + i + "-"), col("id"))));
    }
    assertEquals(64, input.columns().length);
    List<Row> rows = c.onnxModel().setBatchSize(3).transform(input).collectAsList();
    c.assertMatchesOnnxRuntime(rows);
    for (Row row : rows) {
      int id = row.getInt(row.fieldIndex("id"));
      for (int i = 0; i < 61; i++) {
        Object value = row.get(row.fieldIndex("s" + i));
        assertEquals(id % (i + 2) == 0 ? null : "v" + i + "-" + id, value, "row " + id + " column s" + i);
      }
    }
  }

  @Test
  void rowsThatGrowAndRowsWithANullElementInOneBatchKeepTheirValues() {
    // One batch: each row's string is longer than the last, so the batch's rows outgrow the room the
    // first row suggested; every seventh row has a null feature element and is kept with nulls.
    TestCase c = TestCase.load("two_inputs");
    Dataset<Row> input = c.dataFrame(spark, 1)
        .selectExpr("id", "IF(id % 7 = 3, array(col_a[0], CAST(NULL AS FLOAT), col_a[2]), col_a) AS col_a", "col_b",
            "repeat('x', id * 40) AS pad");
    List<Row> rows = c.onnxModel().setHandleNulls("keep").setBatchSize(c.rows).transform(input).collectAsList();
    assertEquals(c.rows, rows.size(), "no row is lost");
    for (Row row : rows) {
      int id = row.getInt(row.fieldIndex("id"));
      assertEquals(id * 40, row.getString(row.fieldIndex("pad")).length(), "row " + id);
      if (id % 7 == 3) {
        assertTrue(row.isNullAt(row.fieldIndex("out_sum")) && row.isNullAt(row.fieldIndex("out_norm")), "row " + id);
      } else {
        c.assertRowMatches(row, id, "sum");
        c.assertRowMatches(row, id, "norm");
      }
    }
  }

  private static String physicalPlan(Dataset<Row> dataset) {
    return Plans.executedPlan(dataset).toString();
  }
}
