package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile batch sizes, rows and outputs against the scorer's memory: buffers follow the rows that
 * come (never {@code batchSize}), a batch is cut by {@code spark.sparkort.batchBytes} as well as
 * rows, and what does not fit is a named error. Each case checks the rows scored are exactly ONNX
 * Runtime Python's (ci/models.py), none lost or doubled where batches are cut, or the exception's
 * class and message; and after it, that this JVM scores a valid model right.
 */
class BatchMemoryReliabilityTest {
  /** The conf's name, spelled out so this class also compiles against a jar from before it. */
  private static final String BUDGET = "spark.sparkort.batchBytes";
  private static final String CLASS = "io.sparkort.InvalidInputException";
  private static SparkSession spark;
  private static JsonNode big;

  @BeforeAll
  static void startSpark() throws IOException {
    spark = TestCase.localSpark("sparkort-batch-memory-test").getOrCreate();
    File dir = new File(System.getProperty("sparkort.test.models", "build/test-models"));
    big = new ObjectMapper().readTree(new File(dir, "big_rows.json"));
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** After every case, with the budget back at its default: this JVM still scores a valid model right. */
  @AfterEach
  void theSameJvmScoresAValidModel() {
    spark.conf().unset(BUDGET);
    TestCase c = TestCase.load("mlp");
    c.assertMatchesOnnxRuntime(c.onnxModel().transform(c.dataFrame(spark, 2)).collectAsList());
  }

  private static File model(String name) {
    return new File(System.getProperty("sparkort.test.models", "build/test-models"), name + ".onnx");
  }

  private static OnnxModel bigModel(String name, String output) {
    return new OnnxModel().setModelLocation(model(name).getAbsolutePath())
        .setFeedDict(Collections.singletonMap("x", "col_x")).setFetchDict(Collections.singletonMap("out", output));
  }

  /** Rows 0..n-1 of {@code width} (even) floats each, as ci/models.py's big_row makes them, in {@code partitions}. */
  private static Dataset<Row> bigRows(int n, long width, int partitions) {
    long half = width / 2;
    return spark.range(0, n, 1, partitions).selectExpr("id", "concat(array_repeat(cast(id % 3 - 1 as float), " + half
        + "), array_repeat(cast(id % 5 - 2 as float), " + half + ")) as col_x");
  }

  /** The first {@code n} rows of a case, in {@code partitions}. */
  private static Dataset<Row> firstRows(TestCase c, int n, int partitions) {
    return c.dataFrame(spark, partitions).where("id < " + n);
  }

  /** Checks each row of {@code scored} (of {@code ids}) against the case's outputs, each exactly once. */
  private static void assertRows(TestCase c, List<Row> scored, int ids) {
    assertEquals(ids, scored.size(), c.name + ": every row once");
    boolean[] seen = new boolean[ids];
    for (Row row : scored) {
      int id = row.getInt(row.fieldIndex("id"));
      assertTrue(!seen[id], c.name + ": row " + id + " twice");
      seen[id] = true;
      for (String output : c.outputs()) {
        c.assertRowMatches(row, id, output);
      }
    }
  }

  /** The message of the {@code SparkException} (or our exception) {@code job} fails with, its cause our {@code type}. */
  private static String failure(Class<? extends SparkOrtException> type, Executable job) {
    Throwable e = assertThrows(Exception.class, job);
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return t.getMessage();
      }
    }
    assertTrue(e.getMessage().contains(type.getName() + ": "), "expected " + type.getName() + ": " + e);
    return e.getMessage();
  }

  private static void assertContains(String message, String... parts) {
    for (String part : parts) {
      assertTrue(message.contains(part), "expected '" + part + "' in: " + message);
    }
  }

  // --- batch sizes far beyond the rows ---

  @ParameterizedTest
  @ValueSource(ints = {Integer.MAX_VALUE, 100_000_000})
  void aHugeBatchSizeOnTenRowsTakesWhatTheRowsTake(int batchSize) {
    TestCase c = TestCase.load("linear");
    assertRows(c, c.onnxModel().setBatchSize(batchSize).transform(firstRows(c, 10, 2)).collectAsList(), 10);
  }

  @Test
  void aHugeBatchSizeWithJoinedRowsTooMapsAndAll() {
    TestCase c = TestCase.load("zipmap");
    assertRows(c, c.onnxModel().setBatchSize(Integer.MAX_VALUE).transform(c.dataFrame(spark, 3)).collectAsList(), c.rows);
  }

  @Test
  void batchSizeHasARangeAndTheBudgetConfToo() {
    OnnxModel m = TestCase.load("linear").onnxModel();
    assertEquals(ScoringPlan.AUTO_BATCH, m.setBatchSize(0).getBatchSize(), "0: sparkort chooses");
    for (int bad : new int[] {-1, Integer.MIN_VALUE}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.setBatchSize(bad));
      assertContains(e.getMessage(), "batchSize given invalid value " + bad);
    }
    assertContains(m.batchSize().doc(), "1 to 2147483647", BUDGET);
    TestCase c = TestCase.load("linear");
    for (String bad : new String[] {"lots", "512", "3g", "-1m"}) {
      spark.conf().set(BUDGET, bad);
      String message = failure(InvalidInputException.class, () -> c.onnxModel().transform(c.dataFrame(spark, 1)).write().format("noop").mode("overwrite").save());
      assertContains(message, BUDGET + " = '" + bad + "'");
    }
  }

  // --- batches cut by bytes: no row lost or doubled ---

  @Test
  void manyMediumRowsAddingPastTheBudgetAreCutIntoBatches() {
    spark.conf().set(BUDGET, "16k");
    TestCase c = TestCase.load("mlp");
    OnnxModel model = c.onnxModel();
    assertRows(c, model.transform(c.dataFrame(spark, 2)).collectAsList(), c.rows);
    // A row takes about 700 bytes here: 16k holds some 23 of them, where the batch size (chosen: 14170 rows) holds all 300.
    long batches = model.metrics().batches();
    assertTrue(batches >= c.rows / 25 && batches <= c.rows / 15 + 4, "batches: " + batches);
  }

  @Test
  void joinedRowsAreCutByTheBytesTheirOutputsMeasure() {
    spark.conf().set(BUDGET, "4k");
    TestCase c = TestCase.load("zipmap");
    OnnxModel model = c.onnxModel();
    assertRows(c, model.transform(c.dataFrame(spark, 2)).collectAsList(), c.rows);
    assertTrue(model.metrics().batches() > 2 * 2, "cut into more batches than partitions: " + model.metrics());
  }

  @Test
  void stringRowsCutByBytesScoreAsOnnxRuntimeSaysAndNulBytesPass() {
    spark.conf().set(BUDGET, "1k");
    TestCase c = TestCase.load("string_nul");
    assertRows(c, c.onnxModel().transform(c.dataFrame(spark, 2)).collectAsList(), c.rows);
  }

  @Test
  void oneRowBatchesAndEmptyPartitions() {
    TestCase c = TestCase.load("unseen_mlp");
    Dataset<Row> sparse = c.dataFrame(spark, 1).where("id % 100 = 7").repartition(9);
    List<Row> scored = c.onnxModel().setBatchSize(1).transform(sparse).collectAsList();
    assertEquals(5, scored.size());
    for (Row row : scored) {
      c.assertRowMatches(row, row.getInt(0), "out");
    }
    assertEquals(0, c.onnxModel().transform(c.dataFrame(spark, 3).where("id < 0")).count());
  }

  // --- huge rows ---

  @Test
  void aRowLargerThanTheBudgetNamesItsColumnRowAndSizes() {
    OnnxModel model = bigModel("row_sum_open", "total");
    // 100 MB: today's default batch (1024 rows) of it would ask for 102,400,000,000 bytes.
    String message = failure(InvalidInputException.class, () -> model.transform(bigRows(1, 25_000_000, 1)).write().format("noop").mode("overwrite").save());
    assertContains(message, "row 0 of partition 0 takes 103125032 bytes", "column 'col_x' (model input 'x', float32 [N, M]) 103125008 of them",
        "more than the batch budget of 67108864 bytes", "raise " + BUDGET);
  }

  @Test
  void hugeRowsScoreEachInABatchOfItsOwn() {
    // Two rows of 40 MB: each alone fits the default 64 MiB, the two together do not.
    OnnxModel model = bigModel("row_sum_open", "total");
    List<Row> scored = model.transform(bigRows(2, 10_000_000, 1)).selectExpr("id", "out").collectAsList();
    assertBigSums(scored, "row_sum_open", 10_000_000, 2);
    assertEquals(2, model.metrics().batches(), "a batch each");
  }

  @Test
  void batchSizeOneWithALargeFixedInputAndARaisedBudget() {
    spark.conf().set(BUDGET, "1g");
    OnnxModel model = bigModel("row_sum_1048576", "total").setBatchSize(1);
    assertBigSums(model.transform(bigRows(4, 1 << 20, 2)).selectExpr("id", "out").collectAsList(), "row_sum_1048576",
        1 << 20, 4);
    OnnxModel batched = bigModel("row_sum_1048576", "total");
    assertBigSums(batched.transform(bigRows(4, 1 << 20, 1)).selectExpr("id", "out").collectAsList(), "row_sum_1048576",
        1 << 20, 4);
    assertEquals(1, batched.metrics().batches(), "four rows of 8 MB fit 1g in one batch");
  }

  private static void assertBigSums(List<Row> scored, String name, long width, int rows) {
    assertEquals(rows, scored.size());
    JsonNode sums = big.get(name).get(Long.toString(width));
    boolean[] seen = new boolean[rows];
    for (Row row : scored) {
      int id = (int) row.getLong(0);
      assertTrue(!seen[id], "row " + id + " twice");
      seen[id] = true;
      assertEquals(sums.get(id).asDouble(), row.getFloat(1), 0.0, name + " row " + id + ": sparkort vs ONNX Runtime Python");
    }
  }

  @Test
  void aSparseVectorClaimingABillionValuesIsRefusedBeforeAnyMemory() {
    StructType schema = new StructType().add("id", DataTypes.LongType).add("col_x", SQLDataTypes.VectorType());
    List<Row> rows = Arrays.asList(RowFactory.create(0L, Vectors.sparse(Integer.MAX_VALUE, new int[] {5}, new double[] {1})));
    Dataset<Row> df = spark.createDataFrame(rows, schema);
    String message = failure(InvalidInputException.class, () -> bigModel("row_sum_open", "total").transform(df).write().format("noop").mode("overwrite").save());
    assertContains(message, "column 'col_x' (model input 'x', float32 [N, M]): row 0 of partition 0 takes a tensor of "
        + 4L * Integer.MAX_VALUE + " bytes, more than the batch budget");
  }

  // --- huge outputs ---

  @Test
  void aMebibyteOfOutputARowAtBatchSize1024() {
    assertWideOutputs("wide_output", 1024, 150 / 64, 150 / 50 + 2);
  }

  @Test
  void aMebibyteOfOutputARowAtTheDefaultBatchSize() {
    // The signature fixes 1 MiB a row: the batch sparkort chooses is its fewest, 16 rows.
    assertWideOutputs("wide_output", ScoringPlan.AUTO_BATCH, 10, 10);
  }

  @Test
  void aMebibyteOfOutputARowWhoseShapeTheSignatureLeavesOpen() {
    // Open: the chosen batch is 1024 rows, which the budget cuts as it does an explicit 1024.
    assertWideOutputs("wide_output_open", ScoringPlan.AUTO_BATCH, 150 / 64, 150 / 50 + 2);
  }

  /** 150 rows with 1 MiB of predictions each, in batches of {@code batchSize} rows and the budget: never the 1 GiB of 1024. */
  private void assertWideOutputs(String name, int batchSize, long fewestBatches, long mostBatches) {
    OnnxModel model = bigModel(name, "y").setFeedDict(Collections.singletonMap("x", "col_x")).setBatchSize(batchSize);
    Dataset<Row> df = spark.range(0, 150, 1, 1).selectExpr("id", "array(cast(id % 5 as float)) as col_x");
    List<Row> scored = model.transform(df).selectExpr("id", "size(out)", "array_min(out)", "array_max(out)", "out[12345]")
        .collectAsList();
    assertEquals(150, scored.size());
    JsonNode expected = big.get(name);
    boolean[] seen = new boolean[150];
    for (Row row : scored) {
      int id = (int) row.getLong(0);
      assertTrue(!seen[id], "row " + id + " twice");
      seen[id] = true;
      assertEquals(expected.get("width").asInt(), row.getInt(1));
      int k = id % 5;
      assertEquals(expected.get("min").get(k).asDouble(), row.getFloat(2), 0.0, name + " row " + id + " min");
      assertEquals(expected.get("max").get(k).asDouble(), row.getFloat(3), 0.0, name + " row " + id + " max");
      assertEquals(expected.get("at_12345").get(k).asDouble(), row.getFloat(4), 0.0, name + " row " + id + " [12345]");
    }
    long batches = model.metrics().batches();
    assertTrue(batches >= fewestBatches && batches <= mostBatches, name + " batches: " + batches);
  }

  @Test
  void anOutputLargerThanTheBudgetNamesTheOutput() {
    spark.conf().set(BUDGET, "512k");
    Dataset<Row> df = spark.range(0, 3, 1, 1).selectExpr("id", "array(cast(id as float)) as col_x");
    String fixed = failure(InvalidInputException.class, () -> bigModel("wide_output", "y").transform(df).write().format("noop").mode("overwrite").save());
    assertContains(fixed, "row 0 of partition 0 takes", "model output 'y' (column 'out') 1081352 bytes a row",
        "more than the batch budget of 524288 bytes");
    String open = failure(InvalidInputException.class, () -> bigModel("wide_output_open", "y").transform(df).write().format("noop").mode("overwrite").save());
    assertContains(open, "model output 'y' (column 'out') came back with 1048600 bytes a row for rows 0 to 0 of partition 0",
        "more than the batch budget of 524288 bytes");
  }

  // --- bad arrays, named ---

  @ParameterizedTest
  @ValueSource(ints = {0, 1, 2})
  void aTooShortArrayAsTheRowsLastFieldNamesColumnInputRowAndLength(int length) {
    TestCase c = TestCase.load("linear");
    Float[] values = new Float[length];
    Arrays.fill(values, 1f);
    List<Row> rows = new ArrayList<>();
    for (int r = 0; r < 3; r++) {
      rows.add(RowFactory.create(r, r == 1 ? Arrays.asList(values) : Collections.nCopies(8, 1f)));
    }
    StructType schema = new StructType().add("id", DataTypes.IntegerType)
        .add("col_features", DataTypes.createArrayType(DataTypes.FloatType, false));
    Dataset<Row> df = spark.createDataFrame(rows, schema).coalesce(1);
    String message = failure(InvalidInputException.class, () -> c.onnxModel().transform(df).collectAsList());
    assertContains(message, "column 'col_features' (model input 'features', float32 [N, 8]): row 1 of partition 0 has "
        + length + " elements, expected 8");
  }

  @Test
  void raggedArraysInOneBatchNameTheRow() {
    List<Row> rows = Arrays.asList(RowFactory.create(0L, Arrays.asList(1f, 2f, 3f)), RowFactory.create(1L, Arrays.asList(1f)));
    StructType schema = new StructType().add("id", DataTypes.LongType)
        .add("col_x", DataTypes.createArrayType(DataTypes.FloatType, false));
    Dataset<Row> df = spark.createDataFrame(rows, schema).coalesce(1);
    String message = failure(InvalidInputException.class, () -> bigModel("row_sum_open", "total").transform(df).write().format("noop").mode("overwrite").save());
    assertContains(message, "column 'col_x' (model input 'x', float32 [N, M]): row 1 of partition 0 has 1 elements,"
        + " expected 3 elements (as this batch's first row)");
  }

  @Test
  void nullsInsideArraysAreNamedOrKept() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> holes = c.dataFrame(spark, 1).selectExpr("id",
        "if(id = 4, transform(col_features, (v, i) -> if(i = 6, null, v)), col_features) as col_features").where("id < 10");
    String message = failure(InvalidInputException.class, () -> c.onnxModel().transform(holes).collectAsList());
    assertContains(message, "column 'col_features' (model input 'features', float32 [N, 8]): row 4 of partition 0 has a"
        + " null at element 6");
    List<Row> kept = c.onnxModel().setHandleNulls("keep").setBatchSize(3).transform(holes).collectAsList();
    assertEquals(10, kept.size());
    for (Row row : kept) {
      int id = row.getInt(0);
      if (id == 4) {
        assertTrue(row.isNullAt(row.fieldIndex("out_score")));
      } else {
        c.assertRowMatches(row, id, "score");
      }
    }
  }

  @Test
  void theBudgetIsReadPerJobSoARaisedOneLetsTheRowThrough() {
    OnnxModel model = bigModel("row_sum_open", "total");
    Dataset<Row> df = bigRows(1, 1 << 20, 1);
    spark.conf().set(BUDGET, "1m");
    assertContains(failure(InvalidInputException.class, () -> model.transform(df).write().format("noop").mode("overwrite").save()),
        "more than the batch budget of 1048576 bytes");
    spark.conf().set(BUDGET, "8m");
    assertBigSums(model.transform(df).selectExpr("id", "out").collectAsList(), "row_sum_open", 1 << 20, 1);
  }
}
