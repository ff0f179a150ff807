package io.sparkort;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.array.ByteArrayMethods;

/**
 * A batch's rows in a byte array, the arena, laid out there in place by the native library as the
 * output rows: for plans whose every fetched column has a size per row known before the run (one
 * number, or a flat array of numbers whose length the model's signature fixes). As a row arrives
 * its bytes are copied into the arena, with room after them for what the row grows by; the native
 * library then lays each one out in place as the output row, with the predictions' slots and
 * arrays reserved, copies the features of the common case (an array column already in the
 * tensor's layout) into the tensors, and after the run writes the predictions into the rows
 * (native/src/unsafe_rows.rs; the layout's format is {@link NativeWire#rowLayout}). Each of those
 * steps cost more than a dozen nanoseconds a row in Java, a few there.
 *
 * <p>The rows live in two arenas per task, used by turns batch after batch, and each batch slot's
 * UnsafeRow object is re-pointed: nothing is allocated per row. Arenas and slots grow as rows come
 * (doubling from a small start), at most to a batch of {@code batchRows} rows within the budget. A row handed on stays valid while
 * the next batch is taken and scored (its first rows are taken before the last row of this one has
 * been used, when a consumer asks {@code hasNext}), and until the batch after; Spark's row
 * iterators promise less (a consumer that keeps a row copies it).
 */
final class ArenaRows implements BatchRows {
  /** Longer prediction arrays (8 MB a row at most) go through JoinedRows, whose sizes need no int arithmetic here. */
  private static final long MAX_ARRAY = 1 << 20;
  /** Batch slots to begin with. */
  private static final int FIRST_SLOTS = 16;
  /** The most bytes an arena (a byte array, its offsets ints) holds. */
  private static final long MAX_ARENA = Integer.MAX_VALUE - 16;

  private final ScoringPlan plan;
  private final int batchRows;
  /** The batch budget (at most {@link #MAX_ARENA}), with the partition its errors name. */
  private final BatchBudget.Bound bound;
  /** What a row costs beyond its bytes ({@link BatchBudget}): its growth, fixed tensors and bookkeeping. */
  private final long rowCost;

  private final ScoringPlan.Fetch[] fetches;
  private final boolean batched;
  /** Each of the batch's rows' place in the run's tensors (-1: null predictions). */
  private int[] slots;
  /** Row r of the batch spans bytes starts[r] to starts[r + 1] of its arena. */
  private int[] starts;
  private final int inputFields;
  /** How much longer an output row is than its input row ({@link NativeApi#rowGrowth}). */
  private final int growth;
  /** The layout as {@link NativeApi#layRows} takes it ({@link NativeWire#rowLayout}). */
  private final long[] layout;
  /** Per fetch: the bytes of the array reserved for it in each row; 0 for one value in its slot. */
  private final long[] arrayBytes;
  /** Two sets of the batch's row objects, re-pointed at their rows in the arena of the same turn. */
  private final UnsafeRow[][] slotRows = {new UnsafeRow[0], new UnsafeRow[0]};
  private final byte[][] arenas = {new byte[0], new byte[0]};
  /** Which of the two arenas and sets of slot rows the batch being taken uses. */
  private int turn;
  private int scored;

  private ArenaRows(ScoringPlan plan, int batchRows, long budget, String partition) {
    StructType input = plan.inputSchema();
    this.plan = plan;
    this.fetches = plan.fetches.toArray(new ScoringPlan.Fetch[0]);
    this.batched = plan.batched;
    this.batchRows = batchRows;
    this.bound = new BatchBudget.Bound(plan, partition, Math.min(budget, MAX_ARENA));
    int first = Math.min(batchRows, FIRST_SLOTS);
    slots = new int[first];
    starts = new int[first + 1];
    inputFields = input.fields().length;
    StructField[] inputs = input.fields();
    int[] moved = IntStream.range(0, inputs.length).filter(i -> !UnsafeRow.isFixedLength(inputs[i].dataType())).toArray();
    arrayBytes = new long[fetches.length];
    long[] arrayElements = new long[fetches.length];
    for (int f = 0; f < fetches.length; f++) {
      ScoringPlan.Fetch fetch = fetches[f];
      int n = fetch.rowRank == 1 ? (int) fetch.flatRowLength : 0;
      arrayElements[f] = n;
      arrayBytes[f] = fetch.rowRank == 1 ? UnsafeArrayData.calculateHeaderPortionInBytes(n)
          + ByteArrayMethods.roundNumberOfBytesToNearestWord((long) n * fetch.leaf.bytes) : 0;
    }
    layout = NativeWire.rowLayout(inputFields, moved, arrayBytes, arrayElements);
    growth = NativeApi.rowGrowth(layout);
    rowCost = growth + BatchBudget.fixedTensorBytes(plan) + BatchBudget.ROW_OVERHEAD;
  }

  /**
   * The layout for {@code plan}, or null where a fetched column's size per row is not known before
   * the run, or an input's tensor may take more than its rows do (a Vector, or elements widened,
   * into a shape the model leaves open): such a batch may end at a row already laid out.
   */
  static ArenaRows of(ScoringPlan plan, int batchRows, long budget, String partition) {
    for (ScoringPlan.Fetch fetch : plan.fetches) {
      boolean fixed = !fetch.maps && fetch.leaf != LeafType.STRING && fetch.rowRank <= 1 && fetch.flatRowLength >= 0
          && fetch.flatRowLength <= MAX_ARRAY;
      if (!fixed) {
        return null;
      }
    }
    for (ScoringPlan.Feed feed : plan.feeds) {
      boolean widens = feed.source == ScoringPlan.Source.VECTOR || feed.elementType.inputBytes > feed.leaves[0].bytes;
      if (feed.fixedRowElements < 0 && widens && feed.elementType != ElementType.STRING) {
        return null;
      }
    }
    return new ArenaRows(plan, batchRows, budget, partition);
  }

  /** Takes a batch: its rows take the space of the batch before the last one. */
  @Override
  public int take(Input input, BatchWriter writer, long firstRowIndex) {
    turn ^= 1;
    byte[] arena = arenas[turn];
    int used = 0;
    long bytes = 0;
    int size = 0;
    taking:
    for (;;) {
      int stop = Math.min(batchRows, slots.length);
      while (size < stop && input.hasNext()) {
        UnsafeRow row = input.next();
        int inputBytes = row.getSizeInBytes();
        if ((bytes += inputBytes + rowCost) > bound.bytes) {
          if (size == 0) {
            throw bound.rowTooLarge(row, firstRowIndex, rowCost, rowCostText());
          }
          input.putBack(row);
          break taking;
        }
        if (arena.length - used < (long) inputBytes + growth) {
          arena = grow(arena, used, (long) inputBytes + growth);
        }
        CopyBySize.copy(row.getBaseObject(), row.getBaseOffset(), arena, Platform.BYTE_ARRAY_OFFSET + used, inputBytes);
        used += inputBytes + growth;
        starts[++size] = used;
      }
      if (size < slots.length || size == batchRows || !input.hasNext()) {
        break;
      }
      growSlots();
    }
    scored = 0;
    if (size == 0) {
      return 0;
    }
    int r = NativeApi.layRows(arena, starts, size, layout, writer.startNativeCopy(size));
    for (; scored < r; scored++) {
      slots[scored] = scored;
    }
    UnsafeRow[] rows = slotRows[turn];
    if (rows.length < size) {
      rows = slotRows[turn] = Arrays.copyOf(rows, slots.length);
      for (int p = 0; p < rows.length; p++) {
        rows[p] = rows[p] != null ? rows[p] : new UnsafeRow(inputFields + fetches.length);
      }
    }
    for (int p = 0; p < size; p++) {
      rows[p].pointTo(arena, Platform.BYTE_ARRAY_OFFSET + starts[p], starts[p + 1] - starts[p]);
    }
    while (r < size) {
      // A row the native library could not copy as it is goes through the writer; the copying goes on after it.
      writeThrough(writer, rows[r], r, firstRowIndex + r);
      r++;
      long[] feeds = r < size ? writer.resumeNativeCopy() : null;
      int stop = feeds == null ? r : NativeApi.gatherFeeds(arena, starts, r, size, scored, layout, feeds);
      for (; r < stop; r++) {
        slots[r] = scored++;
      }
    }
    return size;
  }

  /** What the plan adds to a row ({@link #rowCost}), in words for messages. */
  private String rowCostText() {
    long largest = 0;
    String name = "";
    for (int f = 0; f < fetches.length; f++) {
      long bytes = Math.max(8, arrayBytes[f]);
      if (bytes >= largest) {
        largest = bytes;
        name = "model output '" + fetches[f].output + "' (column '" + fetches[f].column + "') " + bytes + " bytes a row";
      }
    }
    return "its predictions (largest: " + name + "), fixed tensors and bookkeeping";
  }

  /** Twice the slots, at most a batch's. */
  private void growSlots() {
    int n = (int) Math.min(batchRows, 2L * slots.length);
    slots = Arrays.copyOf(slots, n);
    starts = Arrays.copyOf(starts, n + 1);
  }

  /** Writes laid row {@code r}'s features with {@code writer}, which throws for a bad row or declines a null one. */
  private void writeThrough(BatchWriter writer, UnsafeRow row, int r, long rowIndex) {
    boolean written;
    try {
      written = writer.write(scored, row, rowIndex);
    } catch (InputBuffer.Full full) {
      // Not for these plans' inputs (see of): a tensor takes at most what its rows take, within the budget.
      throw new InvalidInputException("row " + rowIndex + " of " + bound.partition + " takes the batch's model input"
          + " tensors past the batch budget of " + bound.bytes + " bytes (" + full.bytes + "); " + BatchBudget.advice());
    }
    slots[r] = written ? scored++ : -1;
    if (!written) {
      for (int f = 0; f < fetches.length; f++) {
        row.setNullAt(inputFields + f);
      }
    }
  }

  /**
   * A larger arena for this turn, holding the batch's rows so far (its first {@code used} bytes)
   * and room for one more of {@code rowBytes}: twice the last, within the budget.
   */
  private byte[] grow(byte[] arena, int used, long rowBytes) {
    long bytes = Math.max(used + rowBytes, Math.min(2L * arena.length, bound.bytes));
    if (bytes > MAX_ARENA) {
      throw new InvalidInputException("a batch's rows take more than 2 GiB; lower batchSize or " + BatchBudget.CONF);
    }
    byte[] larger = new byte[(int) bytes];
    System.arraycopy(arena, 0, larger, 0, used);
    arenas[turn] = larger;
    return larger;
  }

  @Override
  public int scored() {
    return scored;
  }

  @Override
  public UnsafeRow out(int r) {
    return slotRows[turn][r];
  }

  /** Writes a run's predictions into the laid rows' reserved slots and arrays. */
  @Override
  public void fill(long[] resultOutputs, int size, int scored) {
    List<NativeWire.Output> outputs = NativeWire.readOutputs(resultOutputs);
    for (int f = 0; f < fetches.length; f++) {
      ScoringPlan.Fetch fetch = fetches[f];
      NativeWire.Output output = outputs.get(fetch.result);
      long perRow = BatchReader.fixedValuesPerRow(fetch, output, batched, scored);
      long[] prediction = NativeWire.prediction(inputFields + f, fetch.rowRank == 0 ? 0 : perRow, fetch.leaf.bytes,
          fetch.leaf == LeafType.BOOLEAN, output.address(0), output.bytes(0));
      NativeApi.fillRows(arenas[turn], starts, slots, size, layout, prediction);
    }
  }
}
