package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Executors as model nodes on {@code local-cluster[2,4,1024]}: two executor JVMs of four cores, with
 * {@code spark.task.cpus=4}, so each executor's budget is one session of four intra-op threads
 * (ONNX Runtime's own default on this 2-core machine would differ). A fresh model cache folder, so
 * fetches are counted from nothing.
 */
@Timeout(600)
class ModelNodeClusterTest {
  private static SparkSession spark;
  private static File cache;

  @BeforeAll
  static void startCluster() throws Exception {
    cache = Files.createTempDirectory("sparkort-test-cache-").toFile();
    spark = TestCase.localCluster("sparkort-model-node-cluster-test", 4)
        .config("spark.task.cpus", "4")
        .config(ModelCache.DIRECTORY_CONF, cache.getPath())
        .getOrCreate();
    TestCase.awaitExecutors(spark);
  }

  @AfterAll
  static void stopCluster() throws IOException {
    spark.stop();
    try (java.util.stream.Stream<java.nio.file.Path> files = Files.walk(cache.toPath())) {
      files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Test
  void eachExecutorLoadsTheModelOnceOverThreeJobsAndTwoDataFrames() {
    TestCase c = TestCase.load("mlp");
    OnnxModel model = c.onnxModel().setModelLocation(TestModels.variant(c, 11).getPath()).setBatchSize(32);
    Dataset<Row> first = c.dataFrame(spark, 8);
    Dataset<Row> second = c.dataFrame(spark, 6);
    c.assertMatchesOnnxRuntime(model.transform(first).collectAsList());
    c.assertMatchesOnnxRuntime(model.transform(second).collectAsList());
    List<String> executors = model.transform(first).mapPartitions(new WhereScored(), Encoders.STRING()).collectAsList();
    assertEquals(new HashSet<>(executors).size(), 2, "both executors scored: " + executors);
    assertEquals(3L * c.rows, model.metrics().rowsScored());
    assertEquals(2, model.metrics().modelLoads(), "one load per executor: " + model.metrics());

    // Asked afterwards, each executor reports the one load it made, and loads nothing more.
    List<ModelReservation> reserved = model.reserve(spark);
    assertEquals(2, reserved.size(), "one reservation task reached each executor: " + reserved);
    for (ModelReservation executor : reserved) {
      assertEquals(1, executor.loads(), executor.toString());
      assertTrue(!executor.loadedByReservation(), executor.toString());
    }
    assertEquals(2, model.metrics().modelLoads());
  }

  @Test
  void reservationLoadsEveryExecutorBeforeAnyData() {
    TestCase c = TestCase.load("unseen_mlp");
    OnnxModel model = c.onnxModel().setModelLocation(TestModels.variant(c, 12).getPath());
    List<ModelReservation> reserved = model.reserve(spark);
    Set<String> ids = new HashSet<>();
    for (ModelReservation executor : reserved) {
      ids.add(executor.executorId());
      assertTrue(executor.loadedByReservation() && executor.loadMillis() > 0, executor.toString());
      assertEquals(1, executor.sessions(), "executor cores / spark.task.cpus: " + executor);
      assertEquals(4, executor.intraOpThreads(), "spark.task.cpus: " + executor);
      assertTrue(executor.residentBytes() > 0 && !executor.host().isEmpty(), executor.toString());
    }
    assertEquals(2, ids.size(), "both executors, one task each: " + reserved);
    long loadNanos = model.metrics().modelLoadNanos();
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 6)).collectAsList());
    assertEquals(2, model.metrics().modelLoads(), "the reservation's loads only");
    assertEquals(loadNanos, model.metrics().modelLoadNanos(), "scoring paid no load time");
  }

  @Test
  void externalDataModelIsScoredFromAFileUriOnlyTheExecutorsRead() throws IOException {
    TestCase c = TestCase.load("external_mlp");
    File model = TestModels.variant(c, 13);
    List<String> dataFiles = ModelNode.externalDataFiles(model.getPath());
    assertEquals(1, dataFiles.size());
    File data = new File(model.getParentFile(), dataFiles.get(0));
    OnnxModel onnx = c.onnxModel().setModelLocation(model.toURI().toString()).setBatchSize(16);
    assertTrue(onnx.getModelLocation().startsWith("file:/"), onnx.getModelLocation());

    int shippedBefore = spark.sparkContext().listFiles().size();
    long driverReadBefore = driverBytesRead();
    c.assertMatchesOnnxRuntime(onnx.transform(c.dataFrame(spark, 6)).collectAsList());
    long driverRead = driverBytesRead() - driverReadBefore;
    assertTrue(driverRead <= model.length(), "the driver read " + driverRead + " bytes: the .onnx file ("
        + model.length() + ") at most, never the " + data.length() + " bytes of external data");
    assertEquals(shippedBefore, spark.sparkContext().listFiles().size(), "the driver shipped nothing");
    long fetched = onnx.metrics().modelBytesFetched();
    assertTrue(fetched >= model.length() + data.length(), "executors fetched the model and its data: " + fetched);

    // A second job on the same executors fetches nothing, and a copy of the files elsewhere is another model.
    c.assertMatchesOnnxRuntime(onnx.transform(c.dataFrame(spark, 4)).collectAsList());
    assertEquals(fetched, onnx.metrics().modelBytesFetched(), "cached: " + onnx.metrics());
    File moved = Files.createTempDirectory("sparkort-moved-").toFile();
    File movedData = new File(moved, dataFiles.get(0));
    movedData.getParentFile().mkdirs();
    Files.copy(model.toPath(), new File(moved, model.getName()).toPath());
    Files.copy(data.toPath(), movedData.toPath(), StandardCopyOption.COPY_ATTRIBUTES);
    assertTrue(movedData.setLastModified(data.lastModified() + 60_000));
    OnnxModel elsewhere = c.onnxModel().setModelLocation(new File(moved, model.getName()).toURI().toString());
    c.assertMatchesOnnxRuntime(elsewhere.transform(c.dataFrame(spark, 4)).collectAsList());
    assertTrue(elsewhere.metrics().modelBytesFetched() >= data.length(), "newer data is fetched anew");
  }

  @Test
  void threadsStayWithinTheBudgetWhileScoring() {
    TestCase c = TestCase.load("mlp");
    OnnxModel model = c.onnxModel().setModelLocation(TestModels.variant(c, 14).getPath()).setBatchSize(8);
    ModelSource source = ModelSource.resolve(model.getModelLocation(), spark.sparkContext().hadoopConfiguration())
        .shipTo(spark);
    List<String[]> executors = SparkShim.liveExecutors(spark.sparkContext());
    // On each executor: the threads that appear while the model loads are ONNX Runtime's, all named.
    String threadName = "sparkort-" + source.sha256.substring(0, 6);
    List<String> loads = SparkShim.onExecutors(spark.sparkContext(), executors)
        .flatMap(new ThreadsOfALoad(source, threadName)).collect();
    assertEquals(2, loads.size());
    for (String report : loads) {
      String[] parts = report.split("\\|");
      assertEquals("3", parts[1], "1 session x (4 - 1) pool threads, the task's own thread the fourth: " + report);
      assertEquals("[]", parts[2], "no unnamed ONNX Runtime thread appeared: " + report);
    }
    // While scoring, /proc/<executor pid>/task shows the budget's ONNX Runtime threads, no more.
    List<String> reports = model.transform(c.dataFrame(spark, 8))
        .mapPartitions(new ThreadsWhileScoring(threadName), Encoders.STRING()).collectAsList();
    for (String report : reports) {
      String[] parts = report.split("\\|");
      assertEquals("3", parts[1], "1 session x (4 - 1) pool threads, as while loading: " + report);
      assertTrue(Long.parseLong(parts[2]) > 0, "sampled while rows were being scored: " + report);
    }
  }

  private static long driverBytesRead() {
    long bytes = 0;
    for (FileSystem.Statistics statistics : FileSystem.getAllStatistics()) {
      if (statistics.getScheme().equals("file")) {
        bytes += statistics.getBytesRead();
      }
    }
    return bytes;
  }

  /** The executor each partition's rows were scored on. */
  static final class WhereScored implements MapPartitionsFunction<Row, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public Iterator<String> call(Iterator<Row> rows) {
      if (!rows.hasNext()) {
        return Collections.<String>emptyList().iterator();
      }
      while (rows.hasNext()) {
        rows.next();
      }
      return Collections.singletonList(SparkEnv.get().executorId()).iterator();
    }
  }

  /**
   * Opens a model no task has, and reports: executor | its ONNX Runtime threads started | threads
   * started under the task thread's name (ONNX Runtime threads that escaped the thread manager).
   */
  static final class ThreadsOfALoad implements FlatMapFunction<String, String> {
    private static final long serialVersionUID = 1L;
    private final ModelSource source;
    private final String threadName;

    ThreadsOfALoad(ModelSource source, String threadName) {
      this.source = source;
      this.threadName = threadName;
    }

    @Override
    public Iterator<String> call(String executor) {
      String path = ModelCache.localModel(source, new long[1]).getPath();
      NativeLoader.load();
      // A thread ONNX Runtime started on its own would carry the name of the thread that built the session.
      String taskThread = TestModels.currentThreadName();
      List<String> before = TestModels.threadNames();
      List<String> added;
      try (ModelNode node = ModelNode.open(path, ThreadBudget.forThisExecutor(), new String[0])) {
        added = TestModels.added(before, TestModels.threadNames());
      }
      long named = TestModels.countNamed(added, threadName);
      added.removeIf(t -> !t.endsWith("=" + taskThread));
      return Collections.singletonList(SparkEnv.get().executorId() + "|" + named + "|" + added).iterator();
    }
  }

  /**
   * Samples this executor's threads (/proc/self/task) every eighth row while it scores, and reports:
   * executor | most of the model's ONNX Runtime threads seen | samples.
   */
  static final class ThreadsWhileScoring implements MapPartitionsFunction<Row, String> {
    private static final long serialVersionUID = 1L;
    private final String threadName;

    ThreadsWhileScoring(String threadName) {
      this.threadName = threadName;
    }

    @Override
    public Iterator<String> call(Iterator<Row> rows) {
      long most = 0;
      long samples = 0;
      for (long n = 0; rows.hasNext(); n++) {
        if (n % 8 == 0) {
          most = Math.max(most, TestModels.countNamed(TestModels.threadNames(), threadName));
          samples++;
        }
        rows.next();
      }
      return Collections.singletonList(SparkEnv.get().executorId() + "|" + most + "|" + samples).iterator();
    }
  }
}
