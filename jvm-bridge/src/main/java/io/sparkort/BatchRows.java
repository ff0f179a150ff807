package io.sparkort;

import java.util.Iterator;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;

/**
 * A batch's rows between arriving and going out: each input row is kept (Spark reuses the row
 * object it hands out) and its features written for the run, then after the run it comes out as an
 * UnsafeRow of its values followed by its predictions.
 */
interface BatchRows {
  /**
   * {@link ArenaRows} where every fetched column has a size per row known before the run, else
   * {@link JoinedRows}; batches of at most {@code batchRows} rows and {@code budget} bytes ({@link
   * BatchBudget}), their memory taken as rows come.
   */
  static BatchRows of(ScoringPlan plan, int batchRows, long budget, String partition) {
    ArenaRows laid = ArenaRows.of(plan, batchRows, budget, partition);
    return laid != null ? laid : new JoinedRows(plan, batchRows, budget, partition);
  }

  /** The partition's rows; a row a batch had no room for is put back, and comes first to the next batch. */
  interface Input extends Iterator<UnsafeRow> {
    /** Puts back {@code row}, the last one {@link #next} gave (copied: the source may reuse it). */
    void putBack(UnsafeRow row);
  }

  /**
   * Takes the next batch, up to the batch size and budget, from {@code input}, and writes the features of each
   * of its rows with {@code writer}; a row with a null input is kept with null predictions when the
   * plan keeps nulls.
   *
   * @param firstRowIndex the position of the batch's first row in its partition, for error messages
   * @return the number of rows taken
   */
  int take(Input input, BatchWriter writer, long firstRowIndex);

  /** How many rows of the last batch taken are in the run's tensors. */
  int scored();

  /**
   * Takes the predictions of a run over the batch's first {@code size} rows, {@code scored} of them
   * in the tensors. No run, and no call, when none was scored.
   */
  void fill(long[] resultOutputs, int size, int scored);

  /** Row {@code r} with its predictions; valid until the next call (a consumer that keeps it copies it). */
  UnsafeRow out(int r);
}
