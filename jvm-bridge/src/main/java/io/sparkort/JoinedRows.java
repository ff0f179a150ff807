package io.sparkort;

import java.util.Iterator;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.catalyst.expressions.codegen.GenerateUnsafeRowJoiner;
import org.apache.spark.sql.catalyst.expressions.codegen.UnsafeRowJoiner;
import org.apache.spark.sql.types.StructType;

/**
 * Batch rows for any plan: each input row is kept as a copy, and on the way out joined with a row
 * of its predictions as {@link BatchReader} reads them (strings, maps, nested arrays and all).
 */
final class JoinedRows implements BatchRows {
  private final ScoringPlan plan;
  private final UnsafeRow[] kept;
  private final int[] slots;
  // The joined rows out are allocated once per task: one prediction row per batch slot,
  // overwritten each batch, and the projection's and joiner's reused rows.
  private final Object[][] predictions;
  private final GenericInternalRow[] predictionRows;
  private final GenericInternalRow nullPredictions;
  private final UnsafeProjection unsafePredictions;
  private final UnsafeRowJoiner joiner;
  private int scored;

  JoinedRows(ScoringPlan plan, int batchRows) {
    this.plan = plan;
    kept = new UnsafeRow[batchRows];
    slots = new int[batchRows];
    predictions = new Object[batchRows][];
    predictionRows = new GenericInternalRow[batchRows];
    for (int slot = 0; slot < batchRows; slot++) {
      predictions[slot] = new Object[plan.fetches.size()];
      predictionRows[slot] = new GenericInternalRow(predictions[slot]);
    }
    nullPredictions = new GenericInternalRow(new Object[plan.fetches.size()]);
    StructType predictionSchema = plan.predictionSchema();
    unsafePredictions = UnsafeProjection.create(predictionSchema);
    joiner = GenerateUnsafeRowJoiner.create(plan.inputSchema(), predictionSchema);
  }

  @Override
  public int take(Iterator<UnsafeRow> input, BatchWriter writer, long firstRowIndex) {
    int size = 0;
    scored = 0;
    while (size < kept.length && input.hasNext()) {
      UnsafeRow row = input.next();
      boolean written = writer.write(scored, row, firstRowIndex + size);
      kept[size] = row.copy();
      slots[size++] = written ? scored++ : -1;
    }
    return size;
  }

  @Override
  public int scored() {
    return scored;
  }

  @Override
  public void fill(long[] described, int size, int scored) {
    BatchReader.read(described, plan.fetches, plan.batched, scored, predictions);
  }

  @Override
  public UnsafeRow out(int r) {
    UnsafeRow predicted = unsafePredictions.apply(slots[r] >= 0 ? predictionRows[slots[r]] : nullPredictions);
    UnsafeRow joined = joiner.join(kept[r], predicted);
    kept[r] = null;
    return joined;
  }
}
