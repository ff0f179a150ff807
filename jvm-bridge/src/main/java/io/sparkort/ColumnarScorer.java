package io.sparkort;

import java.util.Iterator;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.execution.vectorized.OffHeapColumnVector;
import org.apache.spark.sql.execution.vectorized.WritableColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The scoring path for a child that hands over column batches (Spark's vectorized Parquet and ORC
 * readers, the in-memory cache of primitive columns): each batch's fed columns go from their
 * vectors straight into the input tensors ({@link BatchWriter#writeColumns}), with no input row
 * built, and the batch goes on as a column batch: the child's vectors as they are, then one vector
 * per prediction, filled from the run's outputs by bulk copies. Where the parent takes rows, the
 * node builds each output row once from that batch, input columns and predictions together
 * ({@link ColumnarRows}). A batch longer than {@code batchSize} rows (or than the batch budget
 * allows) is scored in runs of at most that many.
 *
 * <p>Only for plans {@link #accepts}; every other plan, and every child that hands over rows, goes
 * through {@link PartitionScorer}. The model, the writer and the task-end release are the same
 * ({@link ScoringTask}).
 */
final class ColumnarScorer implements FlatMapFunction<Iterator<ColumnarBatch>, ColumnarBatch> {
  private static final long serialVersionUID = 1L;

  private final ScoringPlan plan;
  private final ModelSource source;
  private final int batchRows;
  private final ScoringMetrics metrics;
  private final OnnxScoreExec.NodeMetrics nodeMetrics;

  ColumnarScorer(ScoringPlan plan, ModelSource source, int batchSize, ScoringMetrics metrics,
      OnnxScoreExec.NodeMetrics nodeMetrics) {
    this.plan = plan;
    this.source = source;
    this.batchRows = plan.rowsPerRun(batchSize);
    this.metrics = metrics;
    this.nodeMetrics = nodeMetrics;
  }

  /**
   * Whether {@code plan} can score column batches: a batched model whose every input is fed by
   * numeric or boolean scalar columns, or by one array column of such values whose length the model
   * fixes, and whose every fetched output is one number per row or a flat array of them whose
   * length the model fixes.
   */
  static boolean accepts(ScoringPlan plan) {
    if (!plan.batched) {
      return false;
    }
    for (ScoringPlan.Feed feed : plan.feeds) {
      boolean shape = feed.source == ScoringPlan.Source.SCALARS
          || feed.source == ScoringPlan.Source.ARRAY && feed.depth == 1 && feed.fixedRowElements >= 0;
      if (!shape || feed.elementType == ElementType.STRING) {
        return false;
      }
      for (LeafType leaf : feed.leaves) {
        if (leaf == LeafType.STRING) {
          return false;
        }
      }
    }
    for (ScoringPlan.Fetch fetch : plan.fetches) {
      if (fetch.maps || fetch.leaf == LeafType.STRING || fetch.rowRank > 1 || fetch.flatRowLength < 0) {
        return false;
      }
    }
    return true;
  }

  @Override
  public Iterator<ColumnarBatch> call(Iterator<ColumnarBatch> batches) {
    return new ScoredBatches(batches);
  }

  private final class ScoredBatches implements Iterator<ColumnarBatch> {
    private final Iterator<ColumnarBatch> input;
    private final ScoringPlan.Fetch[] fetches = plan.fetches.toArray(new ScoringPlan.Fetch[0]);
    private ScoringTask scoring;
    /** One per fetch, holding a batch's predictions; freed at task end. */
    private OffHeapColumnVector[] predictions;
    private ColumnVector[] columns = new ColumnVector[0];
    private int[] slots = new int[0];
    /** Rows per run: the batch size, or fewer where the budget holds fewer. */
    private int runRows;
    private long rowIndex;

    ScoredBatches(Iterator<ColumnarBatch> input) {
      this.input = input;
    }

    @Override
    public boolean hasNext() {
      return input.hasNext();
    }

    @Override
    public ColumnarBatch next() {
      ColumnarBatch batch = input.next();
      int rows = batch.numRows();
      int width = batch.numCols();
      if (rows > 0 && scoring == null) {
        open();
      }
      if (columns.length != width + fetches.length) {
        columns = new ColumnVector[width + fetches.length];
      }
      for (int c = 0; c < width; c++) {
        columns[c] = batch.column(c);
      }
      if (predictions == null) {
        allocatePredictions(rows);
      }
      for (int f = 0; f < fetches.length; f++) {
        predictions[f].reset();
        predictions[f].reserve(rows);
        if (fetches[f].rowRank == 1) {
          predictions[f].arrayData().reserve((int) Math.min(Integer.MAX_VALUE, rows * fetches[f].flatRowLength));
        }
        columns[width + f] = predictions[f];
      }
      if (rows > 0) {
        // A killed task (a cancelled job, a failed stage, a stopped query) ends here, within one batch.
        scoring.task.killTaskIfInterrupted();
        for (int from = 0; from < rows; from += runRows) {
          score(from, Math.min(runRows, rows - from));
        }
      }
      nodeMetrics.outputRows.add(rows);
      return new ColumnarBatch(columns, rows);
    }

    /** Scores the batch's rows {@code from} to {@code from + rows}: one run, and its predictions into the vectors. */
    private void score(int from, int rows) {
      if (slots.length < rows) {
        slots = new int[runRows];
      }
      int scored = scoring.writer.writeColumns(columns, from, rows, slots, rowIndex);
      rowIndex += rows;
      if (scored < rows) {
        for (int r = 0; r < rows; r++) {
          if (slots[r] < 0) {
            for (OffHeapColumnVector prediction : predictions) {
              prediction.putNull(from + r);
            }
          }
        }
      }
      if (scored == 0) {
        return;
      }
      long result = scoring.run(scored);
      try {
        List<NativeWire.Output> outputs = NativeWire.readOutputs(NativeApi.resultOutputs(result));
        for (int f = 0; f < fetches.length; f++) {
          ScoringPlan.Fetch fetch = fetches[f];
          NativeWire.Output output = outputs.get(fetch.result);
          long perRow = BatchReader.fixedValuesPerRow(fetch, output, true, scored);
          fill(predictions[f], fetch, perRow, output.address(0), from, rows, scored < rows);
        }
      } finally {
        NativeApi.closeResult(result);
      }
    }

    /**
     * Copies one output's values (already of the column's Spark type, {@code perRow} a row) into
     * rows {@code from} to {@code from + rows} of its vector: in one copy when every row was scored,
     * else row by row by slot.
     */
    private void fill(OffHeapColumnVector vector, ScoringPlan.Fetch fetch, long perRow, long address, int from,
        int rows, boolean gaps) {
      int bytes = fetch.leaf.bytes;
      boolean array = fetch.rowRank == 1;
      WritableColumnVector values = array ? vector.arrayData() : vector;
      long rowBytes = perRow * bytes;
      long to = ((OffHeapColumnVector) values).valuesNativeAddress() + from * rowBytes;
      if (!gaps) {
        Platform.copyMemory(null, address, null, to, rows * rowBytes);
        if (!array) {
          return;
        }
      }
      for (int r = 0; r < rows; r++) {
        int slot = gaps ? slots[r] : r;
        if (slot < 0) {
          continue;
        }
        if (gaps) {
          Platform.copyMemory(null, address + slot * rowBytes, null, to + r * rowBytes, rowBytes);
        }
        if (array) {
          vector.putArray(from + r, (int) ((from + r) * perRow), (int) perRow);
        }
      }
    }

    /** The model and buffers are taken on the first row, so an empty partition costs nothing. */
    private void open() {
      scoring = new ScoringTask(plan, source, batchRows, metrics, nodeMetrics, () -> { });
      long rowBytes = BatchBudget.fixedTensorBytes(plan) + BatchBudget.ROW_OVERHEAD;
      for (ScoringPlan.Fetch fetch : fetches) {
        rowBytes += fetch.flatRowLength * fetch.leaf.bytes;
      }
      runRows = (int) Math.max(1, Math.min(batchRows, scoring.budget / rowBytes));
    }

    /** The prediction vectors, freed as the task ends (native memory, outside the heap). */
    private void allocatePredictions(int rows) {
      OffHeapColumnVector[] vectors = new OffHeapColumnVector[fetches.length];
      TaskContext.get().addTaskCompletionListener(
          new TaskCompletionListener() {
            @Override
            public void onTaskCompletion(TaskContext context) {
              for (OffHeapColumnVector vector : vectors) {
                if (vector != null) {
                  vector.close();
                }
              }
            }
          });
      for (int f = 0; f < fetches.length; f++) {
        vectors[f] = new OffHeapColumnVector(Math.max(rows, 1), fetches[f].sparkType);
      }
      predictions = vectors;
    }
  }
}
