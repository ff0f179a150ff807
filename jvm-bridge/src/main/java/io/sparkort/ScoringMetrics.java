package io.sparkort;

import java.io.Serializable;
import org.apache.spark.SparkContext;
import org.apache.spark.TaskContext;
import org.apache.spark.util.LongAccumulator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What one {@link OnnxModel} did, as named Spark accumulators: shown on each stage's page of the
 * Spark UI (under "Accumulators"), and read on the driver after a job through
 * {@link OnnxModel#metrics()}. They add up every task that succeeded, over every job that scored
 * with this model (a DataFrame computed twice is scored twice). Each task also logs what it did
 * through the executor's own logger.
 */
public final class ScoringMetrics implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Logger LOG = LoggerFactory.getLogger(ScoringMetrics.class);

  private final LongAccumulator rows;
  private final LongAccumulator batches;
  private final LongAccumulator modelNanos;
  private final LongAccumulator loads;
  private final LongAccumulator loadNanos;
  private final LongAccumulator fetchedBytes;
  private final transient SparkContext context;

  ScoringMetrics(SparkContext context, String model) {
    this.context = context;
    String prefix = "sparkort " + model + ": ";
    rows = context.longAccumulator(prefix + "rows scored");
    batches = context.longAccumulator(prefix + "batches");
    modelNanos = context.longAccumulator(prefix + "time in model (ns)");
    loads = context.longAccumulator(prefix + "model loads");
    loadNanos = context.longAccumulator(prefix + "model load time (ns)");
    fetchedBytes = context.longAccumulator(prefix + "model bytes fetched");
  }

  /** Whether these accumulators belong to {@code other}, the SparkContext now running. */
  boolean belongsTo(SparkContext other) {
    return context == other;
  }

  /** Rows scored by the model. */
  public long rowsScored() {
    return rows.value();
  }

  /** Native calls (batches of up to {@code batchSize} rows). */
  public long batches() {
    return batches.value();
  }

  /** Nanoseconds tasks spent in the model's native calls, summed over tasks. */
  public long modelNanos() {
    return modelNanos.value();
  }

  /** Times an executor read and initialised the model: at most once per executor while it stays open. */
  public long modelLoads() {
    return loads.value();
  }

  /** Nanoseconds executors spent loading the model, summed over loads. */
  public long modelLoadNanos() {
    return loadNanos.value();
  }

  /** Bytes executors fetched into their model cache (0 once every host has the model). */
  public long modelBytesFetched() {
    return fetchedBytes.value();
  }

  @Override
  public String toString() {
    return String.format("%d rows in %d batches, %.1f ms in model; %d loads taking %.1f ms; %d bytes fetched",
        rowsScored(), batches(), modelNanos() / 1e6, modelLoads(), modelLoadNanos() / 1e6, modelBytesFetched());
  }

  /** On an executor: the model was fetched ({@code bytes}, maybe 0) and opened by {@code node}. */
  void opened(long fetched, ModelNode node) {
    fetchedBytes.add(fetched);
    if (node.loadNanos() > 0) {
      loads.add(1);
      loadNanos.add(node.loadNanos());
    }
  }

  /** On an executor: one native call scored {@code size} rows in {@code nanos}. */
  void batch(int size, long nanos) {
    rows.add(size);
    batches.add(1);
    modelNanos.add(nanos);
  }

  /**
   * On an executor, as a task ends: logs the task's share. Each task works on its own copies of the
   * accumulators, which start at 0 (Spark sends them reset), so their values here are the task's.
   */
  void logTask(TaskContext task) {
    LOG.info("sparkort: task {} (partition {}) scored {} rows in {} batches, {} ms in the model{}{}",
        task.taskAttemptId(), task.partitionId(), rows.value(), batches.value(), modelNanos.value() / 1_000_000,
        loadNanos.value() > 0 ? ", " + loadNanos.value() / 1_000_000 + " ms loading it" : "",
        fetchedBytes.value() > 0 ? ", " + fetchedBytes.value() + " bytes fetched" : "");
  }
}
