package io.sparkort;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.catalyst.expressions.codegen.GenerateUnsafeRowJoiner;
import org.apache.spark.sql.catalyst.expressions.codegen.UnsafeRowJoiner;
import org.apache.spark.sql.types.StructType;

/**
 * Batch rows for any plan: each input row is kept as a copy, and on the way out joined with a row
 * of its predictions as {@link BatchReader} reads them (strings, maps, nested arrays and all).
 * Where the signature does not fix the predictions' size per row, a task's first batch is one row,
 * and later batches count each row's predictions as the largest measured so far.
 */
final class JoinedRows implements BatchRows {
  /** Batch slots to begin with; they double as rows come, up to the batch size. */
  private static final int FIRST_SLOTS = 16;

  private final ScoringPlan plan;
  private final int batchRows;
  /** The batch budget, with the partition its errors name. */
  private final BatchBudget.Bound bound;
  private UnsafeRow[] kept;
  private int[] slots;
  // The joined rows out are allocated once per task: one prediction row per batch slot,
  // overwritten each batch, and the projection's and joiner's reused rows.
  private Object[][] predictions;
  private GenericInternalRow[] predictionRows;
  private final GenericInternalRow nullPredictions;
  private final UnsafeProjection unsafePredictions;
  private final UnsafeRowJoiner joiner;
  /** Predictions' bytes per row: from the signature, or the most measured so far; -1 before the first. */
  private long predictionBytes;
  /** What a row costs beyond its own bytes: predictions, fixed tensors, bookkeeping. */
  private long rowCost;
  private long firstRowIndex;
  private int scored;

  JoinedRows(ScoringPlan plan, int batchRows, long budget, String partition) {
    this.plan = plan;
    this.batchRows = batchRows;
    this.bound = new BatchBudget.Bound(plan, partition, budget);
    long fixed = 0;
    for (ScoringPlan.Fetch fetch : plan.fetches) {
      long bytes = BatchBudget.fixedBytes(fetch);
      fixed = bytes < 0 || fixed < 0 ? -1 : fixed + bytes;
    }
    predictionBytes = fixed;
    rowCost = cost();
    growSlots(Math.min(batchRows, FIRST_SLOTS));
    nullPredictions = new GenericInternalRow(new Object[plan.fetches.size()]);
    StructType predictionSchema = plan.predictionSchema();
    unsafePredictions = UnsafeProjection.create(predictionSchema);
    joiner = GenerateUnsafeRowJoiner.create(plan.inputSchema(), predictionSchema);
  }

  private long cost() {
    return Math.max(predictionBytes, 0) + BatchBudget.fixedTensorBytes(plan) + BatchBudget.ROW_OVERHEAD;
  }

  private void growSlots(int n) {
    int from = kept == null ? 0 : kept.length;
    kept = kept == null ? new UnsafeRow[n] : Arrays.copyOf(kept, n);
    slots = slots == null ? new int[n] : Arrays.copyOf(slots, n);
    predictions = predictions == null ? new Object[n][] : Arrays.copyOf(predictions, n);
    predictionRows = predictionRows == null ? new GenericInternalRow[n] : Arrays.copyOf(predictionRows, n);
    for (int slot = from; slot < n; slot++) {
      predictions[slot] = new Object[plan.fetches.size()];
      predictionRows[slot] = new GenericInternalRow(predictions[slot]);
    }
  }

  @Override
  public int take(Input input, BatchWriter writer, long firstRowIndex) {
    this.firstRowIndex = firstRowIndex;
    int limit = predictionBytes < 0 ? 1 : batchRows;
    int size = 0;
    long bytes = 0;
    scored = 0;
    while (size < limit && input.hasNext()) {
      UnsafeRow row = input.next();
      long cost = row.getSizeInBytes() + rowCost;
      if (bytes + cost > bound.bytes) {
        if (size == 0) {
          throw bound.rowTooLarge(row, firstRowIndex, rowCost, "its predictions, tensors and bookkeeping");
        }
        input.putBack(row);
        break;
      }
      boolean written;
      try {
        written = writer.write(scored, row, firstRowIndex + size);
      } catch (InputBuffer.Full full) {
        input.putBack(row);
        break;
      }
      bytes += cost;
      if (size == kept.length) {
        growSlots((int) Math.min(batchRows, 2L * kept.length));
      }
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
  public void fill(long[] resultOutputs, int size, int scored) {
    measurePredictions(resultOutputs, scored);
    BatchReader.read(resultOutputs, plan.fetches, plan.batched, scored, predictions);
  }

  /** Counts the run's outputs' bytes per row into what later rows cost; one row's above the budget is an error. */
  private void measurePredictions(long[] resultOutputs, int scored) {
    List<NativeWire.Output> outputs = NativeWire.readOutputs(resultOutputs);
    long total = 0;
    long largest = -1;
    int largestFetch = 0;
    for (int f = 0; f < plan.fetches.size(); f++) {
      NativeWire.Output output = outputs.get(plan.fetches.get(f).result);
      long bytes = 0;
      for (int b = 0; b < output.bufferCount(); b++) {
        bytes += output.bytes(b);
      }
      // Per row: the values, and a field and an array header on the way out.
      long perRow = (bytes + scored - 1) / scored + 24;
      total += perRow;
      if (perRow > largest) {
        largest = perRow;
        largestFetch = f;
      }
    }
    if (total > bound.bytes) {
      ScoringPlan.Fetch fetch = plan.fetches.get(largestFetch);
      throw new InvalidInputException("model output '" + fetch.output + "' (column '" + fetch.column + "') came back"
          + " with " + largest + " bytes a row for rows " + firstRowIndex + " to " + (firstRowIndex + scored - 1)
          + " of " + bound.partition + " (all predictions " + total + " bytes a row), more than the batch budget of "
          + bound.bytes + " bytes; " + BatchBudget.advice());
    }
    if (total > predictionBytes) {
      predictionBytes = total;
      rowCost = cost();
    }
  }

  @Override
  public UnsafeRow out(int r) {
    UnsafeRow predicted = unsafePredictions.apply(slots[r] >= 0 ? predictionRows[slots[r]] : nullPredictions);
    UnsafeRow joined = joiner.join(kept[r], predicted);
    kept[r] = null;
    return joined;
  }
}
