package io.sparkort;

import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.execution.vectorized.WritableColumnVector;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.ByteType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DateType;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.LongType;
import org.apache.spark.sql.types.ShortType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.TimestampType;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarArray;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.array.ByteArrayMethods;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The columnar path's rows: each scored batch (the child's vectors, then the predictions') turned
 * into UnsafeRows by the scoring node itself, where its parent takes rows. The rows of a batch are
 * laid out in one byte array a column at a time: each column's values straight from its vector's
 * memory ({@link VectorMemory}) or, for a vector that has none (dictionary ids, other vector
 * kinds), through its getters; numbers, dates, timestamps, strings and arrays of numbers. The bytes are the ones Spark's own columnar-to-row step writes (its
 * {@code UnsafeRowWriter}'s layout: null bits, an 8-byte slot a field, then each array or string
 * in field order, in words), at a fraction of its cost: that step reads every value of every row
 * through a generated loop of getter calls (measured on the bench's MLP from Parquet: 186 ns a row
 * there, its 64 and 10-float arrays, against what a copy of their bytes costs).
 *
 * <p>A column of a type this does not lay out (decimals, binary, maps, structs, nested arrays, ...) sends
 * the whole batch through Spark's {@link UnsafeProjection}, as its columnar-to-row step would. Rows
 * live in two arrays used by turns, batch after batch, so a row stays valid while the next batch
 * is built (Spark's row iterators promise less).
 */
final class ColumnarRows implements Iterator<InternalRow> {
  /** The most bytes a batch's rows take in one array; a batch that would take more goes through the projection. */
  private static final long MAX_ARENA = Integer.MAX_VALUE - 16;

  /** How a column's values are laid out in a row; null for a type that is not. */
  private enum Kind {
    BOOLEAN(1, LeafType.BOOLEAN), BYTE(1, LeafType.BYTE), SHORT(2, LeafType.SHORT), INT(4, LeafType.INT),
    LONG(8, LeafType.LONG), FLOAT(4, LeafType.FLOAT), DOUBLE(8, LeafType.DOUBLE), BYTES(0, null);

    final int bytes;
    final LeafType leaf;

    Kind(int bytes, LeafType leaf) {
      this.bytes = bytes;
      this.leaf = leaf;
    }

    static Kind of(DataType type) {
      if (type instanceof BooleanType) {
        return BOOLEAN;
      } else if (type instanceof ByteType) {
        return BYTE;
      } else if (type instanceof ShortType) {
        return SHORT;
      } else if (type instanceof IntegerType || type instanceof DateType) {
        return INT;
      } else if (type instanceof LongType || type instanceof TimestampType) {
        return LONG;
      } else if (type instanceof FloatType) {
        return FLOAT;
      } else if (type instanceof DoubleType) {
        return DOUBLE;
      } else if (type instanceof StringType) {
        return BYTES;
      }
      return null;
    }
  }

  /** {@link ColumnarScorer}'s batches, as rows. */
  static final class Function implements FlatMapFunction<Iterator<ColumnarBatch>, InternalRow> {
    private static final long serialVersionUID = 1L;
    private final StructType schema;

    Function(StructType schema) {
      this.schema = schema;
    }

    @Override
    public Iterator<InternalRow> call(Iterator<ColumnarBatch> batches) {
      return new ColumnarRows(batches, schema);
    }
  }

  private final Iterator<ColumnarBatch> batches;
  private final StructType schema;
  /** Per column: its kind, or its elements' for an array column. */
  private final Kind[] kinds;
  private final boolean[] arrays;
  /** Whether every column is laid out here; else every batch goes through {@link #projection}. */
  private final boolean laid;
  private final int bitsetBytes;
  private final int fixedBytes;
  private UnsafeProjection projection;

  private final byte[][] arenas = {new byte[0], new byte[0]};
  private final UnsafeRow[][] slotRows = {new UnsafeRow[0], new UnsafeRow[0]};
  private int[] starts = new int[1];
  /** Where each row ends as a batch is measured ({@link #sizes}), then where its next part goes. */
  private long[] ends = new long[1];
  private int turn;

  private ColumnarBatch batch;
  private boolean projected;
  private int size;
  private int next;

  ColumnarRows(Iterator<ColumnarBatch> batches, StructType schema) {
    this.batches = batches;
    this.schema = schema;
    int width = schema.fields().length;
    kinds = new Kind[width];
    arrays = new boolean[width];
    boolean all = true;
    for (int c = 0; c < width; c++) {
      DataType type = schema.fields()[c].dataType();
      arrays[c] = type instanceof ArrayType;
      kinds[c] = Kind.of(arrays[c] ? ((ArrayType) type).elementType() : type);
      all &= kinds[c] != null && !(arrays[c] && kinds[c] == Kind.BYTES);
    }
    laid = all;
    bitsetBytes = UnsafeRow.calculateBitSetWidthInBytes(width);
    fixedBytes = bitsetBytes + 8 * width;
  }

  @Override
  public boolean hasNext() {
    while (next >= size) {
      if (!batches.hasNext()) {
        return false;
      }
      take(batches.next());
    }
    return true;
  }

  @Override
  public InternalRow next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    int r = next++;
    if (projected) {
      return projection.apply(batch.getRow(r));
    }
    return slotRows[turn][r];
  }

  private void take(ColumnarBatch scored) {
    batch = scored;
    size = scored.numRows();
    next = 0;
    projected = !laid || !lay(scored);
    if (projected && projection == null) {
      projection = UnsafeProjection.create(schema);
    }
  }

  /** Lays the batch's rows out in this turn's array; false where they would take more than one holds. */
  private boolean lay(ColumnarBatch scored) {
    int rows = scored.numRows();
    int width = kinds.length;
    if (starts.length < rows + 1) {
      starts = new int[Math.max(rows + 1, 2 * starts.length)];
    }
    long[] ends = sizes(scored, rows);
    if (ends == null) {
      return false;
    }
    turn ^= 1;
    byte[] arena = arenas[turn];
    long total = ends[rows];
    if (arena.length < total) {
      arena = arenas[turn] = new byte[(int) Math.max(total, Math.min(MAX_ARENA, 2L * arena.length))];
    }
    for (int r = 0; r <= rows; r++) {
      starts[r] = (int) ends[r];
    }
    // The null bits: cleared, then set column by column.
    for (int r = 0; r < rows; r++) {
      long at = Platform.BYTE_ARRAY_OFFSET + starts[r];
      for (int w = 0; w < bitsetBytes; w += 8) {
        Platform.putLong(arena, at + w, 0L);
      }
    }
    // Where each row's next variable-length part goes, column after column.
    long[] cursor = ends;
    for (int r = 0; r < rows; r++) {
      cursor[r] = starts[r] + fixedBytes;
    }
    for (int c = 0; c < width; c++) {
      ColumnVector vector = scored.column(c);
      if (arrays[c]) {
        layArrays(arena, c, vector, rows, cursor);
      } else if (kinds[c] == Kind.BYTES) {
        layBytes(arena, c, vector, rows, cursor);
      } else {
        layValues(arena, c, vector, rows);
      }
    }
    UnsafeRow[] out = slotRows[turn];
    if (out.length < rows) {
      out = slotRows[turn] = Arrays.copyOf(out, Math.max(rows, 2 * out.length));
      for (int r = 0; r < out.length; r++) {
        out[r] = out[r] != null ? out[r] : new UnsafeRow(width);
      }
    }
    for (int r = 0; r < rows; r++) {
      out[r].pointTo(arena, Platform.BYTE_ARRAY_OFFSET + starts[r], starts[r + 1] - starts[r]);
    }
    return true;
  }

  /**
   * Where each row ends: {@code ends[r + 1]}, from the fixed part and each array's and string's
   * words; null where the batch takes more than {@link #MAX_ARENA} bytes.
   */
  private long[] sizes(ColumnarBatch scored, int rows) {
    if (ends.length < rows + 1) {
      ends = new long[starts.length];
    }
    long[] bytes = ends;
    Arrays.fill(bytes, 0, rows + 1, fixedBytes);
    bytes[0] = 0;
    for (int c = 0; c < kinds.length; c++) {
      if (!arrays[c] && kinds[c] != Kind.BYTES) {
        continue;
      }
      ColumnVector vector = scored.column(c);
      boolean nulls = vector.hasNull();
      WritableColumnVector writable = vector instanceof WritableColumnVector ? (WritableColumnVector) vector : null;
      for (int r = 0; r < rows; r++) {
        if (nulls && vector.isNullAt(r)) {
          continue;
        }
        if (arrays[c]) {
          int n = writable != null ? writable.getArrayLength(r) : vector.getArray(r).numElements();
          bytes[r + 1] += UnsafeArrayData.calculateHeaderPortionInBytes(n)
              + ByteArrayMethods.roundNumberOfBytesToNearestWord((long) n * kinds[c].bytes);
        } else {
          bytes[r + 1] += ByteArrayMethods.roundNumberOfBytesToNearestWord(vector.getUTF8String(r).numBytes());
        }
      }
    }
    for (int r = 0; r < rows; r++) {
      bytes[r + 1] += bytes[r];
    }
    return bytes[rows] > MAX_ARENA ? null : bytes;
  }

  /** A null field: its bit set, its slot zero (as Spark's row writer leaves it). */
  private void setNull(byte[] arena, int r, int c) {
    long row = Platform.BYTE_ARRAY_OFFSET + starts[r];
    long word = row + (c >> 6) * 8L;
    Platform.putLong(arena, word, Platform.getLong(arena, word) | 1L << (c & 63));
    Platform.putLong(arena, row + bitsetBytes + 8L * c, 0L);
  }

  /** A scalar column into its slots: a value in the slot's first bytes, the rest zero. */
  private void layValues(byte[] arena, int c, ColumnVector vector, int rows) {
    Kind kind = kinds[c];
    boolean nulls = vector.hasNull();
    VectorMemory memory = VectorMemory.of(vector, kind.leaf);
    long slot = Platform.BYTE_ARRAY_OFFSET + bitsetBytes + 8L * c;
    for (int r = 0; r < rows; r++) {
      if (nulls && vector.isNullAt(r)) {
        setNull(arena, r, c);
        continue;
      }
      long at = slot + starts[r];
      long value;
      if (memory != null) {
        long from = memory.at(r, kind.bytes);
        switch (kind) {
          case LONG:
          case DOUBLE:
            value = Platform.getLong(memory.base, from);
            break;
          case INT:
          case FLOAT:
            value = Platform.getInt(memory.base, from) & 0xFFFFFFFFL;
            break;
          case SHORT:
            value = Platform.getShort(memory.base, from) & 0xFFFFL;
            break;
          default:
            value = Platform.getByte(memory.base, from) & 0xFFL;
        }
      } else {
        value = bits(kind, vector, r);
      }
      Platform.putLong(arena, at, value);
    }
  }

  /** Value {@code r} of {@code vector} through its getters, as the bytes of its slot. */
  private static long bits(Kind kind, ColumnVector vector, int r) {
    switch (kind) {
      case LONG:
        return vector.getLong(r);
      case DOUBLE:
        return Double.doubleToRawLongBits(vector.getDouble(r));
      case INT:
        return vector.getInt(r) & 0xFFFFFFFFL;
      case FLOAT:
        return Float.floatToRawIntBits(vector.getFloat(r)) & 0xFFFFFFFFL;
      case SHORT:
        return vector.getShort(r) & 0xFFFFL;
      case BYTE:
        return vector.getByte(r) & 0xFFL;
      default:
        return vector.getBoolean(r) ? 1 : 0;
    }
  }

  /** Element {@code i} of {@code array} through its getters, as its bytes (of {@code kind.bytes}). */
  private static long elementBits(Kind kind, ColumnarArray array, int i) {
    switch (kind) {
      case LONG:
        return array.getLong(i);
      case DOUBLE:
        return Double.doubleToRawLongBits(array.getDouble(i));
      case INT:
        return array.getInt(i);
      case FLOAT:
        return Float.floatToRawIntBits(array.getFloat(i));
      case SHORT:
        return array.getShort(i);
      case BYTE:
        return array.getByte(i);
      default:
        return array.getBoolean(i) ? 1 : 0;
    }
  }

  /** Where a row's variable-length part starts, as its field holds it: offset from the row, and size. */
  private void putOffsetAndSize(byte[] arena, int r, int c, long at, long bytes) {
    Platform.putLong(arena, Platform.BYTE_ARRAY_OFFSET + starts[r] + bitsetBytes + 8L * c,
        (at - starts[r]) << 32 | bytes);
  }

  /** An array column: each row's array (count, null bits, elements, padding) after the parts before it. */
  private void layArrays(byte[] arena, int c, ColumnVector vector, int rows, long[] cursor) {
    Kind kind = kinds[c];
    boolean nulls = vector.hasNull();
    WritableColumnVector writable = vector instanceof WritableColumnVector ? (WritableColumnVector) vector : null;
    WritableColumnVector elements = writable != null ? writable.arrayData() : null;
    VectorMemory memory = elements != null && !elements.hasNull() ? VectorMemory.of(elements, kind.leaf) : null;
    for (int r = 0; r < rows; r++) {
      if (nulls && vector.isNullAt(r)) {
        setNull(arena, r, c);
        continue;
      }
      int n = writable != null ? writable.getArrayLength(r) : vector.getArray(r).numElements();
      int header = UnsafeArrayData.calculateHeaderPortionInBytes(n);
      long valueBytes = (long) n * kind.bytes;
      long bytes = header + ByteArrayMethods.roundNumberOfBytesToNearestWord(valueBytes);
      long at = cursor[r];
      long base = Platform.BYTE_ARRAY_OFFSET + at;
      Platform.putLong(arena, base, n);
      for (int w = 8; w < header; w += 8) {
        Platform.putLong(arena, base + w, 0L);
      }
      if (bytes > header) {
        // The last word first: the padding after the values is zero.
        Platform.putLong(arena, base + bytes - 8, 0L);
      }
      long values = base + header;
      if (memory != null) {
        CopyBySize.copy(memory.base, memory.at(writable.getArrayOffset(r), kind.bytes), arena, values, valueBytes);
      } else {
        ColumnarArray array = vector.getArray(r);
        for (int i = 0; i < n; i++) {
          long to = values + (long) i * kind.bytes;
          if (array.isNullAt(i)) {
            Platform.putLong(arena, base + 8 + (i >> 6) * 8L,
                Platform.getLong(arena, base + 8 + (i >> 6) * 8L) | 1L << (i & 63));
            putElement(arena, to, kind, 0L);
          } else {
            putElement(arena, to, kind, elementBits(kind, array, i));
          }
        }
      }
      putOffsetAndSize(arena, r, c, at, bytes);
      cursor[r] = at + bytes;
    }
  }

  private static void putElement(byte[] arena, long at, Kind kind, long bits) {
    switch (kind.bytes) {
      case 8:
        Platform.putLong(arena, at, bits);
        return;
      case 4:
        Platform.putInt(arena, at, (int) bits);
        return;
      case 2:
        Platform.putShort(arena, at, (short) bits);
        return;
      default:
        Platform.putByte(arena, at, (byte) bits);
    }
  }

  /** A string column: each row's bytes, padded to a word, after the parts before it. */
  private void layBytes(byte[] arena, int c, ColumnVector vector, int rows, long[] cursor) {
    boolean nulls = vector.hasNull();
    for (int r = 0; r < rows; r++) {
      if (nulls && vector.isNullAt(r)) {
        setNull(arena, r, c);
        continue;
      }
      UTF8String value = vector.getUTF8String(r);
      int n = value.numBytes();
      long bytes = ByteArrayMethods.roundNumberOfBytesToNearestWord(n);
      long at = cursor[r];
      if (bytes > n) {
        Platform.putLong(arena, Platform.BYTE_ARRAY_OFFSET + at + bytes - 8, 0L);
      }
      value.writeToMemory(arena, Platform.BYTE_ARRAY_OFFSET + at);
      putOffsetAndSize(arena, r, c, at, n);
      cursor[r] = at + bytes;
    }
  }
}
