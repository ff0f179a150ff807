package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
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
 * Faults across executor JVMs ({@code local-cluster[2,1,1024]}): an executor killed (kill -9) while
 * it scores gives the output of a clean run, byte for byte, three times over; a data file rewritten
 * after {@code transform} does not reach executors that fetch the model afterwards.
 */
@Timeout(300)
class ModelFilesClusterTest {
  private static SparkSession spark;

  @BeforeAll
  static void startCluster() throws Exception {
    spark = TestCase.localCluster("sparkort-model-files-cluster-test", 1).getOrCreate();
    TestCase.awaitExecutors(spark);
  }

  @AfterAll
  static void stopCluster() {
    spark.stop();
  }

  @Test
  void anExecutorKilledMidJobGivesTheCleanRunsOutputThreeTimes() throws Exception {
    TestCase c = TestCase.load("external_mlp");
    OnnxModel model = c.onnxModel().setModelLocation(TestModels.variant(c, 71).getPath()).setBatchSize(16);
    // Six partitions of the rows with no shuffle before scoring, so a lost executor loses no map output.
    Dataset<Row> input = c.dataFrame(spark, 1);
    Dataset<Row> unshuffled = spark.createDataFrame(
        JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(input.collectAsList(), 6), input.schema());
    Dataset<Row> scored = model.transform(unshuffled);
    List<Row> cleanRows = scored.collectAsList();
    c.assertMatchesOnnxRuntime(cleanRows);
    List<String> cleanText = new ArrayList<>();
    for (Row row : cleanRows) {
      cleanText.add(row.mkString("|"));
    }
    String clean = checksum(cleanText);
    ExecutorService driver = Executors.newSingleThreadExecutor();
    try {
      for (int run = 0; run < 3; run++) {
        File marker = Files.createTempDirectory("sparkort-kill-").toFile();
        Future<List<String>> job =
            driver.submit(() -> scored.mapPartitions(new KillOnce(marker.getPath()), Encoders.STRING()).collectAsList());
        File pidFile = new File(marker, "pid");
        long deadline = System.nanoTime() + 120_000_000_000L;
        while (!pidFile.isFile()) {
          assertTrue(System.nanoTime() < deadline && !job.isDone(), "no task reported its executor's pid");
          Thread.sleep(20);
        }
        String pid = new String(Files.readAllBytes(pidFile.toPath()), StandardCharsets.UTF_8).trim();
        Process kill = new ProcessBuilder("kill", "-9", pid).inheritIO().start();
        assertEquals(0, kill.waitFor(), "kill -9 " + pid);
        String killed = checksum(job.get(240, TimeUnit.SECONDS));
        System.out.println("kill run " + run + " (pid " + pid + "): SHA-256 " + killed + ", clean run " + clean);
        assertEquals(clean, killed, "run " + run + ": the executor killed mid-job (pid " + pid + ") changed nothing");
        NativeLoader.deleteTree(marker);
      }
    } finally {
      driver.shutdownNow();
    }
    // The driver said which model the lost executors were scoring with.
    spark.sparkContext().listenerBus().waitUntilEmpty();
    long named = LostExecutorReports.recent().stream()
        .filter(r -> r.contains("was scoring with model " + model.getModelLocation())).count();
    assertTrue(named >= 3, "each lost executor's task is reported with its model: " + LostExecutorReports.recent());
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 3)).collectAsList());
  }

  @Test
  void aDataFileRewrittenAfterTransformDoesNotReachTheExecutors() throws Exception {
    TestCase c = TestCase.load("external_mlp");
    File onnx = TestModels.variant(c, 72);
    Dataset<Row> scored = c.onnxModel().setModelLocation(onnx.getPath()).transform(c.dataFrame(spark, 4));
    File data = new File(onnx.getParentFile(), "external_mlp_data/weights.bin");
    try (RandomAccessFile file = new RandomAccessFile(data, "rw")) {
      file.write(new byte[(int) file.length()]);
    }
    c.assertMatchesOnnxRuntime(scored.collectAsList());
    // A model file swapped after transform: the same.
    File other = TestModels.variant(TestCase.load("linear"), 73);
    TestCase linear = TestCase.load("linear");
    Dataset<Row> linearScored = linear.onnxModel().setModelLocation(other.getPath()).transform(linear.dataFrame(spark, 4));
    Files.copy(TestCase.load("linear_other").model.toPath(), other.toPath(), StandardCopyOption.REPLACE_EXISTING);
    linear.assertMatchesOnnxRuntime(linearScored.collectAsList());
  }

  /** SHA-256 over the sorted rows. */
  private static String checksum(List<String> rows) {
    List<String> sorted = new ArrayList<>(rows);
    Collections.sort(sorted);
    java.security.MessageDigest digest = NativeLoader.sha256();
    for (String row : sorted) {
      digest.update(row.getBytes(StandardCharsets.UTF_8));
      digest.update((byte) '\n');
    }
    assertEquals(240, sorted.size());
    return NativeLoader.hex(digest.digest());
  }

  /**
   * Passes the scored rows on as text; with a marker folder, the first attempt of partition 0, half
   * way through its rows, writes its executor JVM's pid there and waits to be killed.
   */
  static final class KillOnce implements MapPartitionsFunction<Row, String> {
    private static final long serialVersionUID = 1L;
    private final String marker;

    KillOnce(String marker) {
      this.marker = marker;
    }

    @Override
    public Iterator<String> call(Iterator<Row> rows) throws Exception {
      List<String> out = new ArrayList<>();
      TaskContext task = TaskContext.get();
      boolean victim = marker != null && task.partitionId() == 0 && task.attemptNumber() == 0
          && task.stageAttemptNumber() == 0;
      while (rows.hasNext()) {
        out.add(rows.next().mkString("|"));
        if (victim && out.size() == 10) {
          String pid = ManagementFactory.getRuntimeMXBean().getName().split("@")[0];
          File written = new File(marker, "pid.tmp");
          Files.write(written.toPath(), pid.getBytes(StandardCharsets.UTF_8));
          Files.move(written.toPath(), new File(marker, "pid").toPath(), StandardCopyOption.ATOMIC_MOVE);
          // Killed by the driver; if not within two minutes, the test has failed already.
          for (int i = 0; i < 1200; i++) {
            Thread.sleep(100);
          }
          throw new IllegalStateException("not killed");
        }
      }
      return out.iterator();
    }
  }
}
