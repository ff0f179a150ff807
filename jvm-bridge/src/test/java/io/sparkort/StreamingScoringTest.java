package io.sparkort;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.window;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.spark.api.java.function.VoidFunction2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryListener;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Structured Streaming through the same plan node: file and rate sources in; file, memory and
 * foreachBatch sinks out; a watermarked aggregation downstream; a query stopped after its first
 * micro-batch and restarted from its checkpoint gives every input row's prediction exactly once.
 */
class StreamingScoringTest {
  private static SparkSession spark;
  private static File scratch;

  @BeforeAll
  static void startSpark() throws IOException {
    spark = TestCase.localSpark("sparkort-streaming").getOrCreate();
    scratch = Files.createTempDirectory("sparkort-streaming").toFile();
  }

  @AfterAll
  static void stopSpark() throws IOException {
    spark.stop();
    PlanNodeTest.delete(scratch);
  }

  /** Writes the case's rows with {@code from <= id < to} as one more Parquet file of the source folder. */
  private static void addFile(TestCase c, File source, int from, int to) {
    File part = new File(source.getParentFile(), source.getName() + "-staging-" + from);
    c.dataFrame(spark, 1).filter(col("id").geq(from).and(col("id").lt(to))).coalesce(1)
        .withColumn("ts", org.apache.spark.sql.functions.expr("timestamp_seconds(id * 60)"))
        .write().parquet(part.getPath());
    // A file source lists files as they appear: move each finished file in whole.
    File[] files = part.listFiles((d, n) -> n.endsWith(".parquet"));
    assertTrue(files != null && files.length == 1);
    source.mkdirs();
    assertTrue(files[0].renameTo(new File(source, "rows-" + from + ".parquet")));
  }

  private static StructType schema(TestCase c, File source) {
    return spark.read().parquet(source.getPath()).schema();
  }

  /** Waits for the query's next {@code batches} micro-batches that read rows. */
  private static final class Progress extends StreamingQueryListener {
    private final CountDownLatch latch;

    Progress(int batches) {
      latch = new CountDownLatch(batches);
    }

    @Override
    public void onQueryStarted(QueryStartedEvent event) {}

    @Override
    public void onQueryProgress(QueryProgressEvent event) {
      if (event.progress().numInputRows() > 0) {
        latch.countDown();
      }
    }

    @Override
    public void onQueryTerminated(QueryTerminatedEvent event) {}

    void await() throws InterruptedException {
      assertTrue(latch.await(120, TimeUnit.SECONDS), "the query made progress");
    }
  }

  @Test
  void aFileStreamStoppedAndRestartedFromItsCheckpointScoresEveryRowExactlyOnce() throws Exception {
    TestCase c = TestCase.load("linear");
    File source = new File(scratch, "files-in");
    File sink = new File(scratch, "files-out");
    File checkpoint = new File(scratch, "files-checkpoint");
    for (int from = 0; from < 120; from += 30) {
      addFile(c, source, from, from + 30);
    }
    StructType schema = schema(c, source);
    OnnxModel model = c.onnxModel().setBatchSize(8);

    Progress first = new Progress(1);
    spark.streams().addListener(first);
    StreamingQuery query = start(model, source, schema, sink, checkpoint);
    first.await();
    query.stop();
    spark.streams().removeListener(first);

    // More input arrives while the query is down; the restarted query takes it and what was left.
    addFile(c, source, 120, 200);
    query = start(model, source, schema, sink, checkpoint);
    query.processAllAvailable();
    query.stop();

    List<Row> written = spark.read().parquet(sink.getPath()).collectAsList();
    c.assertMatchesOnnxRuntime(written);
    // The same rows as a batch transform of the same input.
    Map<Integer, Float> batch = new HashMap<>();
    for (Row row : model.transform(spark.read().parquet(source.getPath())).collectAsList()) {
      batch.put(row.getInt(row.fieldIndex("id")), row.getFloat(row.fieldIndex("out_score")));
    }
    assertEquals(batch.size(), written.size());
    for (Row row : written) {
      assertEquals(batch.get(row.getInt(row.fieldIndex("id"))), row.getFloat(row.fieldIndex("out_score")));
    }
  }

  private static StreamingQuery start(OnnxModel model, File source, StructType schema, File sink, File checkpoint)
      throws Exception {
    Dataset<Row> stream = spark.readStream().schema(schema).option("maxFilesPerTrigger", 1).parquet(source.getPath());
    return model.transform(stream).drop("ts").writeStream().format("parquet")
        .option("checkpointLocation", checkpoint.getPath()).start(sink.getPath());
  }

  @Test
  void memoryAndForeachBatchSinksGetTheBatchPredictions() throws Exception {
    TestCase c = TestCase.load("linear");
    File source = new File(scratch, "sinks-in");
    addFile(c, source, 0, 100);
    addFile(c, source, 100, 200);
    Dataset<Row> scored = c.onnxModel().transform(spark.readStream().schema(schema(c, source)).parquet(source.getPath()));

    StreamingQuery memory = scored.writeStream().format("memory").queryName("scored_stream").outputMode("append").start();
    memory.processAllAvailable();
    memory.stop();
    c.assertMatchesOnnxRuntime(spark.table("scored_stream").collectAsList());

    List<Row> collected = java.util.Collections.synchronizedList(new ArrayList<>());
    StreamingQuery each = scored.writeStream()
        .foreachBatch((VoidFunction2<Dataset<Row>, Long>) (batch, id) -> collected.addAll(batch.collectAsList()))
        .option("checkpointLocation", new File(scratch, "foreach-checkpoint").getPath()).start();
    each.processAllAvailable();
    each.stop();
    c.assertMatchesOnnxRuntime(collected);
  }

  @Test
  void aRateSourceIsScoredAsItComes() throws Exception {
    TestCase c = TestCase.load("linear");
    Dataset<Row> rate = spark.readStream().format("rate").option("rowsPerSecond", 200).option("numPartitions", 2).load()
        .selectExpr("CAST(value AS INT) AS id", "array_repeat(CAST(value % 5 AS FLOAT), 8) AS col_features");
    Progress progress = new Progress(2);
    spark.streams().addListener(progress);
    StreamingQuery query = c.onnxModel().transform(rate).writeStream().format("memory").queryName("rate_scored").start();
    try {
      progress.await();
    } finally {
      query.stop();
      spark.streams().removeListener(progress);
    }
    List<Row> streamed = spark.table("rate_scored").collectAsList();
    assertTrue(streamed.size() > 0);
    // The same rows, scored as a batch.
    Dataset<Row> again = spark.createDataFrame(streamed, spark.table("rate_scored").schema()).drop("out_score");
    Map<Integer, Float> batch = new HashMap<>();
    for (Row row : c.onnxModel().transform(again).collectAsList()) {
      batch.put(row.getInt(0), row.getFloat(row.fieldIndex("out_score")));
    }
    assertEquals(streamed.size(), batch.size(), "every rate row came once");
    for (Row row : streamed) {
      assertEquals(batch.get(row.getInt(0)), row.getFloat(row.fieldIndex("out_score")));
    }
  }

  @Test
  void aWatermarkedAggregationDownstreamSumsThePredictions() throws Exception {
    TestCase c = TestCase.load("linear");
    File source = new File(scratch, "windows-in");
    // Rows 0-119 fall in the first two hours (ts = id minutes); row 199's time moves the watermark past them.
    addFile(c, source, 0, 120);
    StructType schema = schema(c, source);
    Dataset<Row> scored = c.onnxModel().transform(spark.readStream().schema(schema).parquet(source.getPath()));
    Dataset<Row> hourly = scored.withWatermark("ts", "1 minute").groupBy(window(col("ts"), "1 hour"))
        .agg(count("*").as("n"), sum("out_score").as("total"));
    StreamingQuery query = hourly.writeStream().format("memory").queryName("hourly").outputMode("append")
        .option("checkpointLocation", new File(scratch, "windows-checkpoint").getPath()).start();
    query.processAllAvailable();
    addFile(c, source, 199, 200);
    query.processAllAvailable();
    // One more (empty-input) batch lets the moved watermark close the windows.
    query.processAllAvailable();
    query.stop();

    Dataset<Row> batch = c.onnxModel().transform(spark.read().parquet(source.getPath()).filter("id < 120"))
        .groupBy(window(col("ts"), "1 hour")).agg(count("*").as("n"), sum("out_score").as("total"));
    List<Row> want = batch.orderBy("window").collectAsList();
    List<Row> got = spark.table("hourly").orderBy("window").collectAsList();
    assertEquals(2, want.size());
    assertEquals(want.size(), got.size(), "both closed windows were emitted: " + got);
    for (int i = 0; i < want.size(); i++) {
      assertEquals(want.get(i).getLong(1), got.get(i).getLong(1));
      assertEquals(want.get(i).getDouble(2), got.get(i).getDouble(2), 1e-9);
    }
  }
}
