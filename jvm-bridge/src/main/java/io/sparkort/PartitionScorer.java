package io.sparkort;

import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;

/**
 * The body of the one scoring path: scores a partition in batches of {@code batchSize} rows and
 * yields each input row joined with its predictions, as UnsafeRows ({@link OnnxScoreExec} passes
 * them on as they are). Every surface (Java, Python, streaming) ends here. A task that Spark kills
 * stops before its next batch; its completion listener releases the model and the buffers.
 */
final class PartitionScorer implements FlatMapFunction<Iterator<InternalRow>, InternalRow> {
  private static final long serialVersionUID = 1L;

  private final ScoringPlan plan;
  private final ModelSource source;
  /** Rows per native call ({@link ScoringPlan#rowsPerRun}). */
  private final int batchRows;
  private final ScoringMetrics metrics;
  private final OnnxScoreExec.NodeMetrics nodeMetrics;

  PartitionScorer(ScoringPlan plan, ModelSource source, int batchSize, ScoringMetrics metrics,
      OnnxScoreExec.NodeMetrics nodeMetrics) {
    this.plan = plan;
    this.source = source;
    this.batchRows = plan.rowsPerRun(batchSize);
    this.metrics = metrics;
    this.nodeMetrics = nodeMetrics;
  }

  @Override
  public Iterator<InternalRow> call(Iterator<InternalRow> rows) {
    return new ScoredRows(rows);
  }

  private final class ScoredRows implements Iterator<InternalRow> {
    private final UnsafeRows input;
    private ScoringTask scoring;
    private BatchRows rows;
    private int size;
    private int next;
    private long rowIndex;
    private TaskContext task;

    ScoredRows(Iterator<InternalRow> input) {
      this.input = new UnsafeRows(input);
    }

    @Override
    public boolean hasNext() {
      while (next >= size) {
        if (!input.hasNext()) {
          return false;
        }
        scoreNextBatch();
      }
      return true;
    }

    @Override
    public InternalRow next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      return rows.out(next++);
    }

    private void scoreNextBatch() {
      if (scoring == null) {
        open();
      }
      // A killed task (a cancelled job, a failed stage, a stopped query) ends here, within one batch.
      task.killTaskIfInterrupted();
      // Rows handed on are counted a batch at a time (and the last, perhaps partly used, at task end).
      nodeMetrics.outputRows.add(next);
      next = 0;
      size = rows.take(input, scoring.writer, rowIndex);
      rowIndex += size;
      int written = rows.scored();
      if (written == 0) {
        return;
      }
      long result = scoring.run(written);
      try {
        rows.fill(NativeApi.resultOutputs(result), size, written);
      } finally {
        NativeApi.closeResult(result);
      }
    }

    /** Model and buffers are taken on the first row, so an empty partition costs nothing. */
    private void open() {
      scoring = new ScoringTask(plan, source, batchRows, metrics, nodeMetrics, () -> nodeMetrics.outputRows.add(next));
      task = scoring.task;
      rows = BatchRows.of(plan, batchRows, scoring.budget, scoring.partition);
    }
  }

  /**
   * The input as UnsafeRows: the rare row that is not one already goes through a projection, made
   * when one comes. A row put back by a batch cut by bytes comes first.
   */
  private final class UnsafeRows implements BatchRows.Input {
    private final Iterator<InternalRow> rows;
    private UnsafeProjection projection;
    private UnsafeRow putBack;

    UnsafeRows(Iterator<InternalRow> rows) {
      this.rows = rows;
    }

    @Override
    public boolean hasNext() {
      return putBack != null || rows.hasNext();
    }

    @Override
    public void putBack(UnsafeRow row) {
      putBack = row.copy();
    }

    @Override
    public UnsafeRow next() {
      if (putBack != null) {
        UnsafeRow row = putBack;
        putBack = null;
        return row;
      }
      InternalRow row = rows.next();
      if (row instanceof UnsafeRow) {
        return (UnsafeRow) row;
      }
      if (projection == null) {
        projection = UnsafeProjection.create(plan.inputSchema());
      }
      return projection.apply(row);
    }
  }
}
