package io.sparkort;

import java.util.Arrays;
import java.util.List;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.SpecializedGetters;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.execution.vectorized.WritableColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarArray;
import org.apache.spark.unsafe.Platform;

/**
 * Writes a batch of rows into one {@link InputBuffer} per model input: the memory the native
 * library wraps as tensors without copying. Nested arrays, vectors, binary and several scalar
 * columns are flattened row-major; arrays already in the model's element layout are copied in
 * bulk from Spark's UnsafeArrayData (from {@link ArenaRows}' rows by the native library, see
 * {@link #startNativeCopy}), other values convert one by one (integers range-checked).
 * The batch's first row resolves the model's symbolic dimensions; later rows must agree.
 * Buffers come from a per-task child of one per-JVM Arrow allocator, so closing the writer at
 * task end returns them, and a leak fails loudly there.
 */
final class BatchWriter implements AutoCloseable {
  private static final RootAllocator ROOT = new RootAllocator(Long.MAX_VALUE);
  /** The bytes of tensor rows that scalar columns are interleaved into at a time (well within a core's L1 and L2). */
  private static final int BLOCK_BYTES = 32 << 10;

  /** Bytes of Arrow memory held by every writer in this JVM: 0 whenever no task is scoring. */
  static long allocatedBytes() {
    return ROOT.getAllocatedMemory();
  }

  private final ScoringPlan.Feed[] feeds;
  private final boolean batched;
  private final boolean keepNulls;
  private final String partition;
  private final BufferAllocator allocator;
  private final InputBuffer[] buffers;
  /** Per feed: the row lengths per array level this batch's first row brought, and the dims they resolve to. */
  private final long[][] batchLevels;
  private final long[][] batchDims;
  /** A run's scalar columns' memory (found once a run, not once a block; null where read by value). */
  private VectorMemory[] memory = new VectorMemory[0];
  private final NativeWire.RunRecord runRecord;
  /** The feeds record ({@link NativeWire#feeds}) of {@link #startNativeCopy}; null unless every feed can be copied so. */
  private final long[] nativeFeeds;
  private final long budget;
  /** Per feed: scalar columns all double, into a float32 input ({@link #writeScalarsFromRow}). */
  private final boolean[] doubleFloats;
  /**
   * Per feed: the bytes of each scalar column's value where every one already is the input's
   * layout ({@link #writeScalarsFromRow}); null otherwise.
   */
  private final int[][] sameLayout;

  /** @param budget the batch's bytes ({@link BatchBudget}): no input's tensor grows past it */
  BatchWriter(ScoringPlan plan, int batchRows, long budget, String taskName, String partition) {
    List<ScoringPlan.Feed> feedList = plan.feeds;
    int n = feedList.size();
    this.feeds = feedList.toArray(new ScoringPlan.Feed[0]);
    this.batched = plan.batched;
    this.keepNulls = plan.keepNulls;
    this.partition = partition;
    this.budget = budget;
    this.allocator = ROOT.newChildAllocator("sparkort " + taskName, 0, Long.MAX_VALUE);
    this.buffers = new InputBuffer[n];
    this.batchLevels = new long[n][];
    this.batchDims = new long[n][];
    String[] inputNames = new String[n];
    String[] columns = new String[n];
    int[] elementTypes = new int[n];
    int[] ranks = new int[n];
    for (int f = 0; f < n; f++) {
      ScoringPlan.Feed feed = feeds[f];
      buffers[f] = new InputBuffer(allocator, feed.elementType, batchRows, budget);
      inputNames[f] = feed.input;
      columns[f] = String.join(", ", feed.columns);
      elementTypes[f] = feed.elementType.onnxCode;
      ranks[f] = (batched ? 1 : 0) + feed.rowShape.length;
    }
    doubleFloats = new boolean[n];
    sameLayout = new int[n][];
    for (int f = 0; f < n; f++) {
      ScoringPlan.Feed feed = feeds[f];
      doubleFloats[f] = feed.elementType == ElementType.FLOAT32
          && Arrays.stream(feed.leaves).allMatch(leaf -> leaf == LeafType.DOUBLE);
      if (feed.source == ScoringPlan.Source.SCALARS
          && Arrays.stream(feed.leaves).allMatch(leaf -> leaf.isLayoutOf(feed.elementType))) {
        sameLayout[f] = Arrays.stream(feed.leaves).mapToInt(leaf -> leaf.bytes).toArray();
      }
    }
    runRecord = new NativeWire.RunRecord(inputNames, columns, elementTypes, ranks, plan.fetchNames());
    nativeFeeds = gatherable(feeds) ? NativeWire.feeds(n) : null;
    for (int f = 0; nativeFeeds != null && f < n; f++) {
      NativeWire.setFeedSource(nativeFeeds, f, feeds[f].ordinals[0], feeds[f].fixedRowElements, feeds[f].leaves[0].bytes);
    }
  }

  /**
   * Whether every feed is one array column whose rows hold a number of values the model fixes,
   * already in the tensor's element layout: then the native library copies laid rows' features.
   */
  private static boolean gatherable(ScoringPlan.Feed[] feeds) {
    for (ScoringPlan.Feed feed : feeds) {
      if (feed.source != ScoringPlan.Source.ARRAY || feed.depth != 1 || !feed.bulkCopy || feed.fixedRowElements < 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Starts a batch of {@code rows} rows whose features the native library copies from laid rows
   * ({@link NativeApi#layRows}): every input buffer starts at tensor slot 0, with room for the
   * batch. Returns the feeds record for the call ({@link NativeWire#feeds}), or null, having started
   * nothing, when a feed must go through {@link #write}.
   */
  long[] startNativeCopy(int rows) {
    if (nativeFeeds == null) {
      return null;
    }
    for (int f = 0; f < feeds.length; f++) {
      buffers[f].startRow(0, feeds[f].fixedRowElements);
      buffers[f].reserveRows(rows);
      batchDims[f] = feeds[f].rowShape;
    }
    return placeNativeFeeds();
  }

  /**
   * The feeds record of the batch {@link #startNativeCopy} started, with the buffers where they are
   * now (a row {@link #write} took may have moved them), for the copy to go on ({@link
   * NativeApi#gatherFeeds}).
   */
  long[] resumeNativeCopy() {
    return nativeFeeds == null ? null : placeNativeFeeds();
  }

  private long[] placeNativeFeeds() {
    for (int f = 0; f < feeds.length; f++) {
      NativeWire.setFeedBuffer(nativeFeeds, f, buffers[f].address(0), buffers[f].capacity());
    }
    return nativeFeeds;
  }

  /**
   * Writes {@code row} at tensor slot {@code slot}. Returns false, having kept nothing, when the row
   * has a null input and nulls are kept (the row then gets null outputs); throws when they are not.
   *
   * Throws {@link InputBuffer.Full}, having kept nothing, when the row's tensors do not fit the
   * budget with the batch's rows before it: the batch ends before this row.
   *
   * @param rowIndex the row's position in its partition, for error messages
   */
  boolean write(int slot, InternalRow row, long rowIndex) {
    for (int f = 0; f < feeds.length; f++) {
      boolean written;
      try {
        written = writeFeed(f, slot, row, rowIndex);
      } catch (InputBuffer.Full full) {
        rollback(f, slot);
        if (slot == 0) {
          throw new InvalidInputException(at(feeds[f], rowIndex) + " takes a tensor of " + full.bytes
              + " bytes, more than the batch budget of " + budget + " bytes; " + BatchBudget.advice());
        }
        throw full;
      }
      if (!written) {
        rollback(f, slot);
        return false;
      }
    }
    return true;
  }

  private void rollback(int f, int slot) {
    for (int g = 0; g <= f; g++) {
      buffers[g].rollback(slot);
    }
  }

  private boolean writeFeed(int f, int slot, InternalRow row, long rowIndex) {
    ScoringPlan.Feed feed = feeds[f];
    boolean direct = doubleFloats[f] || sameLayout[f] != null;
    if (feed.source == ScoringPlan.Source.SCALARS && direct && row instanceof UnsafeRow) {
      return writeScalarsFromRow(f, slot, (UnsafeRow) row, rowIndex);
    }
    for (int ordinal : feed.ordinals) {
      if (row.isNullAt(ordinal)) {
        return nullInput(feed, rowIndex, "is null");
      }
    }
    int ordinal = feed.ordinals[0];
    switch (feed.source) {
      case SCALARS:
        long first = buffers[f].startRow(slot, checkFlat(f, slot, feed.columns.length, rowIndex));
        for (int c = 0; c < feed.columns.length; c++) {
          putLeaf(feed, buffers[f], first + c, row, feed.ordinals[c], feed.leaves[c], rowIndex);
        }
        return true;
      case ARRAY:
        if (feed.depth == 1 && feed.bulkCopy && row instanceof UnsafeRow) {
          // Read in place, without an UnsafeArrayData object per row.
          UnsafeRow unsafe = (UnsafeRow) row;
          long at = unsafe.getBaseOffset() + (unsafe.getLong(ordinal) >>> 32);
          int n = (int) Platform.getLong(unsafe.getBaseObject(), at);
          long start = buffers[f].startRow(slot, checkFlat(f, slot, n, rowIndex));
          return copyElements(feed, buffers[f], start, unsafe.getBaseObject(), at, n)
              || nullElement(feed, row.getArray(ordinal), rowIndex);
        }
        ArrayData array = row.getArray(ordinal);
        if (feed.depth == 1) {
          long start = buffers[f].startRow(slot, checkFlat(f, slot, array.numElements(), rowIndex));
          return writeLeafArray(feed, buffers[f], start, array, rowIndex);
        }
        return writeNested(f, slot, array, rowIndex);
      case VECTOR:
        return writeVector(f, slot, row.getStruct(ordinal, 4), rowIndex);
      default:
        byte[] bytes = row.getBinary(ordinal);
        long at = buffers[f].startRow(slot, checkFlat(f, slot, bytes.length, rowIndex));
        Platform.copyMemory(bytes, Platform.BYTE_ARRAY_OFFSET, null, buffers[f].address(at), bytes.length);
        return true;
    }
  }

  /**
   * Scalar columns read straight out of the UnsafeRow (its null bits, then 8 bytes a field), with
   * no getter or conversion call per value: doubles into a float input narrowed as {@link #putLeaf}
   * does (the common case of a wide table), or values already in the input's layout (a float column
   * into float32, int into int32, ...) copied by their bytes, a value narrower than 8 bytes being the
   * field's first bytes as UnsafeRow's getters read it (the sklearn pipeline's ten [N, 1] inputs
   * took 100 ns a row through the getters).
   */
  private boolean writeScalarsFromRow(int f, int slot, UnsafeRow row, long rowIndex) {
    ScoringPlan.Feed feed = feeds[f];
    int[] ordinals = feed.ordinals;
    Object base = row.getBaseObject();
    long offset = row.getBaseOffset();
    for (int ordinal : ordinals) {
      if ((Platform.getLong(base, offset + ((ordinal >> 6) << 3)) & (1L << (ordinal & 63))) != 0) {
        return nullInput(feed, rowIndex, "is null");
      }
    }
    long fields = offset + UnsafeRow.calculateBitSetWidthInBytes(row.numFields());
    long at = buffers[f].address(buffers[f].startRow(slot, checkFlat(f, slot, ordinals.length, rowIndex)));
    if (doubleFloats[f]) {
      for (int c = 0; c < ordinals.length; c++) {
        Platform.putFloat(null, at + 4L * c, (float) Platform.getDouble(base, fields + 8L * ordinals[c]));
      }
      return true;
    }
    int[] bytes = sameLayout[f];
    for (int c = 0; c < ordinals.length; c++) {
      long field = fields + 8L * ordinals[c];
      switch (bytes[c]) {
        case 8:
          Platform.putLong(null, at, Platform.getLong(base, field));
          break;
        case 4:
          Platform.putInt(null, at, Platform.getInt(base, field));
          break;
        case 2:
          Platform.putShort(null, at, Platform.getShort(base, field));
          break;
        default:
          Platform.putByte(null, at, Platform.getByte(base, field));
      }
      at += bytes[c];
    }
    return true;
  }

  /** Checks a row arriving as {@code n} values in a row against the model's shape; returns {@code n}. */
  private long checkFlat(int f, int slot, long n, long rowIndex) {
    ScoringPlan.Feed feed = feeds[f];
    if (feed.fixedRowElements >= 0) {
      if (n != feed.fixedRowElements) {
        throw wrongLength(feed, rowIndex, n);
      }
      if (slot == 0) {
        batchDims[f] = feed.rowShape;
      }
      return n;
    }
    return checkLevels(f, slot, new long[] {n}, rowIndex);
  }

  /** Checks a row's lengths per array level against the model's shape and the batch's first row. */
  private long checkLevels(int f, int slot, long[] levels, long rowIndex) {
    ScoringPlan.Feed feed = feeds[f];
    if (slot > 0) {
      if (!Arrays.equals(levels, batchLevels[f])) {
        throw new InvalidInputException(at(feed, rowIndex) + " has " + describeLevels(levels) + ", expected "
            + describeLevels(batchLevels[f]) + " (as this batch's first row)");
      }
      return product(levels);
    }
    long[] dims = feed.dims(levels);
    if (dims == null) {
      throw new InvalidInputException(at(feed, rowIndex) + " has " + describeLevels(levels) + ", which does not fit");
    }
    batchLevels[f] = levels;
    batchDims[f] = dims;
    return product(levels);
  }

  private boolean writeNested(int f, int slot, ArrayData array, long rowIndex) {
    ScoringPlan.Feed feed = feeds[f];
    long[] levels = new long[feed.depth];
    ArrayData level = array;
    for (int l = 0; l < feed.depth; l++) {
      levels[l] = level.numElements();
      if (l + 1 < feed.depth && levels[l] > 0) {
        if (level.isNullAt(0)) {
          return nullInput(feed, rowIndex, "has a null array at level " + (l + 1));
        }
        level = level.getArray(0);
      }
    }
    long start = buffers[f].startRow(slot, checkLevels(f, slot, levels, rowIndex));
    return writeLevel(feed, buffers[f], array, 0, levels, start, rowIndex);
  }

  private boolean writeLevel(ScoringPlan.Feed feed, InputBuffer buffer, ArrayData array, int level, long[] levels,
      long start, long rowIndex) {
    if (array.numElements() != levels[level]) {
      throw new InvalidInputException(at(feed, rowIndex) + " is not rectangular: an array at level " + (level + 1)
          + " has " + array.numElements() + " elements where the first had " + levels[level]);
    }
    if (level == levels.length - 1) {
      return writeLeafArray(feed, buffer, start, array, rowIndex);
    }
    long stride = 1;
    for (int l = level + 1; l < levels.length; l++) {
      stride *= levels[l];
    }
    for (int i = 0; i < array.numElements(); i++) {
      if (array.isNullAt(i)) {
        return nullInput(feed, rowIndex, "has a null array at level " + (level + 2));
      }
      if (!writeLevel(feed, buffer, array.getArray(i), level + 1, levels, start + i * stride, rowIndex)) {
        return false;
      }
    }
    return true;
  }

  private boolean writeLeafArray(ScoringPlan.Feed feed, InputBuffer buffer, long start, ArrayData array, long rowIndex) {
    int n = array.numElements();
    if (feed.bulkCopy && array instanceof UnsafeArrayData) {
      UnsafeArrayData unsafe = (UnsafeArrayData) array;
      return copyElements(feed, buffer, start, unsafe.getBaseObject(), unsafe.getBaseOffset(), n)
          || nullElement(feed, array, rowIndex);
    }
    for (int i = 0; i < n; i++) {
      if (array.isNullAt(i)) {
        return nullElement(feed, array, rowIndex);
      }
      putLeaf(feed, buffer, start + i, array, i, feed.leaves[0], rowIndex);
    }
    return true;
  }

  /** Copies the {@code n} elements of the UnsafeArrayData at (base, offset) in one go; false if one is null. */
  private static boolean copyElements(ScoringPlan.Feed feed, InputBuffer buffer, long start, Object base, long offset,
      int n) {
    // The header is the element count, then the null bits: any set bit is a null element.
    long header = UnsafeArrayData.calculateHeaderPortionInBytes(n);
    for (long word = 8; word < header; word += 8) {
      if (Platform.getLong(base, offset + word) != 0) {
        return false;
      }
    }
    CopyBySize.copy(base, offset + header, null, buffer.address(start), (long) n * feed.leaves[0].bytes);
    return true;
  }

  /** A Spark ML Vector: (type: 0 sparse or 1 dense, size, indices, values). */
  private boolean writeVector(int f, int slot, InternalRow vector, long rowIndex) {
    ScoringPlan.Feed feed = feeds[f];
    if (vector.isNullAt(0) || vector.getByte(0) == 1 && vector.isNullAt(3)) {
      throw new InvalidInputException(at(feed, rowIndex) + " is a vector without its "
          + (vector.isNullAt(0) ? "type" : "values"));
    }
    ArrayData values = vector.isNullAt(3) ? null : vector.getArray(3);
    if (vector.getByte(0) == 1) {
      long start = buffers[f].startRow(slot, checkFlat(f, slot, values.numElements(), rowIndex));
      return writeLeafArray(feed, buffers[f], start, values, rowIndex);
    }
    int size = vector.getInt(1);
    if (vector.isNullAt(2) || vector.isNullAt(3)) {
      throw new InvalidInputException(at(feed, rowIndex) + " is a sparse vector without its "
          + (vector.isNullAt(2) ? "indices" : "values"));
    }
    ArrayData indices = vector.getArray(2);
    if (indices.numElements() != values.numElements()) {
      throw new InvalidInputException(at(feed, rowIndex) + " is a sparse vector with " + indices.numElements()
          + " indices and " + values.numElements() + " values; they must pair up");
    }
    long start = buffers[f].startRow(slot, checkFlat(f, slot, size, rowIndex));
    Platform.setMemory(buffers[f].address(start), (byte) 0, (long) size * feed.elementType.inputBytes);
    for (int i = 0; i < indices.numElements(); i++) {
      int index = indices.getInt(i);
      if (index < 0 || index >= size) {
        throw new InvalidInputException(at(feed, rowIndex) + " is a sparse vector of size " + size
            + " with index " + index);
      }
      buffers[f].putDouble(start + index, values.getDouble(i));
    }
    return true;
  }

  private void putLeaf(ScoringPlan.Feed feed, InputBuffer buffer, long element, SpecializedGetters source, int i,
      LeafType leaf, long rowIndex) {
    long value;
    switch (leaf) {
      case FLOAT:
        buffer.putDouble(element, source.getFloat(i));
        return;
      case DOUBLE:
        buffer.putDouble(element, source.getDouble(i));
        return;
      case BOOLEAN:
        buffer.putBool(element, source.getBoolean(i));
        return;
      case STRING:
        buffer.putString(element, source.getUTF8String(i));
        return;
      case BYTE:
        value = source.getByte(i);
        break;
      case SHORT:
        value = source.getShort(i);
        break;
      case INT:
        value = source.getInt(i);
        break;
      default:
        value = source.getLong(i);
    }
    putInteger(feed, buffer, element, value, rowIndex);
  }

  /** Where a bad value is, for error messages: the column, the model input and the row. */
  /** A row's array of another length than the feed's fixed one: the same words on every path. */
  private InvalidInputException wrongLength(ScoringPlan.Feed feed, long rowIndex, long elements) {
    return new InvalidInputException(at(feed, rowIndex) + " has " + elements + " elements, expected "
        + feed.fixedRowElements);
  }

  private String at(ScoringPlan.Feed feed, long rowIndex) {
    return feed.columnsAndInput() + ": row " + rowIndex + " of " + partition;
  }

  private boolean nullInput(ScoringPlan.Feed feed, long rowIndex, String what) {
    if (keepNulls) {
      return false;
    }
    throw new InvalidInputException(at(feed, rowIndex) + " " + what
        + "; a null cannot be scored (handleNulls='keep' gives such rows null outputs)");
  }

  private boolean nullElement(ScoringPlan.Feed feed, ArrayData array, long rowIndex) {
    int index = 0;
    while (index < array.numElements() && !array.isNullAt(index)) {
      index++;
    }
    return nullInput(feed, rowIndex, "has a null at element " + index);
  }

  /**
   * Writes the features of rows {@code from} to {@code from + rows} of a columnar batch ({@code
   * columns}: the vectors of the plan's input, by ordinal) straight from the column vectors, a
   * column at a time: no input rows are built. Only for plans {@link ColumnarScorer#accepts} (fixed
   * row shapes, numeric or boolean values). Sets {@code slots[r]} to row {@code from + r}'s tensor
   * slot, or -1 for a row with a null input kept with null predictions; throws for a null that is
   * not kept, a value out of the input's range or an array of the wrong length, as {@link #write}
   * does for a row.
   *
   * @param firstRowIndex row {@code from}'s position in its partition, for error messages
   * @return the rows written into the tensors (slots 0 to that, in row order)
   */
  int writeColumns(ColumnVector[] columns, int from, int rows, int[] slots, long firstRowIndex) {
    int scored = 0;
    if (anyNulls(columns)) {
      for (int r = 0; r < rows; r++) {
        slots[r] = nullAt(columns, from + r, firstRowIndex + r) ? -1 : scored++;
      }
    } else {
      scored = rows;
    }
    boolean compact = scored < rows;
    for (int f = 0; f < feeds.length && scored > 0; f++) {
      ScoringPlan.Feed feed = feeds[f];
      InputBuffer buffer = buffers[f];
      buffer.startRow(0, feed.fixedRowElements);
      try {
        buffer.reserveRows(scored);
      } catch (InputBuffer.Full full) {
        throw new InvalidInputException(at(feed, firstRowIndex) + ": a batch of " + scored + " rows takes a tensor of "
            + full.bytes + " bytes, more than the batch budget of " + budget + " bytes; " + BatchBudget.advice());
      }
      batchDims[f] = feed.rowShape;
      if (feed.source == ScoringPlan.Source.SCALARS) {
        // Several columns interleave into [N, k]: a block of tensor rows at a time, every column
        // written across it while it is in the CPU's cache (a column at a time over the whole run
        // touches every row's cache line k times).
        int k = feed.columns.length;
        if (memory.length < k) {
          memory = new VectorMemory[k];
        }
        for (int c = 0; c < k; c++) {
          memory[c] = compact ? null : VectorMemory.of(columns[feed.ordinals[c]], feed.leaves[c]);
        }
        int block = Math.max(8, BLOCK_BYTES / (k * feed.elementType.inputBytes));
        for (int first = 0; first < rows; first += block) {
          int count = Math.min(block, rows - first);
          for (int c = 0; c < k; c++) {
            writeColumn(feed, buffer, columns[feed.ordinals[c]], memory[c], c, k, from, first, count,
                compact ? slots : null, firstRowIndex);
          }
        }
      } else {
        writeArrays(feed, buffer, columns[feed.ordinals[0]], from, rows, compact ? slots : null, firstRowIndex);
      }
    }
    return scored;
  }

  /** Whether any fed vector of the batch holds a null (a value, or an array's element): asked once a run, not a row. */
  private boolean anyNulls(ColumnVector[] columns) {
    for (ScoringPlan.Feed feed : feeds) {
      for (int ordinal : feed.ordinals) {
        ColumnVector vector = columns[ordinal];
        if (vector.hasNull() || feed.source == ScoringPlan.Source.ARRAY && vector.getChild(0).hasNull()) {
          return true;
        }
      }
    }
    return false;
  }

  /** Whether row {@code row} has a null input (throwing, unless nulls are kept): a null column or array element. */
  private boolean nullAt(ColumnVector[] columns, int row, long rowIndex) {
    for (ScoringPlan.Feed feed : feeds) {
      for (int ordinal : feed.ordinals) {
        ColumnVector vector = columns[ordinal];
        if (vector.hasNull() && vector.isNullAt(row)) {
          return !nullInput(feed, rowIndex, "is null");
        }
        if (feed.source == ScoringPlan.Source.ARRAY && vector.getChild(0).hasNull()) {
          ColumnarArray array = vector.getArray(row);
          for (int i = 0; i < array.numElements(); i++) {
            if (array.isNullAt(i)) {
              return !nullInput(feed, rowIndex, "has a null at element " + i);
            }
          }
        }
      }
    }
    return false;
  }

  /**
   * Rows {@code first} to {@code first + rows} of column {@code c} of a feed of {@code k} scalar
   * columns (its memory {@code values}, or null): row r's value is element {@code c} of its tensor
   * row, slot r (or {@code slots[r]}, skipping -1). The common conversions have a loop of their own.
   */
  private void writeColumn(ScoringPlan.Feed feed, InputBuffer buffer, ColumnVector vector, VectorMemory values,
      int c, int k, int from, int first, int rows, int[] slots, long firstRowIndex) {
    ElementType type = feed.elementType;
    LeafType leaf = feed.leaves[c];
    boolean floats = type.isFloating() && type.inputBytes == 4;
    long base = buffer.address((long) first * k + c);
    int at = from + first;
    if (values != null && k == 1 && leaf.isLayoutOf(type)) {
      copyValues(values, at, leaf.bytes, buffer, first, rows);
    } else if (values != null && floats && leaf == LeafType.DOUBLE) {
      Object array = values.base;
      long value = values.at(at, 8);
      for (int r = 0; r < rows; r++) {
        Platform.putFloat(null, base + (long) r * k * 4, (float) Platform.getDouble(array, value + r * 8L));
      }
    } else if (slots == null && floats && leaf == LeafType.DOUBLE) {
      for (int r = 0; r < rows; r++) {
        Platform.putFloat(null, base + (long) r * k * 4, (float) vector.getDouble(at + r));
      }
    } else if (slots == null && floats && leaf == LeafType.FLOAT) {
      for (int r = 0; r < rows; r++) {
        Platform.putFloat(null, base + (long) r * k * 4, vector.getFloat(at + r));
      }
    } else {
      for (int r = 0; r < rows; r++) {
        int slot = slots == null ? first + r : slots[first + r];
        if (slot >= 0) {
          putValue(feed, buffer, (long) slot * k + c, vector, at + r, leaf, firstRowIndex + first + r);
        }
      }
    }
  }

  /** An array column whose rows hold the feed's fixed number of elements: row r's elements are its tensor row. */
  private void writeArrays(ScoringPlan.Feed feed, InputBuffer buffer, ColumnVector vector, int from, int rows,
      int[] slots, long firstRowIndex) {
    long n = feed.fixedRowElements;
    LeafType leaf = feed.leaves[0];
    if (feed.bulkCopy && vector instanceof WritableColumnVector) {
      WritableColumnVector arrays = (WritableColumnVector) vector;
      VectorMemory values = VectorMemory.of(arrays.arrayData(), leaf);
      if (values != null) {
        copyArrays(feed, buffer, arrays, values, from, rows, slots, firstRowIndex);
        return;
      }
    }
    for (int r = 0; r < rows; r++) {
      int slot = slots == null ? r : slots[r];
      if (slot < 0) {
        continue;
      }
      ColumnarArray array = vector.getArray(from + r);
      if (array.numElements() != n) {
        throw wrongLength(feed, firstRowIndex + r, array.numElements());
      }
      for (int i = 0; i < n; i++) {
        putLeaf(feed, buffer, slot * n + i, array, i, leaf, firstRowIndex + r);
      }
    }
  }

  /**
   * {@link #writeArrays} for arrays whose elements already are the input's layout, in memory: the
   * elements of consecutive rows that lie one after another (as a reader lays them) in one copy.
   */
  private void copyArrays(ScoringPlan.Feed feed, InputBuffer buffer, WritableColumnVector arrays, VectorMemory values,
      int from, int rows, int[] slots, long firstRowIndex) {
    long n = feed.fixedRowElements;
    int bytes = feed.leaves[0].bytes;
    long start = 0;
    long element = 0;
    long length = 0;
    for (int r = 0; r < rows; r++) {
      int slot = slots == null ? r : slots[r];
      if (slot < 0) {
        continue;
      }
      int elements = arrays.getArrayLength(from + r);
      if (elements != n) {
        throw wrongLength(feed, firstRowIndex + r, elements);
      }
      long offset = arrays.getArrayOffset(from + r);
      if (length > 0 && offset == start + length && slot * n == element + length) {
        length += n;
        continue;
      }
      copyValues(values, start, bytes, buffer, element, length);
      start = offset;
      element = slot * n;
      length = n;
    }
    copyValues(values, start, bytes, buffer, element, length);
  }

  private static void copyValues(VectorMemory values, long start, int bytes, InputBuffer buffer, long element,
      long length) {
    if (length > 0) {
      Platform.copyMemory(values.base, values.at(start, bytes), null, buffer.address(element), length * bytes);
    }
  }

  /** One value of a column vector into the tensor, as {@link #putLeaf} writes one of a row (integers range-checked). */
  private void putValue(ScoringPlan.Feed feed, InputBuffer buffer, long element, ColumnVector vector, int i,
      LeafType leaf, long rowIndex) {
    long value;
    switch (leaf) {
      case FLOAT:
        buffer.putDouble(element, vector.getFloat(i));
        return;
      case DOUBLE:
        buffer.putDouble(element, vector.getDouble(i));
        return;
      case BOOLEAN:
        buffer.putBool(element, vector.getBoolean(i));
        return;
      case BYTE:
        value = vector.getByte(i);
        break;
      case SHORT:
        value = vector.getShort(i);
        break;
      case INT:
        value = vector.getInt(i);
        break;
      default:
        value = vector.getLong(i);
    }
    putInteger(feed, buffer, element, value, rowIndex);
  }

  private void putInteger(ScoringPlan.Feed feed, InputBuffer buffer, long element, long value, long rowIndex) {
    ElementType type = feed.elementType;
    if (value < type.min || value > type.max) {
      throw new InvalidInputException(at(feed, rowIndex) + " holds " + value + ", outside " + type.onnxName
          + "'s range [" + type.min + ", " + type.max + "]");
    }
    buffer.putLong(element, value);
  }

  /** The batch of the first {@code rows} (at least one) rows written, as {@link NativeApi#run} takes it. */
  NativeWire.RunRecord runRecord(int rows) {
    for (int f = 0; f < feeds.length; f++) {
      int d = 0;
      if (batched) {
        runRecord.setDim(f, d++, rows);
      }
      for (long dim : batchDims[f]) {
        runRecord.setDim(f, d++, dim);
      }
      InputBuffer b = buffers[f];
      runRecord.setBuffers(f, b.dataAddress(), b.dataBytes(rows), b.offsetsAddress(), b.offsetsBytes(rows));
    }
    return runRecord;
  }

  @Override
  public void close() {
    for (InputBuffer buffer : buffers) {
      buffer.close();
    }
    allocator.close();
  }

  /** The product of lengths read from a row; Long.MAX_VALUE where it overflows (the buffer then refuses it). */
  private static long product(long[] values) {
    long n = 1;
    for (long v : values) {
      if (v != 0 && n > Long.MAX_VALUE / v) {
        return Long.MAX_VALUE;
      }
      n *= v;
    }
    return n;
  }

  private static String describeLevels(long[] levels) {
    if (levels.length == 1) {
      return levels[0] + " elements";
    }
    StringBuilder s = new StringBuilder("arrays of shape [");
    for (int i = 0; i < levels.length; i++) {
      s.append(i == 0 ? "" : ", ").append(levels[i]);
    }
    return s.append(']').toString();
  }

}
