package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.execution.vectorized.Dictionary;
import org.apache.spark.sql.execution.vectorized.OffHeapColumnVector;
import org.apache.spark.sql.execution.vectorized.OnHeapColumnVector;
import org.apache.spark.sql.execution.vectorized.WritableColumnVector;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Decimal;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * ColumnarRows, the columnar path's own rows, against Spark's: every row it builds from a batch of
 * column vectors must be, byte for byte, the UnsafeRow that Spark's UnsafeProjection (what its
 * columnar-to-row step runs) makes of the same batch's row, over every type it lays out, nulls of
 * fields and of array elements, empty and odd-length arrays, strings of several bytes a character,
 * more than 64 fields (two words of null bits), on-heap, off-heap and dictionary-encoded vectors,
 * and a type it leaves to the projection.
 */
class ColumnarRowsTest {
  private static final DataType[] SCALARS = {DataTypes.BooleanType, DataTypes.ByteType, DataTypes.ShortType,
      DataTypes.IntegerType, DataTypes.DateType, DataTypes.LongType, DataTypes.TimestampType, DataTypes.FloatType,
      DataTypes.DoubleType, DataTypes.StringType};
  private static final DataType[] ELEMENTS = {DataTypes.BooleanType, DataTypes.ByteType, DataTypes.ShortType,
      DataTypes.IntegerType, DataTypes.LongType, DataTypes.FloatType, DataTypes.DoubleType};

  /** Every laid-out type as a column, each array type, and enough longs to pass 64 fields. */
  private static StructType everyType() {
    List<StructField> fields = new ArrayList<>();
    for (DataType type : SCALARS) {
      fields.add(DataTypes.createStructField("s_" + type.typeName(), type, true));
    }
    for (DataType type : ELEMENTS) {
      fields.add(DataTypes.createStructField("a_" + type.typeName(), DataTypes.createArrayType(type, true), true));
    }
    while (fields.size() < 70) {
      fields.add(DataTypes.createStructField("l" + fields.size(), DataTypes.LongType, true));
    }
    return DataTypes.createStructType(fields);
  }

  private static WritableColumnVector[] vectors(int rows, StructType schema, boolean offHeap) {
    return offHeap ? OffHeapColumnVector.allocateColumns(rows, schema) : OnHeapColumnVector.allocateColumns(rows, schema);
  }

  /** Random values, a tenth of them null; arrays of 0 to 19 elements, a tenth of those null. */
  private static void fill(WritableColumnVector vector, DataType type, int rows, Random random) {
    if (type instanceof ArrayType) {
      DataType element = ((ArrayType) type).elementType();
      WritableColumnVector data = vector.arrayData();
      int at = 0;
      for (int r = 0; r < rows; r++) {
        if (random.nextInt(10) == 0) {
          vector.putNull(r);
          continue;
        }
        int n = random.nextInt(20);
        data.reserve(at + n);
        for (int i = 0; i < n; i++) {
          putValue(data, element, at + i, random);
        }
        vector.putArray(r, at, n);
        at += n;
      }
      return;
    }
    for (int r = 0; r < rows; r++) {
      putValue(vector, type, r, random);
    }
  }

  private static void putValue(WritableColumnVector vector, DataType type, int r, Random random) {
    if (random.nextInt(10) == 0) {
      vector.putNull(r);
    } else if (type == DataTypes.BooleanType) {
      vector.putBoolean(r, random.nextBoolean());
    } else if (type == DataTypes.ByteType) {
      vector.putByte(r, (byte) random.nextInt());
    } else if (type == DataTypes.ShortType) {
      vector.putShort(r, (short) random.nextInt());
    } else if (type == DataTypes.IntegerType || type == DataTypes.DateType) {
      vector.putInt(r, random.nextInt());
    } else if (type == DataTypes.LongType || type == DataTypes.TimestampType) {
      vector.putLong(r, random.nextLong());
    } else if (type == DataTypes.FloatType) {
      float[] odd = {Float.NaN, -0.0f, Float.NEGATIVE_INFINITY, Float.MIN_VALUE};
      vector.putFloat(r, random.nextInt(8) == 0 ? odd[random.nextInt(odd.length)] : (float) random.nextGaussian());
    } else if (type == DataTypes.DoubleType) {
      double[] odd = {Double.NaN, -0.0, Double.POSITIVE_INFINITY, Double.MIN_VALUE};
      vector.putDouble(r, random.nextInt(8) == 0 ? odd[random.nextInt(odd.length)] : random.nextGaussian());
    } else if (type == DataTypes.StringType) {
      String[] words = {"", "a", "sparkort", "naïve", "日本語のテキスト", "exactly8", "sixteen bytes!!!"};
      byte[] bytes = words[random.nextInt(words.length)].getBytes(StandardCharsets.UTF_8);
      vector.putByteArray(r, bytes);
    } else {
      vector.putDecimal(r, Decimal.apply(random.nextInt(100000), 9, 2), 9);
    }
  }

  private static ColumnarBatch batch(StructType schema, int rows, boolean offHeap, long seed) {
    WritableColumnVector[] columns = vectors(rows, schema, offHeap);
    Random random = new Random(seed);
    for (int c = 0; c < columns.length; c++) {
      fill(columns[c], schema.fields()[c].dataType(), rows, random);
    }
    return new ColumnarBatch(columns, rows);
  }

  /** The rows Spark makes of each batch, copied out. */
  private static List<UnsafeRow> expected(StructType schema, List<ColumnarBatch> batches) {
    UnsafeProjection projection = UnsafeProjection.create(schema);
    List<UnsafeRow> rows = new ArrayList<>();
    for (ColumnarBatch batch : batches) {
      for (int r = 0; r < batch.numRows(); r++) {
        rows.add(projection.apply(batch.getRow(r)).copy());
      }
    }
    return rows;
  }

  /** Asserts ColumnarRows makes those very rows of {@code batches}, and each stays valid while the next rows are laid out. */
  private static void assertAlike(StructType schema, List<ColumnarBatch> batches) {
    List<UnsafeRow> expected = expected(schema, batches);
    Iterator<InternalRow> rows = new ColumnarRows(batches.iterator(), schema);
    UnsafeRow last = null;
    int lastIndex = -1;
    for (int i = 0; i < expected.size(); i++) {
      assertTrue(rows.hasNext(), "row " + i);
      if (last != null) {
        // The block after the one it came from may be laid out by now: the row stays as it was.
        assertEquals(expected.get(lastIndex), last, "row " + lastIndex + " once row " + i + " was asked for");
      }
      InternalRow row = rows.next();
      assertTrue(row instanceof UnsafeRow, row.getClass().getName());
      assertEquals(expected.get(i), row, "row " + i);
      last = (UnsafeRow) row;
      lastIndex = i;
    }
    assertFalse(rows.hasNext());
  }

  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void everyTypeLaysOutAsSparkWrites(boolean offHeap) {
    StructType schema = everyType();
    // Batches of several sizes, one of them empty and one of a single row: the arrays are used by turns and grow.
    List<ColumnarBatch> batches = new ArrayList<>();
    int[] sizes = {300, 0, 1, 1000, 7};
    for (int b = 0; b < sizes.length; b++) {
      batches.add(batch(schema, sizes[b], offHeap, 17 + b));
    }
    assertAlike(schema, batches);
  }

  /** A dictionary of the ints 0.. as each type's values. */
  private static final class Squares implements Dictionary {
    @Override
    public int decodeToInt(int id) {
      return id * id;
    }

    @Override
    public long decodeToLong(int id) {
      return (long) id * id * id;
    }

    @Override
    public float decodeToFloat(int id) {
      return id / 7.0f;
    }

    @Override
    public double decodeToDouble(int id) {
      return id / 3.0;
    }

    @Override
    public byte[] decodeToBinary(int id) {
      return ("word" + id).getBytes(StandardCharsets.UTF_8);
    }
  }

  /** Values given as dictionary ids (as Parquet's reader leaves them): read through the vectors' getters. */
  @Test
  void dictionaryEncodedVectorsLayOutAsSparkWrites() {
    int rows = 500;
    StructType schema = DataTypes.createStructType(Arrays.asList(
        DataTypes.createStructField("i", DataTypes.IntegerType, true),
        DataTypes.createStructField("l", DataTypes.LongType, true),
        DataTypes.createStructField("d", DataTypes.DoubleType, true),
        DataTypes.createStructField("s", DataTypes.StringType, true),
        DataTypes.createStructField("a", DataTypes.createArrayType(DataTypes.FloatType, false), true)));
    WritableColumnVector[] columns = vectors(rows, schema, false);
    Random random = new Random(5);
    for (int c = 0; c < 4; c++) {
      columns[c].setDictionary(new Squares());
      WritableColumnVector ids = columns[c].reserveDictionaryIds(rows);
      for (int r = 0; r < rows; r++) {
        if (random.nextInt(9) == 0) {
          columns[c].putNull(r);
        } else {
          ids.putInt(r, random.nextInt(1000));
        }
      }
    }
    WritableColumnVector elements = columns[4].arrayData();
    elements.reserve(rows * 4);
    elements.setDictionary(new Squares());
    WritableColumnVector ids = elements.reserveDictionaryIds(rows * 4);
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < 4; i++) {
        ids.putInt(r * 4 + i, random.nextInt(1000));
      }
      columns[4].putArray(r, r * 4, 4);
    }
    assertAlike(schema, Arrays.asList(new ColumnarBatch(columns, rows), new ColumnarBatch(columns, rows / 2)));
  }

  /** A column of a type it does not lay out (a decimal): every batch goes through Spark's projection, alike. */
  @Test
  void aTypeNotLaidOutGoesThroughSparksProjection() {
    StructType schema = DataTypes.createStructType(Arrays.asList(
        DataTypes.createStructField("d", DataTypes.createDecimalType(9, 2), true),
        DataTypes.createStructField("f", DataTypes.createArrayType(DataTypes.FloatType, true), true)));
    List<ColumnarBatch> batches = Arrays.asList(batch(schema, 200, false, 3), batch(schema, 50, true, 4));
    assertAlike(schema, batches);
  }

  /** Vectors of a class other than Spark's writable ones (read through ColumnVector's interface alone). */
  @Test
  void otherVectorClassesLayOutAsSparkWrites() {
    StructType schema = everyType();
    ColumnarBatch batch = batch(schema, 400, false, 9);
    ColumnVector[] wrapped = new ColumnVector[schema.fields().length];
    for (int c = 0; c < wrapped.length; c++) {
      wrapped[c] = new Delegating(batch.column(c));
    }
    List<UnsafeRow> expected = expected(schema, Arrays.asList(batch));
    Iterator<InternalRow> rows = new ColumnarRows(Arrays.asList(new ColumnarBatch(wrapped, 400)).iterator(), schema);
    for (UnsafeRow row : expected) {
      assertEquals(row, rows.next());
    }
    assertFalse(rows.hasNext());
  }

  /** A ColumnVector that only passes calls on. */
  private static final class Delegating extends ColumnVector {
    private final ColumnVector in;

    Delegating(ColumnVector in) {
      super(in.dataType());
      this.in = in;
    }

    @Override
    public void close() {}

    @Override
    public boolean hasNull() {
      return in.hasNull();
    }

    @Override
    public int numNulls() {
      return in.numNulls();
    }

    @Override
    public boolean isNullAt(int rowId) {
      return in.isNullAt(rowId);
    }

    @Override
    public boolean getBoolean(int rowId) {
      return in.getBoolean(rowId);
    }

    @Override
    public byte getByte(int rowId) {
      return in.getByte(rowId);
    }

    @Override
    public short getShort(int rowId) {
      return in.getShort(rowId);
    }

    @Override
    public int getInt(int rowId) {
      return in.getInt(rowId);
    }

    @Override
    public long getLong(int rowId) {
      return in.getLong(rowId);
    }

    @Override
    public float getFloat(int rowId) {
      return in.getFloat(rowId);
    }

    @Override
    public double getDouble(int rowId) {
      return in.getDouble(rowId);
    }

    @Override
    public org.apache.spark.sql.vectorized.ColumnarArray getArray(int rowId) {
      return in.getArray(rowId);
    }

    @Override
    public org.apache.spark.sql.vectorized.ColumnarMap getMap(int ordinal) {
      return in.getMap(ordinal);
    }

    @Override
    public Decimal getDecimal(int rowId, int precision, int scale) {
      return in.getDecimal(rowId, precision, scale);
    }

    @Override
    public org.apache.spark.unsafe.types.UTF8String getUTF8String(int rowId) {
      return in.getUTF8String(rowId);
    }

    @Override
    public byte[] getBinary(int rowId) {
      return in.getBinary(rowId);
    }

    @Override
    public ColumnVector getChild(int ordinal) {
      return in.getChild(ordinal);
    }
  }
}
