package io.sparkort;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The columnar path (ColumnarScorer): a child that hands over column batches (Spark's vectorized
 * Parquet reader, the in-memory cache) is scored from its column vectors. Every test scores the same
 * input both ways, with spark.sparkort.columnar on and off, checks from the executed plan which way
 * each went, and requires the same rows, bit for bit (Row equality), and ONNX Runtime Python's
 * outputs where the case has them.
 */
class ColumnarScoringTest {
  private static SparkSession spark;
  private static File scratch;

  @BeforeAll
  static void startSpark() throws IOException {
    spark = TestCase.localSpark("sparkort-columnar").getOrCreate();
    scratch = Files.createTempDirectory("sparkort-columnar").toFile();
  }

  @AfterAll
  static void stopSpark() throws IOException {
    spark.stop();
    try (Stream<java.nio.file.Path> paths = Files.walk(scratch.toPath())) {
      paths.sorted(Comparator.reverseOrder()).map(java.nio.file.Path::toFile).forEach(File::delete);
    }
  }

  @AfterEach
  void defaults() {
    spark.conf().unset(SparkOrtConf.COLUMNAR);
  }

  private static Dataset<Row> parquet(Dataset<Row> df, String name) {
    String path = new File(scratch, name).getAbsolutePath();
    df.write().mode("overwrite").parquet(path);
    return spark.read().parquet(path);
  }

  /** The scoring nodes of {@code scored}'s executed plan, and whether each is columnar. */
  private static List<Boolean> columnarNodes(Dataset<Row> scored) {
    List<Boolean> out = new ArrayList<>();
    for (OnnxScoreExec node : Plans.find(Plans.executedPlan(scored), OnnxScoreExec.class)) {
      out.add(node.supportsColumnar());
    }
    return out;
  }

  /**
   * Scores {@code input} with {@code model} columnar and by rows; asserts the first went columnar
   * (or not, as {@code expectColumnar} says), the second by rows, and that their rows (by id) are
   * equal. Returns the columnar run's rows.
   */
  private static List<Row> bothWays(OnnxModel model, Dataset<Row> input, boolean expectColumnar, String what) {
    spark.conf().set(SparkOrtConf.COLUMNAR, "true");
    Dataset<Row> columnar = model.transform(input).orderBy("id");
    assertEquals(Arrays.asList(expectColumnar), columnarNodes(columnar), what + ": scored from column batches");
    List<Row> columnarRows = columnar.collectAsList();
    spark.conf().set(SparkOrtConf.COLUMNAR, "false");
    Dataset<Row> rows = model.transform(input).orderBy("id");
    assertEquals(Arrays.asList(false), columnarNodes(rows), what + ": with the conf off, by rows");
    assertEquals(rows.collectAsList(), columnarRows, what + ": columnar and row paths give the same rows");
    return columnarRows;
  }

  @Test
  void everyNumericCaseScoresAlikeFromParquetBothWays() {
    // Every element type the path converts (each passthrough case also fetches a one-value output),
    // two inputs at once, a scalar column, weights of half types and an output of 0 values a row.
    String[] columnarCases = {"linear", "mlp", "two_inputs", "scalar_in", "half_weights", "zero_output",
        "passthrough_float32", "passthrough_float64", "passthrough_float16", "passthrough_int8", "passthrough_int16",
        "passthrough_int32", "passthrough_int64", "passthrough_uint8", "passthrough_uint32", "passthrough_uint64",
        "passthrough_bool"};
    for (String name : columnarCases) {
      TestCase c = TestCase.load(name);
      Dataset<Row> input = parquet(c.dataFrame(spark, 2), name);
      c.assertMatchesOnnxRuntime(bothWays(c.onnxModel(), input, true, name));
    }
    // Outputs the columnar path does not build (nested arrays per row, maps, strings) go by rows, alike.
    for (String name : new String[] {"nd_transpose", "zipmap"}) {
      TestCase c = TestCase.load(name);
      Dataset<Row> input = parquet(c.dataFrame(spark, 2), name);
      c.assertMatchesOnnxRuntime(bothWays(c.onnxModel(), input, false, name));
    }
  }

  /**
   * The node over a scan's batches, columnar or not, in plans Spark compares (a scored DataFrame
   * joined with itself, whose exchanges are reused, by their canonical copies): the canonical
   * copies are made, the columnar node stays straight over the scan, the row node keeps Spark's
   * columnar-to-row step, and each gives its rows as a plan without reuse does.
   */
  @Test
  void scoredPlansAreComparedAndReusedOnBothPaths() {
    spark.conf().set(SparkOrtConf.COLUMNAR, "true");
    for (String name : new String[] {"linear", "zipmap"}) {
      TestCase c = TestCase.load(name);
      Dataset<Row> scored = c.onnxModel().transform(parquet(c.dataFrame(spark, 2), name + "-reused"));
      org.apache.spark.sql.execution.SparkPlan plan = Plans.executedPlan(scored);
      assertTrue(plan.sameResult(plan), name + ": its canonical copy");
      OnnxScoreExec node = Plans.find(plan, OnnxScoreExec.class).get(0);
      boolean columnar = name.equals("linear");
      assertEquals(columnar, node.supportsColumnar(), name);
      assertEquals(!columnar, node.child() instanceof org.apache.spark.sql.execution.ColumnarToRowExec
          || node.child().toString().contains("ColumnarToRow"), name + ": " + plan);
      Dataset<Row> counts = scored.groupBy("id").count();
      Dataset<Row> twice = counts.union(counts);
      spark.conf().set("spark.sql.exchange.reuse", "false");
      List<Row> unreused = twice.orderBy("id").collectAsList();
      spark.conf().unset("spark.sql.exchange.reuse");
      assertEquals(unreused, twice.orderBy("id").collectAsList(), name + ": with exchanges reused");
      assertEquals(2 * c.rows, unreused.size(), name);
    }
  }

  /** linear's 8 features as 8 scalar columns of 4 Spark types, in one [N, 8] float input. */
  private static Dataset<Row> scalarColumns(TestCase c, int partitions) {
    Dataset<Row> df = c.dataFrame(spark, partitions);
    String[] types = {"double", "float", "int", "bigint"};
    List<Column> columns = new ArrayList<>();
    columns.add(col("id"));
    for (int i = 0; i < 8; i++) {
      Column element = col("col_features").getItem(i);
      // Integers are the features scaled, so they are not all zero.
      columns.add((i % 4 >= 2 ? element.multiply(100) : element).cast(types[i % 4]).as("f" + i));
    }
    return df.select(columns.toArray(new Column[0]));
  }

  private static OnnxModel linearOverScalars(TestCase c) {
    Map<String, String> feed = new LinkedHashMap<>();
    feed.put("features", "f0, f1, f2, f3, f4, f5, f6, f7");
    return new OnnxModel().setModelLocation(c.model.getAbsolutePath()).setFeedDict(feed).setFetchDict(c.fetchDict());
  }

  @Test
  void scalarColumnsOfSeveralTypesFeedOneInputAlike() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> input = parquet(scalarColumns(c, 2), "linear-scalars");
    List<Row> rows = bothWays(linearOverScalars(c), input, true, "scalar columns");
    assertEquals(c.rows, rows.size());
    // The cache of primitive columns hands over batches too.
    Dataset<Row> cached = input.cache();
    try {
      assertEquals(rows, bothWays(linearOverScalars(c), cached, true, "cached scalar columns"));
    } finally {
      cached.unpersist(true);
    }
  }

  /** {@code df} in a Parquet file whose values are plainly encoded: Spark's reader then hands them over in its vectors' arrays. */
  private static Dataset<Row> plainParquet(Dataset<Row> df, String name) {
    String path = new File(scratch, name + "-plain").getAbsolutePath();
    df.write().mode("overwrite").option("parquet.enable.dictionary", "false").parquet(path);
    return spark.read().parquet(path);
  }

  @Test
  void everyLayoutOfTheColumnVectorsScoresAlike() {
    // Values in a dictionary (read one by one), plainly encoded (copied from the vectors' arrays in
    // bulk), in off-heap vectors (copied from their addresses), and in the cache's vectors; arrays
    // of the input's own type, of another, scalar columns interleaved, and rows with null inputs
    // kept, so the bulk copies have gaps.
    String[] cases = {"linear", "passthrough_float64", "passthrough_int32", "passthrough_int64", "passthrough_bool",
        "passthrough_int8", "scalar_in", "two_inputs"};
    for (String name : cases) {
      TestCase c = TestCase.load(name);
      Dataset<Row> df = c.dataFrame(spark, 2);
      List<Row> expected = bothWays(c.onnxModel(), parquet(df, name + "-dict"), true, name + " (dictionary)");
      c.assertMatchesOnnxRuntime(expected);
      Dataset<Row> plain = plainParquet(df, name);
      assertEquals(expected, bothWays(c.onnxModel(), plain, true, name + " (plain)"));
      spark.conf().set("spark.sql.columnVector.offheap.enabled", "true");
      try {
        assertEquals(expected, bothWays(c.onnxModel(), plain, true, name + " (off heap)"));
      } finally {
        spark.conf().unset("spark.sql.columnVector.offheap.enabled");
      }
    }
    TestCase c = TestCase.load("linear");
    Dataset<Row> scalars = scalarColumns(c, 2);
    List<Row> expected = bothWays(linearOverScalars(c), parquet(scalars, "layout-scalars"), true, "scalars");
    assertEquals(expected, bothWays(linearOverScalars(c), plainParquet(scalars, "layout-scalars"), true,
        "scalars (plain)"));
    // Every few rows a null: the rest are copied around them.
    Dataset<Row> gaps = c.dataFrame(spark, 2).withColumn("col_features",
        when(col("id").mod(5).equalTo(2), lit(null)).otherwise(col("col_features")));
    OnnxModel keep = c.onnxModel().setHandleNulls("keep");
    List<Row> kept = bothWays(keep, parquet(gaps, "layout-gaps"), true, "gaps");
    assertEquals(kept, bothWays(keep, plainParquet(gaps, "layout-gaps"), true, "gaps (plain)"));
    Dataset<Row> cached = plainParquet(gaps, "layout-gaps").cache();
    try {
      assertEquals(kept, bothWays(keep, cached, false, "gaps (cached arrays go by rows)"));
    } finally {
      cached.unpersist(true);
    }
    assertEquals(c.rows, kept.size());
    for (Row row : kept) {
      int id = row.getInt(row.fieldIndex("id"));
      assertEquals(id % 5 == 2, row.isNullAt(row.fieldIndex("out_score")), "row " + id);
      if (id % 5 != 2) {
        c.assertRowMatches(row, id, "score");
      }
    }
  }

  @Test
  void batchesLongerThanBatchSizeAreScoredInRunsOfIt() {
    TestCase c = TestCase.load("linear");
    // One file, one task: a Parquet batch of 200 rows, scored 7 rows a run.
    Dataset<Row> input = parquet(scalarColumns(c, 1), "linear-one-file");
    OnnxModel model = linearOverScalars(c).setBatchSize(7);
    List<Row> rows = bothWays(model, input, true, "batchSize 7");
    assertEquals(c.rows, rows.size());
    spark.conf().set(SparkOrtConf.COLUMNAR, "true");
    long before = model.metrics().batches();
    model.transform(input).write().format("noop").mode("overwrite").save();
    assertEquals((c.rows + 6) / 7, model.metrics().batches() - before, "200 rows in runs of 7");
  }

  @Test
  void nullsFollowHandleNullsOnTheColumnarPath() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> withNulls = scalarColumns(c, 2).withColumn("f5", when(col("id").mod(9).equalTo(4), lit(null))
        .otherwise(col("f5")));
    Dataset<Row> input = parquet(withNulls, "linear-nulls");
    List<Row> rows = bothWays(linearOverScalars(c).setHandleNulls("keep"), input, true, "nulls kept");
    int nulls = 0;
    for (Row row : rows) {
      boolean isNull = row.isNullAt(row.fieldIndex("out_score"));
      assertEquals(row.getInt(0) % 9 == 4, isNull, "row " + row.getInt(0) + ": a null input, a null prediction");
      nulls += isNull ? 1 : 0;
    }
    assertTrue(nulls > 10, "the file has nulls: " + nulls);
    for (String columnar : new String[] {"true", "false"}) {
      spark.conf().set(SparkOrtConf.COLUMNAR, columnar);
      Exception e = assertThrows(Exception.class, () -> linearOverScalars(c).transform(input).collectAsList());
      String message = TestCase.causeOf(e, InvalidInputException.class).getMessage();
      assertTrue(message.contains("columns 'f0', 'f1', 'f2', 'f3', 'f4', 'f5', 'f6', 'f7' (model input 'features',")
          && message.contains(" is null; a null cannot be scored (handleNulls='keep'"), columnar + ": " + message);
    }
  }

  @Test
  void anIntegerOutOfTheInputsRangeIsReportedAsByRows() {
    TestCase c = TestCase.load("passthrough_int8");
    Dataset<Row> wide = c.dataFrame(spark, 1).select(col("id"), col("col_x").getItem(0).cast("int").as("a"),
        col("col_x").getItem(1).cast("int").as("b"), when(col("id").equalTo(17), lit(300))
            .otherwise(col("col_x").getItem(2).cast("int")).as("c"));
    Dataset<Row> input = parquet(wide, "int8-range");
    Map<String, String> feed = new LinkedHashMap<>();
    feed.put("x", "a, b, c");
    List<String> messages = new ArrayList<>();
    for (String columnar : new String[] {"true", "false"}) {
      spark.conf().set(SparkOrtConf.COLUMNAR, columnar);
      OnnxModel model = new OnnxModel().setModelLocation(c.model.getAbsolutePath()).setFeedDict(feed)
          .setFetchDict(c.fetchDict());
      Dataset<Row> scored = model.transform(input);
      assertEquals(Arrays.asList(columnar.equals("true")), columnarNodes(scored));
      Exception e = assertThrows(Exception.class, scored::collectAsList);
      messages.add(TestCase.causeOf(e, InvalidInputException.class).getMessage());
    }
    assertEquals(messages.get(1), messages.get(0), "the same message both ways");
    assertTrue(messages.get(0).contains("row 17 of partition 0 holds 300, outside int8's range [-128, 127]"),
        messages.get(0));
  }

  @Test
  void aRowSourceAndAnArrayOfTheWrongLengthStayOnTheirPaths() {
    TestCase c = TestCase.load("linear");
    // A DataFrame of local rows hands over rows: the node is not columnar, whatever the conf.
    spark.conf().set(SparkOrtConf.COLUMNAR, "true");
    assertEquals(Arrays.asList(false), columnarNodes(c.onnxModel().transform(c.dataFrame(spark, 2))));
    // An array of 9 features for an input of 8: the error names the row on the columnar path too.
    Dataset<Row> nine = parquet(c.dataFrame(spark, 1).withColumn("col_features",
        org.apache.spark.sql.functions.concat(col("col_features"), org.apache.spark.sql.functions.array(lit(1.0f)))),
        "linear-nine");
    Dataset<Row> scored = c.onnxModel().transform(nine);
    assertEquals(Arrays.asList(true), columnarNodes(scored));
    Exception e = assertThrows(Exception.class, scored::collectAsList);
    String message = TestCase.causeOf(e, InvalidInputException.class).getMessage();
    assertTrue(message.contains("row 0 of partition 0 has 9 elements, expected 8"), message);
    assertFalse(message.isEmpty());
  }

  @Test
  void theDefaultBatchIsChosenFromTheModelsTensorBytes() {
    long[][] cases = {
        // model, then rows per run: 4 MiB over a row's input and output bytes, 16 to 65536 rows.
        {0, 65536}, // linear: 8 floats in, 1 out: 36 bytes a row, capped
        {1, (4L << 20) / (64 * 4 + 10 * 4)}, // mlp: 64 floats in, 10 out
        {2, 16}, // wide_output: 1 MiB of output a row, at least 16 rows
        {3, 1024}}; // wide_output_open: the output's size is open
    String[] names = {"linear", "mlp"};
    for (long[] k : cases) {
      ScoringPlan plan;
      if (k[0] < 2) {
        TestCase c = TestCase.load(names[(int) k[0]]);
        plan = planOf(c.onnxModel().transform(c.dataFrame(spark, 1)));
      } else {
        String name = k[0] == 2 ? "wide_output" : "wide_output_open";
        File model = new File(System.getProperty("sparkort.test.models", "build/test-models"), name + ".onnx");
        OnnxModel m = new OnnxModel().setModelLocation(model.getAbsolutePath())
            .setFeedDict(java.util.Collections.singletonMap("x", "x"));
        plan = planOf(m.transform(spark.range(1).selectExpr("array(cast(id as float)) as x")));
      }
      assertEquals(k[1], plan.rowsPerRun(ScoringPlan.AUTO_BATCH), "case " + k[0]);
      assertEquals(7, plan.rowsPerRun(7), "an explicit batchSize wins");
    }
  }

  private static ScoringPlan planOf(Dataset<Row> scored) {
    OnnxScoreExec node = Plans.find(Plans.executedPlan(scored), OnnxScoreExec.class).get(0);
    return ((ScoringRequest) node.productElement(2)).planFor(SparkShim.output(node.child()));
  }
}
