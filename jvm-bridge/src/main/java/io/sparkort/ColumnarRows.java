package io.sparkort;

import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.SpecializedGetters;
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
 * into UnsafeRows by the scoring node itself, where its parent takes rows. Rows are laid out a
 * block at a time (about 32 KiB of them, so they stay in the CPU's cache while every column is
 * written across them) in a byte array: each column's values straight from its vector's memory
 * ({@link VectorMemory}) or, for a vector that has none (dictionary ids, other vector kinds),
 * through its getters; numbers, dates, timestamps, strings and arrays of numbers. The bytes are the
 * ones Spark's own columnar-to-row step writes (its {@code UnsafeRowWriter}'s layout: null bits,
 * an 8-byte slot a field, then each array or string in field order, in words), at a fraction of
 * its cost: that step reads every value of every row through a generated loop of getter calls
 * (measured on the bench's MLP from Parquet: 186 ns a row there, its 64 and 10-float arrays).
 *
 * <p>A column of a type this does not lay out (decimals, binary, maps, structs, nested arrays, ...)
 * sends every batch through Spark's {@link UnsafeProjection}, as its columnar-to-row step would.
 * The blocks' rows live in two arrays used by turns, so a row stays valid while the next block is
 * laid out (Spark's row iterators promise less: until the next row).
 */
final class ColumnarRows implements Iterator<InternalRow> {
  /** The most bytes a batch's rows take in one array; a batch that would take more goes through the projection. */
  private static final long MAX_ARENA = Integer.MAX_VALUE - 16;
  /** About how many bytes of rows are laid out at a time, every column across them. */
  private static final long BLOCK_BYTES = 32 << 10;

  /** How a column's values are laid out in a row; null for a type that is not. */
  private enum Kind {
    BOOLEAN(1, LeafType.BOOLEAN), BYTE(1, LeafType.BYTE), SHORT(2, LeafType.SHORT), INT(4, LeafType.INT),
    LONG(8, LeafType.LONG), FLOAT(4, LeafType.FLOAT), DOUBLE(8, LeafType.DOUBLE), STRING(0, null);

    final int bytes;
    final LeafType leaf;
    /** The value's bits in a long's low {@code bytes}, the rest of its slot zero. */
    final long mask;

    Kind(int bytes, LeafType leaf) {
      this.bytes = bytes;
      this.leaf = leaf;
      this.mask = bytes >= 8 ? -1L : (1L << (8 * bytes)) - 1;
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
        return STRING;
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
  /** Per column, the batch being laid out's values' memory, or null ({@link VectorMemory}). */
  private final VectorMemory[] memory;
  private UnsafeProjection projection;

  private final byte[][] arenas = {new byte[0], new byte[0]};
  private final UnsafeRow[][] slotRows = {new UnsafeRow[0], new UnsafeRow[0]};
  /** Where the batch's rows end, each row's bytes added up from the first ({@link #sizes}). */
  private long[] ends = new long[1];
  /** The block's row i spans bytes starts[i] to starts[i + 1] of its array. */
  private int[] starts = new int[1];
  /** Where the block's row i's next variable-length part goes, column after column. */
  private long[] cursor = new long[0];
  private int turn;

  private ColumnarBatch batch;
  private boolean projected;
  private int size;
  private int next;
  /** Rows a block; the block laid out last, rows blockFirst to blockLast of the batch. */
  private int block;
  private int blockFirst;
  private int blockLast;

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
      all &= kinds[c] != null && !(arrays[c] && kinds[c] == Kind.STRING);
    }
    laid = all;
    memory = new VectorMemory[width];
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
    if (r >= blockLast) {
      layBlock(r);
    }
    return slotRows[turn][r - blockFirst];
  }

  private void take(ColumnarBatch scored) {
    batch = scored;
    size = scored.numRows();
    next = 0;
    blockFirst = 0;
    blockLast = 0;
    projected = !laid || !measure(scored);
    if (projected && projection == null) {
      projection = UnsafeProjection.create(schema);
    }
  }

  /**
   * Each row's size and each column's memory, for the blocks to come; false where a row would take
   * more than one array holds (such a batch goes through the projection).
   */
  private boolean measure(ColumnarBatch scored) {
    int rows = scored.numRows();
    if (!sizes(scored, rows)) {
      return false;
    }
    for (int c = 0; c < kinds.length; c++) {
      ColumnVector vector = scored.column(c);
      WritableColumnVector elements = arrays[c] && vector instanceof WritableColumnVector
          ? ((WritableColumnVector) vector).arrayData() : null;
      memory[c] = arrays[c] ? (elements != null && !elements.hasNull() ? VectorMemory.of(elements, kinds[c].leaf) : null)
          : kinds[c] == Kind.STRING ? null : VectorMemory.of(vector, kinds[c].leaf);
    }
    long total = Math.max(ends[rows], 1);
    block = (int) Math.max(8, Math.min(rows, BLOCK_BYTES * (long) rows / total));
    if (starts.length < block + 1) {
      starts = new int[block + 1];
      cursor = new long[block];
    }
    return true;
  }

  /** Lays out the block of rows from {@code first}, in the other turn's array. */
  private void layBlock(int first) {
    int last = Math.min(size, first + block);
    // A block of rows of many bytes each is cut to what one array holds (at least its first row).
    while (last > first + 1 && ends[last] - ends[first] > MAX_ARENA) {
      last = first + (last - first) / 2;
    }
    int n = last - first;
    turn ^= 1;
    byte[] arena = arenas[turn];
    long bytes = ends[last] - ends[first];
    if (arena.length < bytes) {
      arena = arenas[turn] = new byte[(int) Math.max(bytes, Math.min(MAX_ARENA, 2L * arena.length))];
    }
    for (int i = 0; i <= n; i++) {
      starts[i] = (int) (ends[first + i] - ends[first]);
    }
    // The null bits: cleared, then set column by column.
    for (int i = 0; i < n; i++) {
      long at = Platform.BYTE_ARRAY_OFFSET + starts[i];
      for (int w = 0; w < bitsetBytes; w += 8) {
        Platform.putLong(arena, at + w, 0L);
      }
      cursor[i] = starts[i] + fixedBytes;
    }
    for (int c = 0; c < kinds.length; c++) {
      ColumnVector vector = batch.column(c);
      if (arrays[c]) {
        layArrays(arena, c, vector, memory[c], first, n);
      } else if (kinds[c] == Kind.STRING) {
        layBytes(arena, c, vector, first, n);
      } else {
        layValues(arena, c, vector, memory[c], first, n);
      }
    }
    UnsafeRow[] out = slotRows[turn];
    if (out.length < n) {
      out = slotRows[turn] = Arrays.copyOf(out, Math.max(n, block));
      for (int i = 0; i < out.length; i++) {
        out[i] = out[i] != null ? out[i] : new UnsafeRow(kinds.length);
      }
    }
    for (int i = 0; i < n; i++) {
      out[i].pointTo(arena, Platform.BYTE_ARRAY_OFFSET + starts[i], starts[i + 1] - starts[i]);
    }
    blockFirst = first;
    blockLast = last;
  }

  /**
   * Where each row ends, {@code ends[r + 1]}, from the fixed part and each array's and string's
   * words; false where a row takes more than {@link #MAX_ARENA} bytes.
   */
  private boolean sizes(ColumnarBatch scored, int rows) {
    if (ends.length < rows + 1) {
      ends = new long[Math.max(rows + 1, 2 * ends.length)];
    }
    long[] bytes = ends;
    Arrays.fill(bytes, 0, rows + 1, fixedBytes);
    bytes[0] = 0;
    for (int c = 0; c < kinds.length; c++) {
      if (!arrays[c] && kinds[c] != Kind.STRING) {
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
      if (bytes[r + 1] > MAX_ARENA) {
        return false;
      }
      bytes[r + 1] += bytes[r];
    }
    return true;
  }

  /** The block's row {@code i}'s field {@code c} null: its bit set, its slot zero (as Spark's row writer leaves it). */
  private void setNull(byte[] arena, int i, int c) {
    long row = Platform.BYTE_ARRAY_OFFSET + starts[i];
    long word = row + (c >> 6) * 8L;
    Platform.putLong(arena, word, Platform.getLong(arena, word) | 1L << (c & 63));
    Platform.putLong(arena, row + bitsetBytes + 8L * c, 0L);
  }

  /**
   * The block's {@code n} rows, from row {@code first} of the batch, of a scalar column into their
   * slots: a value in the slot's first bytes, the rest zero.
   */
  private void layValues(byte[] arena, int c, ColumnVector vector, VectorMemory memory, int first, int n) {
    Kind kind = kinds[c];
    boolean nulls = vector.hasNull();
    long slot = Platform.BYTE_ARRAY_OFFSET + bitsetBytes + 8L * c;
    if (!nulls && memory != null && kind.bytes == 8) {
      // The common case (a double or bigint column with no nulls), in a loop of its own: a load and a store a row.
      Object base = memory.base;
      long from = memory.at(first, 8);
      for (int i = 0; i < n; i++) {
        Platform.putLong(arena, slot + starts[i], Platform.getLong(base, from + 8L * i));
      }
      return;
    }
    for (int i = 0; i < n; i++) {
      int r = first + i;
      if (nulls && vector.isNullAt(r)) {
        setNull(arena, i, c);
        continue;
      }
      long at = slot + starts[i];
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
        value = bits(kind, batch.getRow(r), c) & kind.mask;
      }
      Platform.putLong(arena, at, value);
    }
  }

  /**
   * Value {@code i} of {@code source} through its getters (a batch's row, by column, or an array,
   * by element), as its bytes in the low {@code kind.bytes} of a long.
   */
  private static long bits(Kind kind, SpecializedGetters source, int i) {
    switch (kind) {
      case LONG:
        return source.getLong(i);
      case DOUBLE:
        return Double.doubleToRawLongBits(source.getDouble(i));
      case INT:
        return source.getInt(i);
      case FLOAT:
        return Float.floatToRawIntBits(source.getFloat(i));
      case SHORT:
        return source.getShort(i);
      case BYTE:
        return source.getByte(i);
      default:
        return source.getBoolean(i) ? 1 : 0;
    }
  }

  /** Where the block's row {@code i}'s variable-length part starts, as its field holds it: offset from the row, and size. */
  private void putOffsetAndSize(byte[] arena, int i, int c, long at, long bytes) {
    Platform.putLong(arena, Platform.BYTE_ARRAY_OFFSET + starts[i] + bitsetBytes + 8L * c,
        (at - starts[i]) << 32 | bytes);
  }

  /**
   * The block's {@code n} rows, from row {@code first}, of an array column: each row's array (count, null bits,
   * elements, padding) after the parts before it; the elements copied from {@code memory} (the
   * elements' memory, where they are in one piece and none is null) or read one by one.
   */
  private void layArrays(byte[] arena, int c, ColumnVector vector, VectorMemory memory, int first, int n) {
    Kind kind = kinds[c];
    boolean nulls = vector.hasNull();
    WritableColumnVector writable = vector instanceof WritableColumnVector ? (WritableColumnVector) vector : null;
    for (int row = 0; row < n; row++) {
      int r = first + row;
      if (nulls && vector.isNullAt(r)) {
        setNull(arena, row, c);
        continue;
      }
      int elements = writable != null ? writable.getArrayLength(r) : vector.getArray(r).numElements();
      int header = UnsafeArrayData.calculateHeaderPortionInBytes(elements);
      long valueBytes = (long) elements * kind.bytes;
      long bytes = header + ByteArrayMethods.roundNumberOfBytesToNearestWord(valueBytes);
      long at = cursor[row];
      long base = Platform.BYTE_ARRAY_OFFSET + at;
      Platform.putLong(arena, base, elements);
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
        for (int i = 0; i < elements; i++) {
          long to = values + (long) i * kind.bytes;
          if (array.isNullAt(i)) {
            Platform.putLong(arena, base + 8 + (i >> 6) * 8L,
                Platform.getLong(arena, base + 8 + (i >> 6) * 8L) | 1L << (i & 63));
            putElement(arena, to, kind, 0L);
          } else {
            putElement(arena, to, kind, bits(kind, array, i));
          }
        }
      }
      putOffsetAndSize(arena, row, c, at, bytes);
      cursor[row] = at + bytes;
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

  /** The block's {@code n} rows, from row {@code first}, of a string column: each row's bytes, padded to a word, after the parts before it. */
  private void layBytes(byte[] arena, int c, ColumnVector vector, int first, int n) {
    boolean nulls = vector.hasNull();
    for (int row = 0; row < n; row++) {
      int r = first + row;
      if (nulls && vector.isNullAt(r)) {
        setNull(arena, row, c);
        continue;
      }
      UTF8String value = vector.getUTF8String(r);
      int length = value.numBytes();
      long bytes = ByteArrayMethods.roundNumberOfBytesToNearestWord(length);
      long at = cursor[row];
      if (bytes > length) {
        Platform.putLong(arena, Platform.BYTE_ARRAY_OFFSET + at + bytes - 8, 0L);
      }
      value.writeToMemory(arena, Platform.BYTE_ARRAY_OFFSET + at);
      putOffsetAndSize(arena, row, c, at, length);
      cursor[row] = at + bytes;
    }
  }
}
