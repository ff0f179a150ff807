package io.sparkort;

import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.ArrayBasedMapData;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.unsafe.Platform;
import org.apache.spark.unsafe.types.UTF8String;

/**
 * Turns a run's outputs, still in native memory, into per-row Spark values: a boxed value for one
 * value per row, (nested) arrays whose fixed-width leaves are filled by one bulk copy, strings, and
 * maps for sequences of maps. The native side has already widened every element to its Spark type.
 */
final class BatchReader {
  private BatchReader() {}

  /**
   * @param resultOutputs {@link NativeApi#resultOutputs} of a run ({@link NativeWire#readOutputs}) for {@link ScoringPlan#fetchNames()}
   * @param batched whether the outputs' first dimension is the batch (else the run was one row)
   * @param values filled as {@code values[row][f]}
   */
  static void read(long[] resultOutputs, List<ScoringPlan.Fetch> fetches, boolean batched, int rows, Object[][] values) {
    List<NativeWire.Output> outputs = NativeWire.readOutputs(resultOutputs);
    for (int f = 0; f < fetches.size(); f++) {
      ScoringPlan.Fetch fetch = fetches.get(f);
      NativeWire.Output output = outputs.get(fetch.result);
      if (fetch.maps) {
        readMaps(fetch, output, rows, values, f);
      } else {
        readTensor(fetch, output, batched, rows, values, f);
      }
    }
  }

  private static void readTensor(ScoringPlan.Fetch fetch, NativeWire.Output output, boolean batched, int rows,
      Object[][] values, int f) {
    long[] rowDims = rowDims(fetch, output, batched, rows);
    long perRow = elements(rowDims);
    Leaves leaves = new Leaves(output, fetch.leaf, 0);
    for (int r = 0; r < rows; r++) {
      long first = r * perRow;
      values[r][f] = fetch.rowRank == 0 ? leaves.scalar(first) : nested(leaves, rowDims, 0, first);
    }
  }

  /** A tensor fetch's per-row dimensions, once its output is checked to be what the plan expects. */
  static long[] rowDims(ScoringPlan.Fetch fetch, NativeWire.Output output, boolean batched, int rows) {
    LeafType leaf = fetch.leaf;
    long[] rowDims = batched && output.dims.length > 0 ? Arrays.copyOfRange(output.dims, 1, output.dims.length) : output.dims;
    long batch = batched ? (output.dims.length > 0 ? output.dims[0] : -1) : 1;
    long perRow = elements(rowDims);
    boolean fits = output.kind == NativeWire.KIND_TENSOR && output.leaf == leaf && batch == rows
        && (fetch.rowRank == 0 ? perRow == 1 : rowDims.length == fetch.rowRank)
        && (leaf == LeafType.STRING || output.bytes(0) == rows * perRow * leaf.bytes);
    if (!fits) {
      throw new InferenceException("model output '" + fetch.output + "' came back as " + output.leaf + " of shape "
          + Arrays.toString(output.dims) + "; expected " + leaf + (batched ? " with " + rows + " rows" : "")
          + (fetch.rowRank == 0 ? " and one value per row" : " and " + fetch.rowRank + " dimensions per row"));
    }
    return rowDims;
  }

  /** The values per row of a fetch whose signature fixes them, once its output is checked to hold that many. */
  static long fixedValuesPerRow(ScoringPlan.Fetch fetch, NativeWire.Output output, boolean batched, int rows) {
    long perRow = elements(rowDims(fetch, output, batched, rows));
    if (perRow != fetch.flatRowLength) {
      throw new InferenceException("model output '" + fetch.output + "' came back with " + perRow
          + " values per row; its signature says " + fetch.flatRowLength);
    }
    return perRow;
  }

  static long elements(long[] dims) {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    return n;
  }

  private static ArrayData nested(Leaves leaves, long[] dims, int level, long first) {
    int n = (int) dims[level];
    if (level == dims.length - 1) {
      return leaves.array(first, n);
    }
    long stride = 1;
    for (int l = level + 1; l < dims.length; l++) {
      stride *= dims[l];
    }
    Object[] items = new Object[n];
    for (int i = 0; i < n; i++) {
      items[i] = nested(leaves, dims, level + 1, first + i * stride);
    }
    return new GenericArrayData(items);
  }

  private static void readMaps(ScoringPlan.Fetch fetch, NativeWire.Output output, int rows, Object[][] values, int f) {
    LeafType keyLeaf = LeafType.of(fetch.keyType.sparkType);
    LeafType valueLeaf = fetch.leaf;
    if (output.kind != NativeWire.KIND_MAPS || output.dims.length != 1 || output.dims[0] != rows || output.keyLeaf != keyLeaf
        || output.leaf != valueLeaf) {
      throw new InferenceException("model output '" + fetch.output + "' came back as maps of " + output.keyLeaf
          + " to " + output.leaf + " of shape " + Arrays.toString(output.dims) + "; expected " + rows + " maps of "
          + keyLeaf + " to " + valueLeaf);
    }
    long mapOffsets = output.address(0);
    Leaves keys = new Leaves(output, keyLeaf, 1);
    Leaves mapValues = new Leaves(output, valueLeaf, keyLeaf == LeafType.STRING ? 3 : 2);
    for (int r = 0; r < rows; r++) {
      int start = Platform.getInt(null, mapOffsets + 4L * r);
      int n = Platform.getInt(null, mapOffsets + 4L * (r + 1)) - start;
      values[r][f] = new ArrayBasedMapData(keys.array(start, n), mapValues.array(start, n));
    }
  }

  /** The elements of one output buffer (or, for strings, offsets and bytes buffers) by index. */
  private static final class Leaves {
    private final LeafType leaf;
    private final long data;
    private final long offsets;

    Leaves(NativeWire.Output output, LeafType leaf, int buffer) {
      this.leaf = leaf;
      if (leaf == LeafType.STRING) {
        this.offsets = output.address(buffer);
        this.data = output.address(buffer + 1);
      } else {
        this.offsets = 0;
        this.data = output.address(buffer);
      }
    }

    Object scalar(long i) {
      long address = data + i * leaf.bytes;
      switch (leaf) {
        case FLOAT:
          return Platform.getFloat(null, address);
        case DOUBLE:
          return Platform.getDouble(null, address);
        case BYTE:
          return Platform.getByte(null, address);
        case SHORT:
          return Platform.getShort(null, address);
        case INT:
          return Platform.getInt(null, address);
        case LONG:
          return Platform.getLong(null, address);
        case BOOLEAN:
          return Platform.getByte(null, address) != 0;
        default:
          return string(i);
      }
    }

    ArrayData array(long first, int n) {
      if (leaf == LeafType.STRING) {
        Object[] strings = new Object[n];
        for (int i = 0; i < n; i++) {
          strings[i] = string(first + i);
        }
        return new GenericArrayData(strings);
      }
      UnsafeArrayData array = UnsafeArrayData.createFreshArray(n, leaf.bytes);
      long header = UnsafeArrayData.calculateHeaderPortionInBytes(n);
      CopyBySize.copy(null, data + first * leaf.bytes, array.getBaseObject(), array.getBaseOffset() + header,
          (long) n * leaf.bytes);
      return array;
    }

    private UTF8String string(long i) {
      int start = Platform.getInt(null, offsets + 4 * i);
      int end = Platform.getInt(null, offsets + 4 * (i + 1));
      byte[] bytes = new byte[end - start];
      Platform.copyMemory(null, data + start, bytes, Platform.BYTE_ARRAY_OFFSET, bytes.length);
      return UTF8String.fromBytes(bytes);
    }
  }
}
