package io.sparkort;

import java.util.ArrayList;
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
 * row arrives, its bytes are copied into an UnsafeRow laid out as the output row, with the
 * predictions' slots and arrays reserved; after the run the predictions are written into them in
 * place. This replaces keeping a copy of the input row and joining it with a row of predictions
 * later, which copied every input byte twice.
 *
 * <p>The rows live in two byte arrays per task, used by turns batch after batch, and each batch
 * slot's UnsafeRow object is re-pointed: nothing is allocated per row. A row handed on stays valid
 * while the next batch is laid out and scored (its first rows are laid before the last row of this
 * one has been used, when a consumer asks {@code hasNext}), and until the batch after; Spark's row
 * iterators promise less (a consumer that keeps a row copies it).
 */
final class LaidRows implements BatchRows {
  /** Longer prediction arrays (8 MB a row at most) go through JoinedRows, whose sizes need no int arithmetic here. */
  private static final long MAX_ARRAY = 1 << 20;

  private final ScoringPlan.Fetch[] fetches;
  private final boolean batched;
  /** Each of the batch's rows' place in the run's tensors (-1: null predictions). */
  private final int[] slots;
  private final int inputFields;
  private final int fields;
  private final int inputBitsetBytes;
  private final int bitsetBytes;
  /** The input fields whose values sit in the variable-length region: their offsets move. */
  private final int[] movedOrdinals;
  /** How far the input's variable-length region moves: the wider bitset and the predictions' slots. */
  private final long shift;
  /** Per fetch: the bytes its array takes in the variable-length region, 0 for one value per row. */
  private final int[] arrayBytes;
  private final int reservedBytes;
  /** Two sets of the batch's row objects, re-pointed at their rows in the arena of the same turn. */
  private final UnsafeRow[][] slotRows;
  private final byte[][] arenas = {new byte[0], new byte[0]};
  /** Which of the two arenas and sets of slot rows the batch being laid uses. */
  private int turn;
  private int used;

  private LaidRows(StructType input, ScoringPlan.Fetch[] fetches, boolean batched, int batchRows) {
    this.fetches = fetches;
    this.batched = batched;
    slots = new int[batchRows];
    inputFields = input.fields().length;
    fields = inputFields + fetches.length;
    inputBitsetBytes = UnsafeRow.calculateBitSetWidthInBytes(inputFields);
    bitsetBytes = UnsafeRow.calculateBitSetWidthInBytes(fields);
    List<Integer> moved = new ArrayList<>();
    StructField[] inputs = input.fields();
    for (int i = 0; i < inputs.length; i++) {
      if (!UnsafeRow.isFixedLength(inputs[i].dataType())) {
        moved.add(i);
      }
    }
    movedOrdinals = moved.stream().mapToInt(Integer::intValue).toArray();
    shift = bitsetBytes - inputBitsetBytes + 8L * fetches.length;
    arrayBytes = new int[fetches.length];
    int reserved = 0;
    for (int f = 0; f < fetches.length; f++) {
      ScoringPlan.Fetch fetch = fetches[f];
      if (fetch.rowRank == 1) {
        int n = (int) fetch.flatRowLength;
        arrayBytes[f] = UnsafeArrayData.calculateHeaderPortionInBytes(n)
            + (int) ByteArrayMethods.roundNumberOfBytesToNearestWord((long) n * fetch.leaf.bytes);
        reserved += arrayBytes[f];
      }
    }
    reservedBytes = reserved;
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

  /** Starts a batch: its rows take the space of the batch before the last one. */
  @Override
  public void startBatch() {
    turn ^= 1;
    used = 0;
  }

  /** Lays row {@code r}: its input values, with room for the predictions (null ones for slot -1). */
  @Override
  public void keep(int r, UnsafeRow input, int slot) {
    UnsafeRow row = lay(r, input);
    slots[r] = slot;
    if (slot < 0) {
      for (int f = 0; f < fetches.length; f++) {
        row.setNullAt(inputFields + f);
      }
    }
  }

  @Override
  public UnsafeRow out(int r) {
    return slotRows[turn][r];
  }

  private UnsafeRow lay(int r, UnsafeRow input) {
    Object base = input.getBaseObject();
    long offset = input.getBaseOffset();
    int inputBytes = input.getSizeInBytes();
    int fixedBytes = 8 * inputFields;
    int variableBytes = inputBytes - inputBitsetBytes - fixedBytes;
    int size = (int) (inputBytes + shift + reservedBytes);
    byte[] bytes = arenas[turn];
    if (bytes.length - used < size) {
      // Rows laid already keep the old array; the new one holds a whole batch of rows this size.
      bytes = new byte[(int) Math.min(Integer.MAX_VALUE - 8, Math.max(2L * bytes.length, (long) size * slots.length))];
      arenas[turn] = bytes;
      used = 0;
    }
    long at = Platform.BYTE_ARRAY_OFFSET + used;
    used += size;
    // The input's null bits for its fields; the predictions' bits above them, their slots and their
    // arrays start clear, as in a fresh row.
    if (inputBitsetBytes == bitsetBytes) {
      SmallBytes.copy(base, offset, bytes, at, bitsetBytes + fixedBytes);
    } else {
      SmallBytes.copy(base, offset, bytes, at, inputBitsetBytes);
      SmallBytes.clearWords(bytes, at + inputBitsetBytes, bitsetBytes - inputBitsetBytes);
      SmallBytes.copy(base, offset + inputBitsetBytes, bytes, at + bitsetBytes, fixedBytes);
    }
    SmallBytes.clearWords(bytes, at + bitsetBytes + fixedBytes, 8L * fetches.length);
    SmallBytes.copy(base, offset + inputBitsetBytes + fixedBytes, bytes, at + bitsetBytes + 8L * fields,
        variableBytes);
    SmallBytes.clearWords(bytes, at + size - reservedBytes, reservedBytes);
    UnsafeRow row = slotRows[turn][r];
    row.pointTo(bytes, at, size);
    for (int ordinal : movedOrdinals) {
      if (!row.isNullAt(ordinal)) {
        row.setLong(ordinal, row.getLong(ordinal) + (shift << 32));
      }
    }
    long array = bitsetBytes + 8L * fields + variableBytes;
    for (int f = 0; f < arrayBytes.length; f++) {
      if (arrayBytes[f] > 0) {
        row.setLong(inputFields + f, (array << 32) | arrayBytes[f]);
        Platform.putLong(bytes, at + array, fetches[f].flatRowLength);
        array += arrayBytes[f];
      }
    }
    return row;
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
      LeafType leaf = fetch.leaf;
      long data = output.address(0);
      int ordinal = inputFields + f;
      long header = fetch.rowRank == 0 ? 0 : UnsafeArrayData.calculateHeaderPortionInBytes((int) perRow);
      for (int r = 0; r < size; r++) {
        UnsafeRow row = slotRows[turn][r];
        if (slots[r] < 0) {
          continue;
        }
        if (fetch.rowRank == 0) {
          setScalar(row, ordinal, leaf, data + (long) slots[r] * leaf.bytes);
        } else {
          long values = row.getBaseOffset() + (row.getLong(ordinal) >>> 32) + header;
          SmallBytes.copy(null, data + slots[r] * perRow * leaf.bytes, row.getBaseObject(), values,
              perRow * leaf.bytes);
        }
      }
    }
  }

  private static void setScalar(UnsafeRow row, int ordinal, LeafType leaf, long address) {
    switch (leaf) {
      case FLOAT:
        row.setFloat(ordinal, Platform.getFloat(null, address));
        break;
      case DOUBLE:
        row.setDouble(ordinal, Platform.getDouble(null, address));
        break;
      case BYTE:
        row.setByte(ordinal, Platform.getByte(null, address));
        break;
      case SHORT:
        row.setShort(ordinal, Platform.getShort(null, address));
        break;
      case INT:
        row.setInt(ordinal, Platform.getInt(null, address));
        break;
      case LONG:
        row.setLong(ordinal, Platform.getLong(null, address));
        break;
      case BOOLEAN:
        row.setBoolean(ordinal, Platform.getByte(null, address) != 0);
        break;
      default:
        throw new IllegalStateException("no fixed-width slot for " + leaf);
    }
  }
}
