package io.sparkort;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.array.ByteArrayMethods;

/**
 * Batch rows written once, for plans whose every fetched column has a size per row known before
 * the run: one number, or a flat array of numbers whose length the model's signature fixes. As a
 * row arrives its bytes are copied into a byte array, the arena; the native library then lays each
 * one out in place as the output row, with the predictions' slots and arrays reserved, copies the
 * features of the common case (an array column already in the tensor's layout) into the tensors,
 * and after the run writes the predictions into the rows (native/src/unsafe_rows.rs). Each of
 * those steps cost more than a dozen nanoseconds a row in Java, a few there.
 *
 * <p>The rows live in two arenas per task, used by turns batch after batch, and each batch slot's
 * UnsafeRow object is re-pointed: nothing is allocated per row. A row handed on stays valid while
 * the next batch is taken and scored (its first rows are taken before the last row of this one has
 * been used, when a consumer asks {@code hasNext}), and until the batch after; Spark's row
 * iterators promise less (a consumer that keeps a row copies it).
 */
final class LaidRows implements BatchRows {
  /** Longer prediction arrays (8 MB a row at most) go through JoinedRows, whose sizes need no int arithmetic here. */
  private static final long MAX_ARRAY = 1 << 20;

  private final ScoringPlan.Fetch[] fetches;
  private final boolean batched;
  /** Each of the batch's rows' place in the run's tensors (-1: null predictions). */
  private final int[] slots;
  /** Row r of the batch spans bytes starts[r] to starts[r + 1] of its arena. */
  private final int[] starts;
  private final int inputFields;
  /** How much longer an output row is than its input row. */
  private final int growth;
  /** The layout as {@link NativeApi#layRows} takes it. */
  private final long[] layout;
  /** Two sets of the batch's row objects, re-pointed at their rows in the arena of the same turn. */
  private final UnsafeRow[][] slotRows;
  private final byte[][] arenas = {new byte[0], new byte[0]};
  /** Which of the two arenas and sets of slot rows the batch being taken uses. */
  private int turn;
  private int scored;

  private LaidRows(StructType input, ScoringPlan.Fetch[] fetches, boolean batched, int batchRows) {
    this.fetches = fetches;
    this.batched = batched;
    slots = new int[batchRows];
    starts = new int[batchRows + 1];
    inputFields = input.fields().length;
    int fields = inputFields + fetches.length;
    int inputBitsetBytes = UnsafeRow.calculateBitSetWidthInBytes(inputFields);
    int bitsetBytes = UnsafeRow.calculateBitSetWidthInBytes(fields);
    List<Long> described = new ArrayList<>(Arrays.asList((long) inputBitsetBytes, (long) bitsetBytes, (long) inputFields));
    List<Long> moved = new ArrayList<>();
    StructField[] inputs = input.fields();
    for (int i = 0; i < inputs.length; i++) {
      if (!UnsafeRow.isFixedLength(inputs[i].dataType())) {
        moved.add((long) i);
      }
    }
    described.add((long) moved.size());
    described.addAll(moved);
    described.add((long) fetches.length);
    int reserved = 0;
    for (ScoringPlan.Fetch fetch : fetches) {
      int n = fetch.rowRank == 1 ? (int) fetch.flatRowLength : 0;
      int bytes = fetch.rowRank == 1 ? UnsafeArrayData.calculateHeaderPortionInBytes(n)
          + (int) ByteArrayMethods.roundNumberOfBytesToNearestWord((long) n * fetch.leaf.bytes) : 0;
      described.add((long) bytes);
      described.add((long) n);
      reserved += bytes;
    }
    layout = described.stream().mapToLong(Long::longValue).toArray();
    growth = bitsetBytes - inputBitsetBytes + 8 * fetches.length + reserved;
    slotRows = new UnsafeRow[2][batchRows];
    for (UnsafeRow[] rows : slotRows) {
      for (int slot = 0; slot < batchRows; slot++) {
        rows[slot] = new UnsafeRow(fields);
      }
    }
  }

  /** The layout for {@code plan}, or null where a fetched column's size per row is not known before the run. */
  static LaidRows of(ScoringPlan plan, int batchRows) {
    for (ScoringPlan.Fetch fetch : plan.fetches) {
      boolean fixed = !fetch.maps && fetch.leaf != LeafType.STRING && fetch.rowRank <= 1 && fetch.flatRowLength >= 0
          && fetch.flatRowLength <= MAX_ARRAY;
      if (!fixed) {
        return null;
      }
    }
    return new LaidRows(plan.inputSchema(), plan.fetches.toArray(new ScoringPlan.Fetch[0]), plan.batched, batchRows);
  }

  /** Takes a batch: its rows take the space of the batch before the last one. */
  @Override
  public int take(Iterator<UnsafeRow> input, BatchWriter writer, long firstRowIndex) {
    turn ^= 1;
    byte[] arena = arenas[turn];
    int used = 0;
    int size = 0;
    while (size < slots.length && input.hasNext()) {
      UnsafeRow row = input.next();
      int inputBytes = row.getSizeInBytes();
      if (arena.length - used < (long) inputBytes + growth) {
        arena = grow(arena, used, (long) inputBytes + growth, size);
      }
      SmallBytes.copy(row.getBaseObject(), row.getBaseOffset(), arena, Platform.BYTE_ARRAY_OFFSET + used, inputBytes);
      used += inputBytes + growth;
      starts[++size] = used;
    }
    scored = 0;
    if (size == 0) {
      return 0;
    }
    int r = NativeApi.layRows(arena, starts, size, layout, writer.gathering(0));
    for (; scored < r; scored++) {
      slots[scored] = scored;
    }
    UnsafeRow[] rows = slotRows[turn];
    for (int p = 0; p < size; p++) {
      rows[p].pointTo(arena, Platform.BYTE_ARRAY_OFFSET + starts[p], starts[p + 1] - starts[p]);
    }
    while (r < size) {
      // A row the native library could not copy as it is goes through the writer; the copying goes on after it.
      writeThrough(writer, rows[r], r, firstRowIndex + r);
      r++;
      long[] feeds = r < size ? writer.gathering(scored) : null;
      int stop = feeds == null ? r : NativeApi.gatherFeeds(arena, starts, r, size, scored, layout, feeds);
      for (; r < stop; r++) {
        slots[r] = scored++;
      }
    }
    return size;
  }

  /** Writes laid row {@code r}'s features with {@code writer}, which throws for a bad row or declines a null one. */
  private void writeThrough(BatchWriter writer, UnsafeRow row, int r, long rowIndex) {
    boolean written = writer.write(scored, row, rowIndex);
    slots[r] = written ? scored++ : -1;
    if (!written) {
      for (int f = 0; f < fetches.length; f++) {
        row.setNullAt(inputFields + f);
      }
    }
  }

  /**
   * A larger arena for this turn, holding the batch's {@code taken} rows so far (its first {@code
   * used} bytes), with room for the rest of the batch if they are {@code rowBytes} each.
   */
  private byte[] grow(byte[] arena, int used, long rowBytes, int taken) {
    long bytes = Math.max(2L * arena.length, used + rowBytes * (slots.length - taken));
    if (bytes > Integer.MAX_VALUE - 8) {
      throw new InvalidInputException("a batch's rows take more than 2 GiB; lower batchSize");
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
  public void fill(long[] described, int size, int scored) {
    List<BatchReader.Output> outputs = BatchReader.outputs(described);
    for (int f = 0; f < fetches.length; f++) {
      ScoringPlan.Fetch fetch = fetches[f];
      BatchReader.Output output = outputs.get(fetch.result);
      long perRow = BatchReader.elements(BatchReader.rowDims(fetch, output, batched, scored));
      if (perRow != fetch.flatRowLength) {
        throw new InferenceException("model output '" + fetch.output + "' came back with " + perRow
            + " values per row; its signature says " + fetch.flatRowLength);
      }
      long[] prediction = {inputFields + f, fetch.rowRank == 0 ? 0 : perRow, fetch.leaf.bytes,
          fetch.leaf == LeafType.BOOLEAN ? 1 : 0, output.address(0), output.bytes(0)};
      NativeApi.fillRows(arenas[turn], starts, slots, size, layout, prediction);
    }
  }
}
