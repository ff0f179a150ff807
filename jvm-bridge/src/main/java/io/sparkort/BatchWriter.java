package io.sparkort;

import java.util.List;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.unsafe.Platform;

/**
 * Writes a batch of rows into one Arrow buffer per model input, row-major, in the input's element
 * type: the memory the native library wraps as a tensor without copying. Arrays already in the
 * model's element type are copied in bulk from Spark's UnsafeArrayData; other values convert one
 * by one. Buffers come from a per-task child of one per-JVM Arrow allocator, so closing the writer
 * at task end returns them, and a leak fails loudly there.
 */
final class BatchWriter implements AutoCloseable {
  private static final RootAllocator ROOT = new RootAllocator(Long.MAX_VALUE);

  /** Bytes of Arrow memory held by every writer in this JVM: 0 whenever no task is scoring. */
  static long allocatedBytes() {
    return ROOT.getAllocatedMemory();
  }

  /** A batch as {@link NativeApi#run} takes it. */
  static final class NativeArguments {
    final String[] inputNames;
    final String[] columns;
    final int[] elementTypes;
    final long[] shapes;
    final int[] ranks;
    final long[] buffers;

    NativeArguments(String[] inputNames, String[] columns, int[] elementTypes, long[] shapes, int[] ranks,
        long[] buffers) {
      this.inputNames = inputNames;
      this.columns = columns;
      this.elementTypes = elementTypes;
      this.shapes = shapes;
      this.ranks = ranks;
      this.buffers = buffers;
    }
  }

  private final List<ScoringPlan.Feed> feeds;
  private final int batchSize;
  private final String partition;
  private final BufferAllocator allocator;
  private final ArrowBuf[] buffers;
  /** Elements per row of each input in the current batch (fixed, or set by the batch's first row). */
  private final long[] rowElements;
  // The native call's arguments: names, types and ranks are the task's; shapes and addresses are
  // rewritten for each batch.
  private final String[] inputNames;
  private final String[] columns;
  private final int[] elementTypes;
  private final int[] ranks;
  private final long[] shapes;
  private final long[] addresses;

  BatchWriter(List<ScoringPlan.Feed> feeds, int batchSize, String taskName, String partition) {
    this.feeds = feeds;
    this.batchSize = batchSize;
    this.partition = partition;
    this.allocator = ROOT.newChildAllocator("sparkort " + taskName, 0, Long.MAX_VALUE);
    this.buffers = new ArrowBuf[feeds.size()];
    this.rowElements = new long[feeds.size()];
    int n = feeds.size();
    inputNames = new String[n];
    columns = new String[n];
    elementTypes = new int[n];
    ranks = new int[n];
    int totalRank = 0;
    for (int f = 0; f < n; f++) {
      ScoringPlan.Feed feed = feeds.get(f);
      inputNames[f] = feed.input;
      columns[f] = feed.column;
      elementTypes[f] = feed.elementType.onnxCode;
      ranks[f] = 1 + feed.rowShape.length;
      totalRank += ranks[f];
    }
    shapes = new long[totalRank];
    addresses = new long[2 * n];
  }

  /**
   * Writes {@code row} at position {@code slot} of the batch.
   *
   * @param rowIndex the row's position in its partition, for error messages
   */
  void write(int slot, InternalRow row, long rowIndex) {
    for (int f = 0; f < feeds.size(); f++) {
      ScoringPlan.Feed feed = feeds.get(f);
      if (row.isNullAt(feed.ordinal)) {
        throw new InvalidInputException(at(feed, rowIndex)
            + " is null; a null row cannot be scored");
      }
      if (feed.kind == ScoringPlan.ColumnKind.SCALAR) {
        long address = reserve(f, slot, 1);
        put(feed.elementType, address, scalar(row, feed));
      } else {
        writeArray(f, feed, slot, row.getArray(feed.ordinal), rowIndex);
      }
    }
  }

  private void writeArray(int f, ScoringPlan.Feed feed, int slot, ArrayData array, long rowIndex) {
    int n = array.numElements();
    long expected = feed.fixedRowElements;
    if (expected < 0 && slot > 0) {
      expected = rowElements[f];
    }
    if (expected >= 0 && n != expected) {
      throw new InvalidInputException(at(feed, rowIndex) + " has "
          + n + " elements, expected " + expected
          + (feed.fixedRowElements < 0 ? " (the length of this batch's first row)" : ""));
    }
    if (expected < 0 && !fitsSymbolicShape(feed.rowShape, n)) {
      throw new InvalidInputException(at(feed, rowIndex) + " has "
          + n + " elements, which the model's per-row shape cannot hold");
    }
    long address = reserve(f, slot, n);
    int size = feed.elementType.byteSize;
    if (feed.bulkCopy && array instanceof UnsafeArrayData) {
      UnsafeArrayData unsafe = (UnsafeArrayData) array;
      // The header is the element count, then the null bits: any set bit is a null element.
      long header = UnsafeArrayData.calculateHeaderPortionInBytes(n);
      for (long word = 8; word < header; word += 8) {
        if (Platform.getLong(unsafe.getBaseObject(), unsafe.getBaseOffset() + word) != 0) {
          throw nullElement(feed, array, rowIndex);
        }
      }
      Platform.copyMemory(unsafe.getBaseObject(), unsafe.getBaseOffset() + header, null, address, (long) n * size);
      return;
    }
    boolean isFloat = feed.valueType == ScoringPlan.Numeric.FLOAT;
    for (int i = 0; i < n; i++) {
      if (array.isNullAt(i)) {
        throw nullElement(feed, array, rowIndex);
      }
      put(feed.elementType, address + (long) i * size, isFloat ? array.getFloat(i) : array.getDouble(i));
    }
  }

  /** Where a bad value is, for error messages: the column, the model input and the row. */
  private String at(ScoringPlan.Feed feed, long rowIndex) {
    return feed.describe() + ": row " + rowIndex + " of " + partition;
  }

  private InvalidInputException nullElement(ScoringPlan.Feed feed, ArrayData array, long rowIndex) {
    int index = 0;
    while (index < array.numElements() && !array.isNullAt(index)) {
      index++;
    }
    return new InvalidInputException(at(feed, rowIndex)
        + " has a null at element " + index + "; a null element cannot be scored");
  }

  /**
   * The address of row {@code slot}'s values in input {@code f}'s buffer. The batch's first row
   * fixes the row length (later rows were checked against it) and sizes the buffer.
   */
  private long reserve(int f, int slot, long elements) {
    int size = feeds.get(f).elementType.byteSize;
    if (slot == 0) {
      rowElements[f] = elements;
      long bytes = (long) batchSize * elements * size;
      if (buffers[f] == null || buffers[f].capacity() < bytes) {
        if (buffers[f] != null) {
          buffers[f].close();
        }
        buffers[f] = allocator.buffer(bytes);
      }
    }
    return buffers[f].memoryAddress() + (long) slot * elements * size;
  }

  /** The batch of the first {@code rows} (at least one) rows written, as the native call takes it. */
  NativeArguments nativeArguments(int rows) {
    int at = 0;
    for (int f = 0; f < feeds.size(); f++) {
      ScoringPlan.Feed feed = feeds.get(f);
      shapes[at++] = rows;
      for (long d : feed.rowShape) {
        shapes[at++] = d >= 0 ? d : rowElements[f] / knownElements(feed.rowShape);
      }
      addresses[2 * f] = buffers[f].memoryAddress();
      addresses[2 * f + 1] = (long) rows * rowElements[f] * feed.elementType.byteSize;
    }
    return new NativeArguments(inputNames, columns, elementTypes, shapes, ranks, addresses);
  }

  @Override
  public void close() {
    for (int f = 0; f < buffers.length; f++) {
      if (buffers[f] != null) {
        buffers[f].close();
        buffers[f] = null;
      }
    }
    allocator.close();
  }

  private static boolean fitsSymbolicShape(long[] rowShape, long n) {
    long known = knownElements(rowShape);
    return known > 0 && n % known == 0;
  }

  /** The product of the fixed dimensions of a per-row shape. */
  private static long knownElements(long[] rowShape) {
    long known = 1;
    for (long d : rowShape) {
      known *= d < 0 ? 1 : d;
    }
    return known;
  }

  private static double scalar(InternalRow row, ScoringPlan.Feed feed) {
    int i = feed.ordinal;
    switch (feed.valueType) {
      case DOUBLE:
        return row.getDouble(i);
      case FLOAT:
        return row.getFloat(i);
      case LONG:
        return row.getLong(i);
      case INT:
        return row.getInt(i);
      case SHORT:
        return row.getShort(i);
      case BYTE:
        return row.getByte(i);
      default:
        throw new IllegalStateException("no reader for " + feed.valueType);
    }
  }

  private static void put(ElementType type, long address, double value) {
    if (type == ElementType.FLOAT32) {
      Platform.putFloat(null, address, (float) value);
    } else {
      Platform.putDouble(null, address, value);
    }
  }
}
