package io.sparkort;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.desc;
import static org.apache.spark.sql.functions.first;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Stream;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskKilled;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobStart;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.scheduler.SparkListenerTaskStart;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.plans.logical.Filter;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.FileSourceScanExec;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.joins.BroadcastHashJoinExec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A scored DataFrame as a Spark citizen: lazy, re-planned from its input, optimized with it, shown
 * whole in the SQL tab, cancellable. Jobs are counted with a listener; rows scored with the model's
 * accumulators.
 */
class PlanNodeTest {
  private static SparkSession spark;
  private static final AtomicInteger JOBS = new AtomicInteger();
  private static File scratch;

  @BeforeAll
  static void startSpark() throws IOException {
    // The UI is on: one test reads the SQL tab through its REST API.
    spark = TestCase.localSpark("sparkort-plan-node").config("spark.ui.enabled", "true").getOrCreate();
    spark.sparkContext().addSparkListener(new SparkListener() {
      @Override
      public void onJobStart(SparkListenerJobStart job) {
        JOBS.incrementAndGet();
      }
    });
    scratch = Files.createTempDirectory("sparkort-plan-node").toFile();
  }

  @AfterAll
  static void stopSpark() throws IOException {
    spark.stop();
    delete(scratch);
  }

  @AfterEach
  void defaults() {
    spark.conf().unset("spark.sql.adaptive.enabled");
    spark.conf().unset("spark.sql.autoBroadcastJoinThreshold");
  }

  private static int jobsSoFar() {
    try {
      spark.sparkContext().listenerBus().waitUntilEmpty();
    } catch (java.util.concurrent.TimeoutException e) {
      throw new AssertionError(e);
    }
    return JOBS.get();
  }

  /** Inputs with a shuffle, a broadcast join, a sort-merge join, a sort and an aggregation. */
  private static List<Function<Dataset<Row>, Dataset<Row>>> plannedInputs() {
    List<Function<Dataset<Row>, Dataset<Row>>> inputs = new ArrayList<>();
    inputs.add(df -> df.repartition(4, col("id")));
    inputs.add(df -> df.join(spark.range(0, 500).withColumnRenamed("id", "k").hint("broadcast"),
        col("id").equalTo(col("k"))).drop("k"));
    inputs.add(df -> df.join(spark.range(0, 500).withColumnRenamed("id", "k").hint("merge"),
        col("id").equalTo(col("k"))).drop("k"));
    inputs.add(df -> df.orderBy(desc("id")));
    inputs.add(df -> df.groupBy("id").agg(first("col_features").as("col_features")));
    return inputs;
  }

  @Test
  void transformSchemaAndExplainRunNoJobWithAqeOnOrOff() {
    TestCase c = TestCase.load("linear");
    for (String aqe : new String[] {"true", "false"}) {
      spark.conf().set("spark.sql.adaptive.enabled", aqe);
      int shape = 0;
      for (Function<Dataset<Row>, Dataset<Row>> input : plannedInputs()) {
        Dataset<Row> df = input.apply(c.dataFrame(spark, 3));
        OnnxModel model = c.onnxModel();
        int before = jobsSoFar();
        Dataset<Row> scored = model.transform(df);
        model.transformSchema(df.schema());
        scored.schema();
        scored.explain(true);
        assertEquals(before, jobsSoFar(), "AQE " + aqe + ", input " + shape + ": transform, schema, explain run no job");
        c.assertMatchesOnnxRuntime(scored.collectAsList());
        assertTrue(jobsSoFar() > before, "the action runs the job");
        shape++;
      }
    }
  }

  @Test
  void dataErrorsSurfaceFromTheAction() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> longArrays = c.dataFrame(spark, 2).groupBy("id")
        .agg(first("col_features").as("col_features"))
        .selectExpr("id", "IF(id = 17, concat(col_features, array(CAST(1 AS FLOAT))), col_features) AS col_features");
    int before = jobsSoFar();
    Dataset<Row> scored = c.onnxModel().transform(longArrays);
    assertEquals(before, jobsSoFar());
    Exception e = assertThrows(Exception.class, scored::collectAsList);
    InvalidInputException cause = TestCase.causeOf(e, InvalidInputException.class);
    assertTrue(cause.getMessage().contains("column 'col_features'") && cause.getMessage().contains("'features'")
        && cause.getMessage().contains("has 9 elements, expected 8"), cause.getMessage());
  }

  @Test
  void seesRowsInsertedIntoItsTableAfterTransform() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> all = c.dataFrame(spark, 2);
    spark.sql("DROP TABLE IF EXISTS scored_later");
    all.filter("id < 120").write().format("parquet").saveAsTable("scored_later");
    try {
      Dataset<Row> scored = c.onnxModel().transform(spark.table("scored_later"));
      assertEquals(120, scored.count());
      all.filter("id >= 120").write().insertInto("scored_later");
      assertEquals(c.rows, scored.count(), "the scored DataFrame reads the table as it is now");
      c.assertMatchesOnnxRuntime(scored.collectAsList());
    } finally {
      spark.sql("DROP TABLE IF EXISTS scored_later");
    }
  }

  @Test
  void usesACacheOfItsInputMadeAfterTransform() throws IOException {
    TestCase c = TestCase.load("linear");
    File dir = new File(scratch, "cached-input");
    c.dataFrame(spark, 2).write().parquet(dir.getPath());
    Dataset<Row> input = spark.read().parquet(dir.getPath());
    Dataset<Row> scored = c.onnxModel().transform(input);
    input.cache();
    assertEquals(c.rows, input.count());
    delete(dir);
    try {
      // The source files are gone: only the cache can give these rows.
      List<Row> rows = scored.collectAsList();
      c.assertMatchesOnnxRuntime(rows);
      assertTrue(Plans.executedPlan(scored).toString().contains("InMemoryTableScan"), Plans.executedPlan(scored).toString());
    } finally {
      input.unpersist(true);
    }
  }

  @Test
  void scoresNoRowWhenNothingReadsAPrediction() {
    TestCase c = TestCase.load("linear");
    OnnxModel model = c.onnxModel();
    Dataset<Row> scored = model.transform(c.dataFrame(spark, 3));
    assertEquals(c.rows, scored.count());
    assertEquals(c.rows, scored.select("id").collectAsList().size());
    assertEquals(c.rows, scored.select(col("id").plus(1), col("col_features")).distinct().count());
    assertEquals(0, model.metrics().rowsScored(), "no row was scored");
    for (LogicalPlan node : Plans.nodes(Plans.optimizedPlan(scored.select("id")))) {
      assertFalse(node instanceof OnnxScore, Plans.optimizedPlan(scored.select("id")).toString());
    }
    scored.select("id", "out_score").collectAsList();
    assertEquals(c.rows, model.metrics().rowsScored(), "reading a prediction scores every row");
  }

  @Test
  void filtersOnInputColumnsAreScoredAfterFilteringAndFiltersOnPredictionsStayAbove() {
    TestCase c = TestCase.load("linear");
    OnnxModel model = c.onnxModel();
    Dataset<Row> scored = model.transform(c.dataFrame(spark, 3));
    List<Row> few = scored.filter("id < 10").collectAsList();
    assertEquals(10, few.size());
    assertEquals(10, model.metrics().rowsScored(), "only the rows the filter keeps are scored");
    for (Row row : few) {
      c.assertRowMatches(row, row.getInt(row.fieldIndex("id")), "score");
    }

    long positive = 0;
    for (Row row : scored.collectAsList()) {
      positive += row.getFloat(row.fieldIndex("out_score")) > 0 ? 1 : 0;
    }
    long before = model.metrics().rowsScored();
    Dataset<Row> onPrediction = scored.filter("out_score > 0");
    assertEquals(positive, onPrediction.count());
    assertEquals(c.rows, model.metrics().rowsScored() - before, "a filter on a prediction needs every row scored");
    LogicalPlan optimized = Plans.optimizedPlan(onPrediction);
    assertTrue(optimized instanceof Filter || Plans.nodes(optimized).stream()
        .anyMatch(n -> n instanceof Filter && n.children().head() instanceof OnnxScore), optimized.toString());

    Dataset<Row> mixed = scored.filter(col("id").lt(50).and(col("out_score").gt(0)).and(col("id").mod(2).equalTo(0)));
    long expected = 0;
    for (Row row : scored.filter("id < 50 AND id % 2 = 0").collectAsList()) {
      expected += row.getFloat(row.fieldIndex("out_score")) > 0 ? 1 : 0;
    }
    before = model.metrics().rowsScored();
    assertEquals(expected, mixed.count());
    assertEquals(25, model.metrics().rowsScored() - before, "the parts on input columns go below the model");
  }

  @Test
  void nonDeterministicFiltersStayAboveTheModel() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> scored = c.onnxModel().transform(c.dataFrame(spark, 3));
    LogicalPlan optimized = Plans.optimizedPlan(scored.filter(org.apache.spark.sql.functions.rand(7).lt(0.5)));
    assertTrue(Plans.nodes(optimized).stream()
        .anyMatch(n -> n instanceof Filter && n.children().head() instanceof OnnxScore), optimized.toString());
  }

  @Test
  void readsOnlyTheColumnsTheModelAndThePlanAboveNeedFromParquet() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> wide = c.dataFrame(spark, 2);
    for (int i = 0; i < 42; i++) {
      wide = wide.withColumn("extra" + i, col("id").multiply(i + 0.5));
    }
    File dir = new File(scratch, "wide");
    wide.write().parquet(dir.getPath());
    Dataset<Row> scored = c.onnxModel().transform(spark.read().parquet(dir.getPath()));
    Dataset<Row> narrow = scored.select("id", "out_score");
    c.assertMatchesOnnxRuntime(narrow.collectAsList());
    FileSourceScanExec scan = Plans.find(Plans.executedPlan(narrow), FileSourceScanExec.class).get(0);
    assertEquals(Arrays.asList("id", "col_features"), Arrays.asList(scan.requiredSchema().fieldNames()));

    // Features assembled from scalar columns in a projection under the model: still only those columns read.
    Dataset<Row> assembled = spark.read().parquet(dir.getPath())
        .selectExpr("id", "extra3", "array(cast(extra1 AS float), cast(extra2 AS float), cast(extra3 AS float),"
            + " cast(extra4 AS float), cast(extra5 AS float), cast(extra6 AS float), cast(extra7 AS float),"
            + " cast(extra8 AS float)) AS col_features", "extra40");
    Dataset<Row> assembledScored = c.onnxModel().transform(assembled).select("extra3", "out_score");
    assertEquals(c.rows, assembledScored.collectAsList().size());
    scan = Plans.find(Plans.executedPlan(assembledScored), FileSourceScanExec.class).get(0);
    List<String> read = Arrays.asList(scan.requiredSchema().fieldNames());
    assertFalse(read.contains("extra40") || read.contains("id") || read.contains("col_features"), read.toString());
    assertEquals(8, read.size(), read.toString());
  }

  @Test
  void aSmallScoredTableIsBroadcast() {
    spark.conf().set("spark.sql.adaptive.enabled", "false");
    TestCase c = TestCase.load("linear");
    Dataset<Row> scored = c.onnxModel().transform(c.dataFrame(spark, 2));
    long size = Plans.optimizedPlan(scored).stats().sizeInBytes().longValue();
    assertTrue(size > 0 && size < 10L * 1024 * 1024, "the estimate follows the child's: " + size);
    Dataset<Row> big = spark.range(0, 20000).toDF("id").selectExpr("CAST(id % 200 AS INT) AS id", "id AS n");
    Dataset<Row> joined = big.join(scored.select("id", "out_score"), "id");
    assertEquals(20000, joined.count());
    assertFalse(Plans.find(Plans.executedPlan(joined), BroadcastHashJoinExec.class).isEmpty(),
        Plans.executedPlan(joined).toString());
  }

  @Test
  void explainAndTheSqlTabShowTheScoringNodeOverTheInputsOwnOperators() throws IOException {
    TestCase c = TestCase.load("linear");
    File dir = new File(scratch, "for-ui");
    c.dataFrame(spark, 2).write().parquet(dir.getPath());
    spark.sparkContext().setJobGroup("sql-tab", "sparkort SQL tab", false);
    Dataset<Row> scored = c.onnxModel().setBatchSize(16).transform(spark.read().parquet(dir.getPath()).filter("id >= 0"));
    SparkPlan plan = Plans.executedPlan(scored);
    OnnxScoreExec node = Plans.find(plan, OnnxScoreExec.class).get(0);
    assertFalse(Plans.find(node, FileSourceScanExec.class).isEmpty(), "the scan is under the node: " + plan);
    c.assertMatchesOnnxRuntime(scored.collectAsList());
    spark.sparkContext().clearJobGroup();
    jobsSoFar();

    SparkContext context = spark.sparkContext();
    JsonNode executions = getJson(context.uiWebUrl().get() + "/api/v1/applications/" + context.applicationId()
        + "/sql?details=true&offset=0&length=1000");
    JsonNode ours = null;
    for (JsonNode execution : executions) {
      for (JsonNode n : execution.get("nodes")) {
        if (n.get("nodeName").asText().equals("OnnxScore")) {
          ours = execution;
        }
      }
    }
    assertNotNull(ours, "the SQL tab has an execution with the scoring node: " + executions);
    List<String> names = new ArrayList<>();
    JsonNode scoring = null;
    for (JsonNode n : ours.get("nodes")) {
      names.add(n.get("nodeName").asText());
      scoring = n.get("nodeName").asText().equals("OnnxScore") ? n : scoring;
    }
    assertTrue(names.stream().anyMatch(n -> n.startsWith("Scan parquet")), "the scan is shown: " + names);
    assertTrue(names.contains("Filter"), "the filter is shown: " + names);
    List<String> metrics = new ArrayList<>();
    for (JsonNode m : scoring.get("metrics")) {
      metrics.add(m.get("name").asText() + "=" + m.get("value").asText());
    }
    String all = String.join("; ", metrics);
    assertTrue(all.contains("rows scored=" + c.rows), all);
    assertTrue(all.contains("batches=" + (c.rows / 16 + 2)) || all.contains("batches=" + (c.rows / 16 + 1)), all);
    assertTrue(all.contains("time in model"), all);
    assertTrue(all.contains("number of output rows=" + c.rows), all);
  }

  @Test
  void aCancelledJobsScoringTasksStopWithinABatch() throws Exception {
    TestCase c = TestCase.load("linear");
    // Each of the two partitions holds far more rows than could be scored in the test's time.
    Dataset<Row> endless = spark.range(0, Long.MAX_VALUE / 4, 1, 2)
        .selectExpr("CAST(id AS INT) AS id", "array_repeat(CAST(id % 7 AS FLOAT), 8) AS col_features");
    Dataset<Row> scored = c.onnxModel().transform(endless);
    CountDownLatch started = new CountDownLatch(2);
    CountDownLatch ended = new CountDownLatch(2);
    AtomicInteger killed = new AtomicInteger();
    SparkListener tasks = new SparkListener() {
      @Override
      public void onTaskStart(SparkListenerTaskStart task) {
        started.countDown();
      }

      @Override
      public void onTaskEnd(SparkListenerTaskEnd task) {
        killed.addAndGet(task.reason() instanceof TaskKilled ? 1 : 0);
        ended.countDown();
      }
    };
    spark.sparkContext().addSparkListener(tasks);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread job = new Thread(() -> {
      spark.sparkContext().setJobGroup("endless", "cancelled by the test", true);
      try {
        scored.write().format("noop").mode("overwrite").save();
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    job.start();
    try {
      assertTrue(started.await(60, TimeUnit.SECONDS), "both tasks started");
      spark.sparkContext().cancelJobGroup("endless");
      job.join(60_000);
      assertFalse(job.isAlive(), "the cancelled job ended");
      assertNotNull(failure.get(), "the write failed as cancelled");
      assertTrue(ended.await(60, TimeUnit.SECONDS), "both tasks ended");
      assertEquals(2, killed.get(), "both tasks were killed");
    } finally {
      spark.sparkContext().cancelJobGroup("endless");
      job.join(60_000);
      spark.sparkContext().removeSparkListener(tasks);
    }
    // The same JVM goes on scoring.
    c.assertMatchesOnnxRuntime(c.onnxModel().transform(c.dataFrame(spark, 2)).collectAsList());
  }

  @Test
  void aSelfJoinOfAScoredDataFrameKeepsBothSidesApart() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> scored = c.onnxModel().transform(c.dataFrame(spark, 3));
    Dataset<Row> joined = scored.alias("a").join(scored.alias("b"), col("a.id").equalTo(col("b.id").plus(1)))
        .select(col("a.id").as("id"), col("a.out_score").as("out_score"), col("b.out_score").as("before"));
    List<Row> rows = joined.collectAsList();
    assertEquals(c.rows - 1, rows.size());
    java.util.Map<Integer, Float> scores = new java.util.HashMap<>();
    for (Row row : scored.select("id", "out_score").collectAsList()) {
      scores.put(row.getInt(0), row.getFloat(1));
    }
    for (Row row : rows) {
      int id = row.getInt(0);
      c.assertRowMatches(row, id, "score");
      assertEquals(scores.get(id - 1), row.getFloat(2), "row " + id + " is joined with row " + (id - 1) + "'s score");
    }
  }

  private static JsonNode getJson(String url) throws IOException {
    try (InputStream in = new URL(url).openStream()) {
      return new ObjectMapper().readTree(in);
    }
  }

  static void delete(File dir) throws IOException {
    if (!dir.exists()) {
      return;
    }
    try (Stream<java.nio.file.Path> paths = Files.walk(dir.toPath())) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
