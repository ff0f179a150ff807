package io.sparkort;

import org.apache.spark.SparkConf;
import org.apache.spark.TaskContext;
import org.apache.spark.network.util.JavaUtils;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.types.StructField;

/**
 * The bytes one batch may take ({@value #CONF}): a batch ends at {@code batchSize} rows or at the
 * row that would take it past this budget, whichever comes first, so memory follows the rows that
 * came, never a configured row count. A row costs its bytes as Spark holds it, plus what the plan
 * knows it adds: the predictions' bytes (from the signature, or as measured on the task's batches
 * so far), the model inputs' tensor bytes where the signature fixes them, and {@value
 * #ROW_OVERHEAD} bytes of per-row bookkeeping. A task holds about three budgets at its peak (the
 * batch before, still being read; this batch; its tensors and outputs).
 *
 * <p>64 MiB by default: with Spark's default 1 GiB executor heap, Spark leaves about 290 MiB of
 * user memory ({@code (heap - 300 MiB) x (1 - spark.memory.fraction)}), where a task's batches
 * live; three budgets of 64 MiB fit a one-core executor with room to spare, and on the workloads
 * measured (ci/benchmark) no batch of the default 1024 rows comes near it.
 */
final class BatchBudget {
  static final String CONF = SparkOrtConf.BATCH_BYTES;
  static final long DEFAULT = parse(SparkOrtConf.DEFAULT_BATCH_BYTES);
  static final long MIN = 1L << 10;
  static final long MAX = 2L << 30;
  /** The per-row objects and slots of a batch (row objects, slot and start entries), in bytes. */
  static final int ROW_OVERHEAD = 64;

  private BatchBudget() {}

  /**
   * The budget for the task running: the session's value (a SQL conf set at run time reaches tasks
   * as a local property), else the executor's Spark conf, else {@link #DEFAULT}.
   */
  static long forThisTask() {
    TaskContext task = TaskContext.get();
    String value = task == null ? null : task.getLocalProperty(CONF);
    if (value == null) {
      SparkConf conf = SparkShim.executorConf();
      value = conf.contains(CONF) ? conf.get(CONF) : null;
    }
    return Math.min(value == null ? DEFAULT : parse(value), heapShare());
  }

  /**
   * The most a batch may take in this JVM, whatever the conf says: an eighth of the heap (a task
   * holds about three budgets, and the executor's task slots share the heap). A batch past the heap
   * would end in an OutOfMemoryError, which ends the executor.
   */
  static long heapShare() {
    return Runtime.getRuntime().maxMemory() / 8;
  }

  /** A size conf ({@code 64m}, {@code 10g}), at least {@code min} bytes, or an InvalidInputException naming it. */
  static long sizeConf(SparkConf conf, String key, long min) {
    return sizeConf(conf.get(key), key, min);
  }

  static long sizeConf(String value, String key, long min) {
    long bytes;
    try {
      bytes = JavaUtils.byteStringAsBytes(value.trim());
    } catch (RuntimeException e) {
      throw new InvalidInputException(key + " = '" + value + "' is not a size in bytes (such as 64m or 1g)");
    }
    if (bytes < min) {
      throw new InvalidInputException(key + " = '" + value + "' is less than " + min + " bytes");
    }
    return bytes;
  }

  static long parse(String value) {
    long bytes;
    try {
      bytes = JavaUtils.byteStringAsBytes(value.trim());
    } catch (RuntimeException e) {
      throw new InvalidInputException(CONF + " = '" + value + "' is not a size in bytes (such as 64m or 1g)");
    }
    if (bytes < MIN || bytes > MAX) {
      throw new InvalidInputException(CONF + " = '" + value + "' (" + bytes + " bytes) is outside its range, 1k to 2g");
    }
    return bytes;
  }

  /**
   * The budget one task's batches are held to, with what its errors name: the plan (whose columns
   * feed which model inputs) and the partition.
   */
  static final class Bound {
    final ScoringPlan plan;
    /** The partition, as messages name it ("partition 3"). */
    final String partition;
    /** The bytes a batch may take. */
    final long bytes;

    Bound(ScoringPlan plan, String partition, long bytes) {
      this.plan = plan;
      this.partition = partition;
      this.bytes = bytes;
    }

    /**
     * The error for a row that alone takes more than the budget: names the row, its largest column
     * (and the model input it feeds), the predictions' bytes and the budget.
     *
     * @param rowIndex the row's position in its partition
     * @param added bytes the plan adds to each row (predictions, fixed tensors, bookkeeping)
     * @param addedText what those bytes are, for the message
     */
    InvalidInputException rowTooLarge(UnsafeRow row, long rowIndex, long added, String addedText) {
      StructField[] fields = plan.inputSchema().fields();
      int largest = -1;
      long largestBytes = 0;
      for (int i = 0; i < fields.length; i++) {
        if (!UnsafeRow.isFixedLength(fields[i].dataType()) && !row.isNullAt(i)) {
          long size = row.getLong(i) & 0xffffffffL;
          if (size > largestBytes) {
            largest = i;
            largestBytes = size;
          }
        }
      }
      String column = largest < 0 ? "its fixed-width fields" : columnAndInput(plan, fields[largest].name()) + " "
          + largestBytes + " of them";
      return new InvalidInputException("row " + rowIndex + " of " + partition + " takes " + row.getSizeInBytes()
          + " bytes (" + column + ") and " + addedText + " " + added + " more, in all more than the batch budget of "
          + bytes + " bytes; " + advice());
    }
  }

  /** A column by name, with the model input it feeds if it feeds one. */
  static String columnAndInput(ScoringPlan plan, String column) {
    for (ScoringPlan.Feed feed : plan.feeds) {
      for (String c : feed.columns) {
        if (c.equals(column)) {
          return feed.columnsAndInput();
        }
      }
    }
    return "column '" + column + "'";
  }

  static String advice() {
    return "raise " + CONF + " (1k to 2g, e.g. spark.conf.set(\"" + CONF + "\", \"256m\")); a batch takes at most an"
        + " eighth of the executor's heap (" + heapShare() + " bytes here), so give executors more memory for larger ones";
  }

  /** Bytes per row of a fetch whose size per row the signature fixes (a number or a flat numeric array), else -1. */
  static long fixedBytes(ScoringPlan.Fetch fetch) {
    if (fetch.maps || fetch.leaf == LeafType.STRING || fetch.flatRowLength < 0 || fetch.rowRank > 1) {
      return -1;
    }
    return 8 + (fetch.rowRank == 0 ? 0 : 16 + fetch.flatRowLength * fetch.leaf.bytes);
  }

  /** Tensor bytes per row of the plan's inputs whose shape per row the signature fixes. */
  static long fixedTensorBytes(ScoringPlan plan) {
    long bytes = 0;
    for (ScoringPlan.Feed feed : plan.feeds) {
      if (feed.fixedRowElements >= 0 && feed.elementType != ElementType.STRING) {
        bytes += feed.fixedRowElements * feed.elementType.inputBytes;
      }
    }
    return bytes;
  }
}
