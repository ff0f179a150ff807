package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Two executor JVMs on one host ({@code local-cluster[2,1,1024]}): each extracts the natives from
 * the jar into its own directory, loads them and scores, and together they return every row right.
 * The executors are told to load ONNX Runtime from the test's own copy (the Python wheel's) through
 * {@code spark.sparkort.onnxruntime.library}, the way a user points them at a GPU build.
 */
class LocalClusterTest {
  @Test
  @Timeout(300)
  void bothExecutorJvmsLoadTheNativesAndScore() throws Exception {
    SparkSession spark = TestCase.localCluster("sparkort-cluster-test", 1).getOrCreate();
    try {
      TestCase.awaitExecutors(spark);
      TestCase c = TestCase.load("mlp");
      Dataset<Row> scored = c.onnxModel().setBatchSize(16).transform(c.dataFrame(spark, 8));
      c.assertMatchesOnnxRuntime(scored.collectAsList());

      // The same scoring again, each partition reporting which JVM scored it, in the same task.
      List<String> reports = scored.mapPartitions(new WhoScored(), Encoders.STRING()).collectAsList();
      Set<String> executors = new HashSet<>();
      Set<String> pids = new HashSet<>();
      Set<String> directories = new HashSet<>();
      Set<String> runtimes = new HashSet<>();
      long rows = 0;
      for (String report : reports) {
        String[] parts = report.split("\\|");
        if (Long.parseLong(parts[3]) == 0) {
          continue;
        }
        executors.add(parts[0]);
        pids.add(parts[1]);
        directories.add(parts[2]);
        runtimes.add(parts[4]);
        rows += Long.parseLong(parts[3]);
      }
      assertEquals(c.rows, rows);
      assertEquals(2, executors.size(), "both executors scored: " + reports);
      assertEquals(2, pids.size(), "in two JVMs: " + reports);
      assertEquals(2, directories.size(), "each extracted the natives into its own directory: " + reports);
      assertEquals(Collections.singleton(System.getProperty("sparkort.test.ort")), runtimes,
          "the executors loaded the ONNX Runtime the conf names");
    } finally {
      spark.stop();
    }
  }

  /** Waits, up to a minute, until {@code count} executors have registered, so tasks can go to both. */
  /** Consumes a partition of scored rows and says where it ran: executor|pid|natives dir|rows|ORT library. */
  static final class WhoScored implements MapPartitionsFunction<Row, String> {
    private static final long serialVersionUID = 1L;

    @Override
    public Iterator<String> call(Iterator<Row> rows) {
      long n = 0;
      while (rows.hasNext()) {
        rows.next();
        n++;
      }
      String report = SparkEnv.get().executorId() + "|" + ManagementFactory.getRuntimeMXBean().getName() + "|"
          + (n == 0 ? "-" : NativeLoader.extractedDirectory().getPath()) + "|" + n + "|"
          + (n == 0 ? "-" : NativeLoader.onnxRuntimeLibrary().getPath());
      List<String> out = new ArrayList<>(Collections.singletonList(report));
      return out.iterator();
    }
  }
}
