package io.sparkort;

import java.util.List;
import org.apache.spark.SparkConf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A task's hold on a model node: the model as one executor JVM holds it, read and initialised once
 * (keyed by {@link ModelSource#key} and {@link ThreadBudget}) and shared by every task, partition, job and DataFrame
 * that scores with it. The node owns the sessions; tasks hand it their batches. Each task opens its
 * own {@code ModelNode} and closes it when it ends; the model stays open for the next task, until
 * the memory budget ({@value #MEMORY_CONF}) needs its room while no task holds it.
 */
final class ModelNode implements AutoCloseable {
  /** Bytes (models' sizes on disk) an executor may keep open; idle models beyond it are closed. */
  static final String MEMORY_CONF = SparkOrtConf.MODEL_MEMORY;

  private static final Logger LOG = LoggerFactory.getLogger(ModelNode.class);

  private final String path;
  private final long loadNanos;
  private long handle;
  private ModelCache.Lease lease;

  private ModelNode(String path, long handle, long loadNanos) {
    this.path = path;
    this.handle = handle;
    this.loadNanos = loadNanos;
  }

  /**
   * Opens the node for {@code source}'s model with this executor's {@link ThreadBudget}, fetching it
   * into the {@link ModelCache} first if this host does not have it; the native registry knows it
   * by {@link ModelSource#key}, as the cache does. See {@link #open(String, String, String,
   * ThreadBudget, String[])}.
   *
   * @param fetched receives the bytes this call fetched
   */
  static ModelNode open(ModelSource source, String[] outputs, long[] fetched) {
    ModelCache.Lease lease = ModelCache.open(source, fetched);
    try {
      String local = lease.model.getPath();
      ModelNode node = ModelSource.withLocation(lease.model, source.location,
          () -> open(local, source.key, source.sha256, ThreadBudget.forThisExecutor(), outputs));
      // The cache entry stays in use (not evicted) while the task holds the node.
      node.lease = lease;
      return node;
    } catch (RuntimeException | Error e) {
      lease.close();
      throw e;
    }
  }

  /**
   * Opens the node for the model file at {@code localPath} by path alone: the native library hashes
   * its files for its key. See {@link #open(String, String, String, ThreadBudget, String[])}.
   */
  static ModelNode open(String localPath, ThreadBudget budget, String[] outputs) {
    return open(localPath, null, null, budget, outputs);
  }

  /**
   * Opens the node for the model {@code key} names, whose files are at {@code localPath} (its .onnx
   * file with SHA-256 {@code onnxSha256}; both null to open it by path alone), with {@code outputs}
   * (tensors inside its graph) exposed as extra outputs, loading it if this JVM has not yet: one node
   * per key, budget and outputs, whatever the path.
   */
  static ModelNode open(String localPath, String key, String onnxSha256, ThreadBudget budget, String[] outputs) {
    NativeLoader.load();
    NativeApi.setModelMemoryBudget(memoryBudget(SparkShim.executorConf()));
    long[] report = NativeWire.openReport();
    long handle;
    try {
      handle = NativeApi.openModel(NativeWire.modelFile(localPath, key, onnxSha256), budget.sessions,
          budget.intraThreads, outputs, report);
    } finally {
      logNative();
    }
    ModelNode node = new ModelNode(localPath, handle, NativeWire.loadNanos(report));
    if (node.loadNanos > 0) {
      LOG.info("sparkort: loaded model {} in {} ms ({}; weights {} bytes)",
          localPath, node.loadNanos / 1_000_000, budget, node.stats().weightBytes);
    }
    return node;
  }

  /** Passes the native library's log records (evictions, budget warnings) to this logger. */
  private static void logNative() {
    for (NativeWire.LogRecord record : NativeWire.readLog(NativeApi.drainLog())) {
      String message = "sparkort: " + record.message;
      if (record.level.equals("ERROR")) {
        LOG.error(message);
      } else if (record.level.equals("WARN")) {
        LOG.warn(message);
      } else {
        LOG.info(message);
      }
    }
  }

  /** The signature of the model file at {@code localPath} with {@code outputs} exposed, read without its external data. */
  static ModelSignature readSignature(String localPath, String[] outputs) {
    NativeLoader.load();
    return NativeWire.readSignature(NativeApi.modelSignature(localPath, outputs));
  }

  /** The external data files the model at {@code localPath} names, relative to its folder. */
  static List<String> externalDataFiles(String localPath) {
    NativeLoader.load();
    return NativeWire.readFileList(NativeApi.externalDataFiles(localPath));
  }

  /** Nanoseconds this open spent loading the model; 0 when the JVM had it open already. */
  long loadNanos() {
    return loadNanos;
  }

  /** Runs one batch written by {@link BatchWriter#runRecord}; see {@link NativeApi#run}. */
  long run(NativeWire.RunRecord batch) {
    return NativeApi.run(handle, batch.names, batch.inputs);
  }

  Stats stats() {
    return NativeWire.readStats(NativeApi.modelStats(handle));
  }

  @Override
  public synchronized void close() {
    try {
      if (handle != 0) {
        NativeApi.closeModel(handle);
        handle = 0;
      }
    } finally {
      if (lease != null) {
        lease.close();
        lease = null;
      }
    }
  }

  @Override
  public String toString() {
    return "model node " + path;
  }

  static long memoryBudget(SparkConf conf) {
    return conf.contains(MEMORY_CONF) ? BatchBudget.sizeConf(conf, MEMORY_CONF, 0) : Long.MAX_VALUE;
  }

  /** What the node reports about the model (see {@link NativeApi#modelStats}). */
  static final class Stats {
    final long loadNanos;
    final int sessions;
    final int intraThreads;
    final long weightBytes;
    final int peakConcurrentRuns;
    final long loads;

    Stats(long loadNanos, int sessions, int intraThreads, long weightBytes, int peakConcurrentRuns, long loads) {
      this.loadNanos = loadNanos;
      this.sessions = sessions;
      this.intraThreads = intraThreads;
      this.weightBytes = weightBytes;
      this.peakConcurrentRuns = peakConcurrentRuns;
      this.loads = loads;
    }
  }
}
