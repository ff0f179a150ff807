package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.spark.SparkException;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.linalg.Vectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every kind of column a model input can be fed from, every element type and shape out, nulls,
 * and the errors bad data gets: on {@code local[2]} Spark, against ONNX Runtime Python's outputs.
 */
class FeedAndFetchTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = TestCase.localSpark("sparkort-feed-fetch-test").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @ParameterizedTest
  @ValueSource(strings = {"float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16",
      "uint32", "uint64", "bool", "string"})
  void everyElementTypeGoesInAndComesOutAsItsSparkType(String dtype) {
    TestCase c = TestCase.load("passthrough_" + dtype);
    Dataset<Row> scored = c.onnxModel().setBatchSize(7).transform(c.dataFrame(spark, 3));
    DataType leaf = TestCase.leafType(dtype);
    assertEquals(DataTypes.createArrayType(leaf, false), scored.schema().apply("out_same").dataType());
    assertEquals(leaf, scored.schema().apply("out_first").dataType(), "[N] is one value per row");
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @ParameterizedTest
  @EnumSource(TestCase.Layout.class)
  void nDimensionalInputsFromNestedOrFlatArraysAndNestedOutputs(TestCase.Layout layout) {
    TestCase c = TestCase.load("nd_transpose");
    Dataset<Row> scored = c.onnxModel().setBatchSize(9).transform(c.dataFrame(spark, 2, layout));
    assertEquals(DataTypes.createArrayType(DataTypes.createArrayType(DataTypes.FloatType, false), false),
        scored.schema().apply("out_t").dataType());
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @ParameterizedTest
  @EnumSource(TestCase.Layout.class)
  void aModelWithoutBatchAxisScoresEachRowsWholeTensor(TestCase.Layout layout) {
    TestCase c = TestCase.load("unbatched");
    Dataset<Row> scored = c.onnxModel().transform(c.dataFrame(spark, 2, layout));
    assertEquals(DataTypes.createArrayType(DataTypes.FloatType, false), scored.schema().apply("out_columns").dataType());
    assertEquals(DataTypes.FloatType, scored.schema().apply("out_total").dataType());
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @Test
  void sequencesOfMapsBecomeMapColumns() {
    TestCase c = TestCase.load("zipmap");
    Dataset<Row> scored = c.onnxModel().setBatchSize(16).transform(c.dataFrame(spark, 3));
    assertEquals(DataTypes.createMapType(DataTypes.LongType, DataTypes.FloatType, false),
        scored.schema().apply("out_by_id").dataType());
    assertEquals(DataTypes.createMapType(DataTypes.StringType, DataTypes.FloatType, false),
        scored.schema().apply("out_by_name").dataType());
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @Test
  void tensorsInsideTheGraphAreFetchedByName() {
    TestCase c = TestCase.load("mlp_inner");
    Dataset<Row> scored = c.onnxModel().setBatchSize(16).transform(c.dataFrame(spark, 2));
    assertEquals(Arrays.asList("id", "col_features", "out_probabilities", "out_r0", "out_h2"),
        Arrays.asList(scored.columns()));
    assertEquals(DataTypes.createArrayType(DataTypes.FloatType, false), scored.schema().apply("out_r0").dataType());
    c.assertMatchesOnnxRuntime(scored.collectAsList());

    OnnxModel unknown = c.onnxModel().setFetchDict(Collections.singletonMap("x", "nope"));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> unknown.transformSchema(scored.schema()));
    assertTrue(e.getMessage().contains("fetchDict asks for 'nope', which is neither an output of model"), e.getMessage());
  }

  @Test
  void binaryColumnFeedsAUint8Input() {
    TestCase c = TestCase.load("byte_sum");
    List<Row> rows = new ArrayList<>();
    for (int r = 0; r < c.rows; r++) {
      JsonNode values = c.input("x").get("values").get(r);
      byte[] bytes = new byte[values.size()];
      for (int i = 0; i < bytes.length; i++) {
        bytes[i] = (byte) values.get(i).asInt();
      }
      rows.add(RowFactory.create(r, bytes));
    }
    StructType schema = new StructType().add("id", DataTypes.IntegerType).add("col_x", DataTypes.BinaryType);
    Dataset<Row> scored = c.onnxModel().setBatchSize(10).transform(spark.createDataFrame(rows, schema).repartition(2));
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @Test
  void denseAndSparseVectorsFeedAFloatInput() {
    TestCase c = TestCase.load("linear_sparse");
    List<Row> rows = new ArrayList<>();
    for (int r = 0; r < c.rows; r++) {
      JsonNode values = c.input("features").get("values").get(r);
      double[] dense = new double[values.size()];
      for (int i = 0; i < dense.length; i++) {
        dense[i] = values.get(i).asDouble();
      }
      Vector vector = r % 2 == 0 ? Vectors.dense(dense) : Vectors.dense(dense).toSparse();
      rows.add(RowFactory.create(r, vector));
    }
    StructType schema = new StructType().add("id", DataTypes.IntegerType).add("col_features", SQLDataTypes.VectorType());
    Dataset<Row> scored = c.onnxModel().setBatchSize(6).transform(spark.createDataFrame(rows, schema).repartition(3));
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @Test
  void severalScalarColumnsFeedOneInputInFeedDictOrder() {
    TestCase c = TestCase.load("double_affine");
    List<Row> rows = new ArrayList<>();
    StructType schema = new StructType().add("id", DataTypes.IntegerType).add("x0", DataTypes.DoubleType)
        .add("x1", DataTypes.DoubleType).add("x2", DataTypes.DoubleType).add("x3", DataTypes.DoubleType);
    for (int r = 0; r < c.rows; r++) {
      JsonNode values = c.input("x").get("values").get(r);
      rows.add(RowFactory.create(r, values.get(0).asDouble(), values.get(1).asDouble(), values.get(2).asDouble(),
          values.get(3).asDouble()));
    }
    Dataset<Row> scored = c.onnxModel().setFeedDict(Collections.singletonMap("x", "x0, x1,x2 ,x3"))
        .transform(spark.createDataFrame(rows, schema).repartition(2));
    c.assertMatchesOnnxRuntime(scored.collectAsList());

    OnnxModel threeColumns = c.onnxModel().setFeedDict(Collections.singletonMap("x", "x0,x1,x2"));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> threeColumns.transformSchema(schema));
    assertTrue(e.getMessage().contains("3 scalar columns give 3 values per row; the model wants 4"), e.getMessage());
  }

  @Test
  void keptNullRowsGetNullOutputsAndEveryOtherRowIsScored() {
    TestCase c = TestCase.load("two_inputs");
    Dataset<Row> full = c.dataFrame(spark, 1);
    // Every third row loses input a, every fifth input b; the rest must still match ONNX Runtime.
    Dataset<Row> holes = full.selectExpr("id", "IF(id % 3 = 0, NULL, col_a) AS col_a", "IF(id % 5 = 0, NULL, col_b) AS col_b");
    Dataset<Row> scored = c.onnxModel().setHandleNulls("keep").setBatchSize(4).transform(holes.repartition(3));
    assertTrue(scored.schema().apply("out_sum").nullable(), "kept nulls make output columns nullable");
    List<Row> rows = scored.collectAsList();
    assertEquals(c.rows, rows.size(), "no row is lost");
    for (Row row : rows) {
      int id = row.getInt(0);
      if (id % 3 == 0 || id % 5 == 0) {
        assertNull(row.get(row.fieldIndex("out_sum")), "row " + id);
        assertNull(row.get(row.fieldIndex("out_norm")), "row " + id);
      } else {
        c.assertRowMatches(row, id, "sum");
        c.assertRowMatches(row, id, "norm");
      }
    }
    SparkException e = assertThrows(SparkException.class, () -> c.onnxModel().transform(holes.coalesce(1)).collectAsList());
    assertTrue(e.getMessage().contains("(model input 'a', float32 [N, 3]): row 0 of partition 0 is null"), e.getMessage());
  }

  @Test
  void aNullArrayElementIsANullInput() {
    TestCase c = TestCase.load("nd_transpose");
    Dataset<Row> rows = c.dataFrame(spark, 1, TestCase.Layout.NESTED).limit(5)
        .selectExpr("id", "IF(id = 2, array(col_x[0], array(1.0F, CAST(NULL AS FLOAT), 2.0F)), col_x) AS col_x");
    SparkException e = assertThrows(SparkException.class, () -> c.onnxModel().transform(rows).collectAsList());
    assertTrue(e.getMessage().contains("has a null at element 1"), e.getMessage());
    List<Row> kept = c.onnxModel().setHandleNulls("keep").transform(rows).collectAsList();
    assertEquals(5, kept.size());
    for (Row row : kept) {
      assertEquals(row.getInt(0) == 2, row.isNullAt(row.fieldIndex("out_t")), "row " + row.getInt(0));
    }
  }

  @Test
  void anIntegerOutsideTheInputsRangeFailsNamingTheValue() {
    TestCase c = TestCase.load("passthrough_int8");
    StructType schema = new StructType().add("id", DataTypes.IntegerType)
        .add("col_x", DataTypes.createArrayType(DataTypes.IntegerType, false));
    Dataset<Row> wide = spark.createDataFrame(Arrays.asList(RowFactory.create(0, Arrays.asList(1, 2, 3)),
        RowFactory.create(1, Arrays.asList(4, 300, 6))), schema).coalesce(1);
    SparkException e = assertThrows(SparkException.class, () -> c.onnxModel().transform(wide).collectAsList());
    assertTrue(e.getMessage().contains("column 'col_x' (model input 'x', int8 [N, 3]): row 1 of partition 0 holds 300,"
        + " outside int8's range [-128, 127]"), e.getMessage());
  }

  @Test
  void incompatibleColumnTypesAreRejectedOnTheDriver() {
    StructType doubles = new StructType().add("col_x", DataTypes.createArrayType(DataTypes.DoubleType, false));
    InvalidInputException e = assertThrows(InvalidInputException.class,
        () -> TestCase.load("passthrough_int32").onnxModel().transformSchema(doubles));
    assertTrue(e.getMessage().contains("column 'col_x' feeds model input 'x' (int32 [N, 3]) but holds array<double>"),
        e.getMessage());
    StructType numbers = new StructType().add("col_x", DataTypes.createArrayType(DataTypes.LongType, false));
    e = assertThrows(InvalidInputException.class, () -> TestCase.load("passthrough_string").onnxModel().transformSchema(numbers));
    assertTrue(e.getMessage().contains("string inputs take string columns"), e.getMessage());
    StructType tooDeep = new StructType().add("col_features",
        DataTypes.createArrayType(DataTypes.createArrayType(DataTypes.FloatType, false), false));
    e = assertThrows(InvalidInputException.class, () -> TestCase.load("mlp").onnxModel().transformSchema(tooDeep));
    assertTrue(e.getMessage().contains("nests 2 levels of arrays; a row of this input has 1 dimension"), e.getMessage());
  }

  @Test
  void wrongShapesFailTheJobNamingRowColumnInputAndExpectedShape() {
    TestCase c = TestCase.load("nd_transpose");
    Dataset<Row> ragged = c.dataFrame(spark, 1, TestCase.Layout.NESTED).limit(3)
        .selectExpr("id", "IF(id = 1, array(col_x[0], array(1.0F, 2.0F)), col_x) AS col_x");
    SparkException e = assertThrows(SparkException.class, () -> c.onnxModel().transform(ragged).collectAsList());
    assertTrue(e.getMessage().contains("(model input 'x', float32 [N, 2, 3]): row 1 of partition 0 is not rectangular"),
        e.getMessage());

    TestCase unbatched = TestCase.load("unbatched");
    StructType flat = new StructType().add("col_x", DataTypes.createArrayType(DataTypes.FloatType, false));
    Dataset<Row> short11 = spark.createDataFrame(Collections.singletonList(RowFactory.create(Arrays.asList(
        1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f))), flat);
    e = assertThrows(SparkException.class, () -> unbatched.onnxModel().transform(short11).collectAsList());
    assertTrue(e.getMessage().contains("(model input 'x', float32 [3, 4]): row 0 of partition 0 has 11 elements, expected 12"),
        e.getMessage());
  }
}
