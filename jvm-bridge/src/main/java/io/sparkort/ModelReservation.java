package io.sparkort;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model loaded on one executor by {@link OnnxModel#reserve}: where, how long the load took, and
 * what the executor holds afterwards. The reservation runs one task on every live executor (each
 * task prefers its executor) before any data arrives; the node builds every session the executor's
 * {@link ThreadBudget} allows as it loads, so scoring afterwards pays no load time.
 */
public final class ModelReservation implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(ModelReservation.class);
  /** Rounds of tasks for executors a task meant for them did not reach (it ran elsewhere). */
  private static final int ROUNDS = 3;

  private final String executorId;
  private final String host;
  private final long loadNanos;
  private final boolean loadedByReservation;
  private final int sessions;
  private final int intraOpThreads;
  private final long residentBytes;
  private final long loads;

  private ModelReservation(String executorId, String host, ModelNode.Stats stats, boolean loadedByReservation,
      long residentBytes) {
    this.executorId = executorId;
    this.host = host;
    this.loadNanos = stats.loadNanos;
    this.loadedByReservation = loadedByReservation;
    this.sessions = stats.sessions;
    this.intraOpThreads = stats.intraThreads;
    this.residentBytes = residentBytes;
    this.loads = stats.loads;
  }

  /** Spark's id of the executor ("driver" in local mode). */
  public String executorId() {
    return executorId;
  }

  public String host() {
    return host;
  }

  /** How long the executor took to load the model, whether this reservation loaded it or a task before. */
  public double loadMillis() {
    return loadNanos / 1e6;
  }

  /** Whether this reservation loaded the model; false when the executor had it open already. */
  public boolean loadedByReservation() {
    return loadedByReservation;
  }

  /** Sessions the executor holds for the model: one per task slot unless overridden. */
  public int sessions() {
    return sessions;
  }

  /** ONNX Runtime intra-op threads per session. */
  public int intraOpThreads() {
    return intraOpThreads;
  }

  /** The executor process's resident memory after the load, in bytes (-1 where /proc is missing). */
  public long residentBytes() {
    return residentBytes;
  }

  /** Times the executor has loaded this model (1 unless it was evicted and loaded again). */
  public long loads() {
    return loads;
  }

  @Override
  public String toString() {
    return String.format("executor %s on %s: loaded in %.1f ms%s, %d sessions x %d threads, %.1f MiB resident, %d load%s",
        executorId, host, loadMillis(), loadedByReservation ? " (by this reservation)" : " (before)", sessions,
        intraOpThreads, residentBytes / 1048576.0, loads, loads == 1 ? "" : "s");
  }

  /** Loads the shipped model on every live executor; one entry per executor reached. */
  static List<ModelReservation> reserve(SparkContext context, final ModelSource source, final String[] outputs,
      final ScoringMetrics metrics) {
    Map<String, ModelReservation> reached = new LinkedHashMap<>();
    List<String[]> executors = SparkShim.liveExecutors(context);
    for (int round = 0; round < ROUNDS; round++) {
      List<String[]> missing = new ArrayList<>();
      for (String[] executor : executors) {
        if (!reached.containsKey(executor[0])) {
          missing.add(executor);
        }
      }
      if (missing.isEmpty()) {
        break;
      }
      List<ModelReservation> results = SparkShim.onExecutors(context, missing)
          .map(new Function<String, ModelReservation>() {
            private static final long serialVersionUID = 1L;

            @Override
            public ModelReservation call(String intended) {
              return loadHere(source, outputs, metrics);
            }
          })
          .collect();
      for (ModelReservation result : results) {
        reached.putIfAbsent(result.executorId, result);
      }
    }
    for (String[] executor : executors) {
      if (!reached.containsKey(executor[0])) {
        LOG.warn("sparkort: no reservation task ran on executor {} ({}); it will load the model on first use",
            executor[0], executor[1]);
      }
    }
    return new ArrayList<>(reached.values());
  }

  private static ModelReservation loadHere(ModelSource source, String[] outputs, ScoringMetrics metrics) {
    long[] fetched = new long[1];
    try (ModelNode node = ModelNode.open(source, outputs, fetched)) {
      metrics.opened(fetched[0], node);
      SparkEnv env = SparkEnv.get();
      return new ModelReservation(env.executorId(), env.blockManager().blockManagerId().host(), node.stats(),
          node.loadNanos() > 0, processResidentBytes());
    }
  }

  /** VmRSS of this process, from /proc/self/status; -1 where there is none. */
  static long processResidentBytes() {
    try {
      for (String line : Files.readAllLines(Paths.get("/proc/self/status"), StandardCharsets.UTF_8)) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
      }
    } catch (IOException | NumberFormatException e) {
      LOG.debug("no resident memory figure", e);
    }
    return -1;
  }
}
