package io.sparkort;

import org.apache.spark.sql.catalyst.expressions.UnsafeRow;

/**
 * A batch's rows between arriving and going out: each input row is kept (Spark reuses the row
 * object it hands out) until the batch is scored, then comes out as an UnsafeRow of its values
 * followed by its predictions.
 */
interface BatchRows {
  /** {@link LaidRows} where every fetched column has a size per row known before the run, else {@link JoinedRows}. */
  static BatchRows of(ScoringPlan plan, int batchRows) {
    LaidRows laid = LaidRows.of(plan, batchRows);
    return laid != null ? laid : new JoinedRows(plan, batchRows);
  }

  void startBatch();

  /**
   * Keeps row {@code r} of the batch.
   *
   * @param slot the row's place in the run's tensors, or -1 for a row kept with null predictions
   */
  void keep(int r, UnsafeRow input, int slot);

  /**
   * Takes the predictions of a run over the batch's first {@code size} rows, {@code scored} of them
   * in the tensors. No run, and no call, when none was scored.
   */
  void fill(long[] described, int size, int scored);

  /** Row {@code r} with its predictions; valid until the next call (a consumer that keeps it copies it). */
  UnsafeRow out(int r);
}
