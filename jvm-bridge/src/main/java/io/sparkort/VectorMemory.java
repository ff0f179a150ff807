package io.sparkort;

import java.lang.reflect.Field;
import org.apache.spark.sql.execution.vectorized.OffHeapColumnVector;
import org.apache.spark.sql.execution.vectorized.OnHeapColumnVector;
import org.apache.spark.sql.execution.vectorized.WritableColumnVector;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.unsafe.Platform;

/**
 * Where a column vector keeps its values, for a bulk copy: an off-heap vector's address, or an
 * on-heap vector's Java array (Spark's vectorized Parquet and ORC readers and its in-memory cache
 * fill {@link OnHeapColumnVector}s unless {@code spark.sql.columnVector.offheap.enabled}). A vector
 * of another kind, or one whose values are dictionary ids, has none: its values are read one by one
 * through {@link ColumnVector}'s getters.
 */
final class VectorMemory {
  /** The Java array ({@code null} off heap) and the offset of value 0 in it (the address off heap). */
  final Object base;
  final long offset;

  private VectorMemory(Object base, long offset) {
    this.base = base;
    this.offset = offset;
  }

  /** The memory of value {@code index} (of {@code bytes} bytes each). */
  long at(long index, int bytes) {
    return offset + index * bytes;
  }

  /** The values of {@code vector}, of {@code leaf} type, or null where they are not in one piece of memory. */
  static VectorMemory of(ColumnVector vector, LeafType leaf) {
    if (!(vector instanceof WritableColumnVector) || ((WritableColumnVector) vector).hasDictionary()) {
      return null;
    }
    if (vector instanceof OffHeapColumnVector) {
      return new VectorMemory(null, ((OffHeapColumnVector) vector).valuesNativeAddress());
    }
    if (vector instanceof OnHeapColumnVector) {
      Field field = OnHeap.FIELDS[leaf.ordinal()];
      if (field == null) {
        return null;
      }
      Object array;
      try {
        array = field.get(vector);
      } catch (IllegalAccessException e) {
        return null;
      }
      return array == null ? null : new VectorMemory(array, OnHeap.OFFSETS[leaf.ordinal()]);
    }
    return null;
  }

  /**
   * OnHeapColumnVector's value arrays by leaf type (booleans are bytes there), found once; a Spark
   * whose fields are named otherwise leaves them null, and its vectors are read value by value.
   */
  private static final class OnHeap {
    static final Field[] FIELDS = new Field[LeafType.values().length];
    static final long[] OFFSETS = new long[LeafType.values().length];

    static {
      put(LeafType.BOOLEAN, "byteData", Platform.BYTE_ARRAY_OFFSET);
      put(LeafType.BYTE, "byteData", Platform.BYTE_ARRAY_OFFSET);
      put(LeafType.SHORT, "shortData", Platform.SHORT_ARRAY_OFFSET);
      put(LeafType.INT, "intData", Platform.INT_ARRAY_OFFSET);
      put(LeafType.LONG, "longData", Platform.LONG_ARRAY_OFFSET);
      put(LeafType.FLOAT, "floatData", Platform.FLOAT_ARRAY_OFFSET);
      put(LeafType.DOUBLE, "doubleData", Platform.DOUBLE_ARRAY_OFFSET);
    }

    private static void put(LeafType leaf, String name, long offset) {
      try {
        Field field = OnHeapColumnVector.class.getDeclaredField(name);
        field.setAccessible(true);
        FIELDS[leaf.ordinal()] = field;
        OFFSETS[leaf.ordinal()] = offset;
      } catch (ReflectiveOperationException | RuntimeException e) {
        FIELDS[leaf.ordinal()] = null;
      }
    }
  }
}
