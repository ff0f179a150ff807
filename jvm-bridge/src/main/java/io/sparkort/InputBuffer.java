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
 */
final class InputBuffer implements AutoCloseable {
  private final BufferAllocator allocator;
  private final ElementType type;
  private final int batchRows;
  private ArrowBuf data;
  private ArrowBuf offsets;
  private long rowElements;
  private long stringBytes;

  InputBuffer(BufferAllocator allocator, ElementType type, int batchRows) {
    this.allocator = allocator;
    this.type = type;
    this.batchRows = batchRows;
  }

  /** Starts row {@code slot} of {@code elements} elements; returns the index of its first element. */
  long startRow(int slot, long elements) {
    if (slot == 0) {
      rowElements = elements;
      long count = batchRows * elements;
      if (type == ElementType.STRING) {
        offsets = ensure(offsets, (count + 1) * 4, 0);
        Platform.putInt(null, offsets.memoryAddress(), 0);
        stringBytes = 0;
        data = ensure(data, 16 * count, 0); // a first guess at the bytes; putString grows it
      } else {
        data = ensure(data, count * type.inputBytes, 0);
      }
    }
    return slot * rowElements;
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
    data = ensure(data, stringBytes + n, stringBytes);
    Platform.copyMemory(value.getBaseObject(), value.getBaseOffset(), null, data.memoryAddress() + stringBytes, n);
    stringBytes += n;
    if (stringBytes > Integer.MAX_VALUE) {
      throw new InvalidInputException("a batch holds more than 2 GiB of strings for one model input; lower batchSize");
    }
    Platform.putInt(null, offsets.memoryAddress() + (element + 1) * 4, (int) stringBytes);
  }

  /** Writes {@code address, bytes, offsetsAddress, offsetsBytes} of the first {@code rows} rows. */
  void describe(int rows, long[] out, int at) {
    long elements = rows * rowElements;
    out[at] = data.memoryAddress();
    out[at + 1] = type == ElementType.STRING ? stringBytes : elements * type.inputBytes;
    out[at + 2] = type == ElementType.STRING ? offsets.memoryAddress() : 0;
    out[at + 3] = type == ElementType.STRING ? (elements + 1) * 4 : 0;
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

  /** {@code buffer} if it holds {@code bytes}, else a larger one with its first {@code keep} bytes. */
  private ArrowBuf ensure(ArrowBuf buffer, long bytes, long keep) {
    if (buffer != null && buffer.capacity() >= bytes) {
      return buffer;
    }
    long capacity = Math.max(bytes, buffer == null ? 0 : 2 * buffer.capacity());
    ArrowBuf larger = allocator.buffer(Math.max(capacity, 8));
    if (buffer != null) {
      Platform.copyMemory(null, buffer.memoryAddress(), null, larger.memoryAddress(), keep);
      buffer.close();
    }
    return larger;
  }
}
