package io.sparkort;

import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * The memory one model input's batch is written into, in the layout the native library wraps as a
 * tensor: fixed-width elements row-major ({@link ElementType#inputBytes} each), or for strings
 * Arrow-style int32 offsets plus UTF-8 bytes. Element {@code e} of row {@code slot} is at
 * {@code slot * rowElements + e}; the batch's first row fixes {@code rowElements}.
 * The buffers grow with the rows written (doubling from a small start, at most to a batch of
 * {@code batchRows} rows), never past the batch budget ({@link BatchBudget}): a row that would take
 * them past it gets {@link Full}.
 */
final class InputBuffer implements AutoCloseable {
  /** The smallest buffer taken, in bytes. */
  private static final long FIRST_BYTES = 1 << 10;

  private final BufferAllocator allocator;
  private final ElementType type;
  private final int batchRows;
  private final long budget;
  private ArrowBuf data;
  private ArrowBuf offsets;
  private long rowElements;
  /** Elements the buffers have room for; -1 before the first row. */
  private long room = -1;
  private long stringBytes;

  /**
   * A row's elements do not fit the budget with the batch's rows before it (or alone, when it is
   * the first): the buffers are as they were, with the rows before it.
   */
  static final class Full extends RuntimeException {
    private static final long serialVersionUID = 1L;
    final long bytes;

    Full(long bytes) {
      super(null, null, false, false);
      this.bytes = bytes;
    }
  }

  InputBuffer(BufferAllocator allocator, ElementType type, int batchRows, long budget) {
    this.allocator = allocator;
    this.type = type;
    this.batchRows = batchRows;
    this.budget = budget;
  }

  /** Starts row {@code slot} of {@code elements} elements; returns the index of its first element. */
  long startRow(int slot, long elements) {
    if (slot == 0) {
      rowElements = elements;
    }
    long first = slot * rowElements;
    if (first + rowElements > room) {
      grow(first + rowElements, first);
    }
    if (slot == 0 && type == ElementType.STRING) {
      Platform.putInt(null, offsets.memoryAddress(), 0);
      stringBytes = 0;
    }
    return first;
  }

  /** Makes room for {@code rows} rows of the batch's first row's length, keeping nothing written (at slot 0). */
  void reserveRows(int rows) {
    long elements = rows * rowElements;
    if (elements > room) {
      grow(elements, 0);
    }
  }

  /** Room for {@code elements} elements, keeping the first {@code keep}; at most a batch, never past the budget. */
  private void grow(long elements, long keep) {
    long width = type == ElementType.STRING ? 4 : type.inputBytes;
    // Element counts come from rows (a sparse vector's size, nested arrays' lengths): check before any multiplication.
    if (elements < 0 || elements > budget / width) {
      throw new Full(elements < 0 || elements > Long.MAX_VALUE / width ? Long.MAX_VALUE : elements * width);
    }
    long doubled = Math.min(Math.min(2 * Math.max(room, 0), (long) batchRows * rowElements) * width, budget);
    long bytes = Math.max(Math.max(elements * width, FIRST_BYTES), doubled);
    if (type == ElementType.STRING) {
      offsets = ensure(offsets, bytes + 4, (keep + 1) * 4);
      data = ensure(data, FIRST_BYTES, stringBytes);
    } else {
      data = ensure(data, bytes, keep * width);
    }
    room = bytes / width;
  }

  /** Forgets row {@code slot} (and anything after it), so the slot can be written again. */
  void rollback(int slot) {
    if (type == ElementType.STRING && offsets != null) {
      stringBytes = Platform.getInt(null, offsets.memoryAddress() + slot * rowElements * 4);
    }
  }

  /** Bytes the data buffer holds; 0 before the first row. */
  long capacity() {
    return data == null ? 0 : data.capacity();
  }

  long address(long element) {
    return data.memoryAddress() + element * type.inputBytes;
  }

  void putDouble(long element, double value) {
    if (type == ElementType.FLOAT64) {
      Platform.putDouble(null, address(element), value);
    } else {
      Platform.putFloat(null, address(element), (float) value); // float16 and bfloat16 travel as float32
    }
  }

  /** An integer already checked against the type's range. */
  void putLong(long element, long value) {
    long address = address(element);
    switch (type) {
      case FLOAT32:
      case FLOAT16:
      case BFLOAT16:
        Platform.putFloat(null, address, (float) value);
        break;
      case FLOAT64:
        Platform.putDouble(null, address, (double) value);
        break;
      case INT8:
      case UINT8:
        Platform.putByte(null, address, (byte) value);
        break;
      case INT16:
      case UINT16:
        Platform.putShort(null, address, (short) value);
        break;
      case INT32:
      case UINT32:
        Platform.putInt(null, address, (int) value);
        break;
      default:
        Platform.putLong(null, address, value);
    }
  }

  void putBool(long element, boolean value) {
    Platform.putByte(null, address(element), (byte) (value ? 1 : 0));
  }

  /** Appends a string; strings are written in element order. */
  void putString(long element, UTF8String value) {
    int n = value.numBytes();
    if (stringBytes + n > data.capacity()) {
      data = ensure(data, Math.max(stringBytes + n, Math.min(2 * data.capacity(), budget)), stringBytes);
    }
    Platform.copyMemory(value.getBaseObject(), value.getBaseOffset(), null, data.memoryAddress() + stringBytes, n);
    stringBytes += n;
    if (stringBytes > Integer.MAX_VALUE) {
      throw new InvalidInputException("a batch holds more than 2 GiB of strings for one model input; lower batchSize");
    }
    Platform.putInt(null, offsets.memoryAddress() + (element + 1) * 4, (int) stringBytes);
  }

  /** The address of the data buffer (of the UTF-8 bytes, for strings). */
  long dataAddress() {
    return data.memoryAddress();
  }

  /** The data bytes of the first {@code rows} rows. */
  long dataBytes(int rows) {
    return type == ElementType.STRING ? stringBytes : rows * rowElements * type.inputBytes;
  }

  /** The address of the int32 offsets of strings; 0 for other types. */
  long offsetsAddress() {
    return type == ElementType.STRING ? offsets.memoryAddress() : 0;
  }

  /** The offsets' bytes of the first {@code rows} rows (one per element plus one); 0 but for strings. */
  long offsetsBytes(int rows) {
    return type == ElementType.STRING ? (rows * rowElements + 1) * 4 : 0;
  }

  @Override
  public void close() {
    for (ArrowBuf buffer : new ArrowBuf[] {data, offsets}) {
      if (buffer != null) {
        buffer.close();
      }
    }
    data = null;
    offsets = null;
  }

  /** {@code buffer} if it holds {@code bytes}, else one of {@code bytes} with its first {@code keep} bytes. */
  private ArrowBuf ensure(ArrowBuf buffer, long bytes, long keep) {
    if (buffer != null && buffer.capacity() >= bytes) {
      return buffer;
    }
    ArrowBuf larger = allocator.buffer(Math.max(bytes, 8));
    if (buffer != null) {
      Platform.copyMemory(null, buffer.memoryAddress(), null, larger.memoryAddress(), keep);
      buffer.close();
    }
    return larger;
  }
}
