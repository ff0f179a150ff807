package io.sparkort;

import java.util.List;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.unsafe.Platform;

/**
 * Turns a run's outputs, still in ONNX Runtime's memory, into per-row Spark values: a boxed number
 * for a scalar output, an UnsafeArrayData filled by one bulk copy for an array output.
 */
final class BatchReader {
  private BatchReader() {}

  /**
   * @param described {@link NativeApi#describeResult} of a run that fetched {@code fetches} in order
   * @param values filled as {@code values[row][f]}
   */
  static void read(long[] described, List<ScoringPlan.Fetch> fetches, int rows, Object[][] values) {
    int at = 0;
    for (int f = 0; f < fetches.size(); f++) {
      ScoringPlan.Fetch fetch = fetches.get(f);
      ElementType type = ElementType.fromCode(described[at]);
      long address = described[at + 1];
      long bytes = described[at + 2];
      int rank = (int) described[at + 3];
      long rowElements = 1;
      for (int d = 1; d < rank; d++) {
        rowElements *= described[at + 4 + d];
      }
      long batch = rank == 0 ? -1 : described[at + 4];
      at += 4 + rank;
      if (type != fetch.elementType || batch != rows || bytes != rows * rowElements * type.byteSize
          || fetch.scalar && rowElements != 1) {
        throw new InferenceException("model output '" + fetch.output + "' came back as " + type.onnxName
            + " with " + rank + " dims, " + batch + " rows and " + rowElements + " values per row; expected "
            + fetch.elementType.onnxName + ", " + rows + " rows" + (fetch.scalar ? " and one value per row" : ""));
      }
      int size = type.byteSize;
      long rowBytes = rowElements * size;
      for (int r = 0; r < rows; r++) {
        long source = address + r * rowBytes;
        if (fetch.scalar) {
          values[r][f] =
              type == ElementType.FLOAT32 ? (Object) Platform.getFloat(null, source) : (Object) Platform.getDouble(null, source);
        } else {
          UnsafeArrayData array = UnsafeArrayData.createFreshArray((int) rowElements, size);
          long header = UnsafeArrayData.calculateHeaderPortionInBytes((int) rowElements);
          Platform.copyMemory(null, source, array.getBaseObject(), array.getBaseOffset() + header, rowBytes);
          values[r][f] = array;
        }
      }
    }
  }
}
