package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.SparkException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The Java API on {@code local[2]} Spark, checked against ONNX Runtime's Python API. */
class OnnxModelTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = TestCase.localSpark("sparkort-test").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  @ParameterizedTest
  @ValueSource(strings = {"linear", "mlp", "double_affine", "two_inputs", "scalar_in", "unseen_mlp", "external_mlp"})
  void scoresLikeOnnxRuntimePython(String name) {
    TestCase c = TestCase.load(name);
    // A small batch size so partitions end in partial batches.
    Dataset<Row> scored = c.onnxModel().setBatchSize(7).transform(c.dataFrame(spark, 3));
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @Test
  void keepsEveryInputColumnAndAddsOnePerOutput() {
    TestCase c = TestCase.load("two_inputs");
    Dataset<Row> input = c.dataFrame(spark, 2);
    List<String> columns = Arrays.asList(c.onnxModel().transform(input).columns());
    assertEquals(Arrays.asList("id", "col_a", "col_b", "out_sum", "out_norm"), columns);
  }

  @Test
  void transformSchemaComputesOutputTypesWithoutRunningAJob() {
    TestCase c = TestCase.load("two_inputs");
    StructType inputSchema = c.dataFrame(spark, 1).schema();
    spark.sparkContext().setJobGroup("schema-only", "transformSchema must not run jobs", false);
    StructType schema = c.onnxModel().transformSchema(inputSchema);
    spark.sparkContext().clearJobGroup();
    assertEquals(0, spark.sparkContext().statusTracker().getJobIdsForGroup("schema-only").length);
    assertEquals(DataTypes.createArrayType(DataTypes.FloatType, false), schema.apply("out_sum").dataType());
    assertEquals(DataTypes.FloatType, schema.apply("out_norm").dataType(), "[N] output is one value per row");
    StructType linear = TestCase.load("linear").onnxModel().transformSchema(TestCase.load("linear").dataFrame(spark, 1).schema());
    assertEquals(DataTypes.FloatType, linear.apply("out_score").dataType(), "[N, 1] output is one value per row");
  }

  @Test
  void oneOutputCanBeFetchedUnderTwoColumns() {
    TestCase c = TestCase.load("linear");
    Map<String, String> fetch = new java.util.LinkedHashMap<>();
    fetch.put("out_score", "score");
    fetch.put("again", "score");
    List<Row> rows = c.onnxModel().setFetchDict(fetch).setBatchSize(9).transform(c.dataFrame(spark, 2)).collectAsList();
    c.assertMatchesOnnxRuntime(rows);
    for (Row row : rows) {
      assertEquals(row.getFloat(row.fieldIndex("out_score")), row.getFloat(row.fieldIndex("again")));
    }
  }

  @Test
  void emptyFetchDictFetchesEveryOutputUnderItsOwnName() {
    TestCase c = TestCase.load("two_inputs");
    OnnxModel model = c.onnxModel().setFetchDict(Collections.<String, String>emptyMap());
    List<String> columns = Arrays.asList(model.transform(c.dataFrame(spark, 1)).columns());
    assertEquals(Arrays.asList("id", "col_a", "col_b", "sum", "norm"), columns);
  }

  @Test
  void unknownColumnIsRejectedOnTheDriverNamingColumnAndInput() {
    TestCase c = TestCase.load("mlp");
    OnnxModel model = c.onnxModel().setFeedDict(Collections.singletonMap("features", "featurs"));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.transform(c.dataFrame(spark, 1)));
    assertTrue(e.getMessage().contains("column 'featurs'"), e.getMessage());
    assertTrue(e.getMessage().contains("model input 'features'"), e.getMessage());
    assertTrue(e.getMessage().contains("col_features"), "lists the columns there are: " + e.getMessage());
  }

  @Test
  void feedDictMissingAModelInputIsRejected() {
    TestCase c = TestCase.load("two_inputs");
    OnnxModel model = c.onnxModel().setFeedDict(Collections.singletonMap("a", "col_a"));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.transformSchema(c.dataFrame(spark, 1).schema()));
    assertTrue(e.getMessage().contains("model input 'b'"), e.getMessage());
  }

  @Test
  void wrongColumnTypeIsRejectedOnTheDriver() {
    TestCase c = TestCase.load("mlp");
    Dataset<Row> strings = spark.createDataFrame(
        Collections.singletonList(RowFactory.create("x")),
        DataTypes.createStructType(Collections.singletonList(DataTypes.createStructField("col_features", DataTypes.StringType, true))));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> c.onnxModel().transform(strings));
    assertTrue(e.getMessage().contains("column 'col_features'") && e.getMessage().contains("holds string"), e.getMessage());
  }

  @Test
  void wrongArrayLengthFailsTheJobNamingRowColumnAndInputAndTheJvmStaysUp() {
    TestCase c = TestCase.load("mlp");
    Dataset<Row> bad = spark.createDataFrame(
        Arrays.asList(row(64, 0.1f), row(64, 0.2f), row(63, 0.3f)),
        DataTypes.createStructType(Collections.singletonList(
            DataTypes.createStructField("col_features", DataTypes.createArrayType(DataTypes.FloatType, false), true))))
        .coalesce(1);
    SparkException e = assertThrows(SparkException.class, () -> c.onnxModel().transform(bad).collectAsList());
    for (String part : new String[] {"InvalidInputException", "column 'col_features'", "model input 'features'",
        "row 2 of partition 0", "has 63 elements, expected 64"}) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' missing from: " + e.getMessage());
    }
    // The executor (this JVM) survived and still scores.
    c.assertMatchesOnnxRuntime(c.onnxModel().transform(c.dataFrame(spark, 2)).collectAsList());
  }

  @Test
  void nullRowFailsTheJobNamingTheRow() {
    TestCase c = TestCase.load("mlp");
    Dataset<Row> withNull = spark.createDataFrame(
        Arrays.asList(row(64, 0.1f), RowFactory.create((Object) null)),
        DataTypes.createStructType(Collections.singletonList(
            DataTypes.createStructField("col_features", DataTypes.createArrayType(DataTypes.FloatType, false), true))))
        .coalesce(1);
    SparkException e = assertThrows(SparkException.class, () -> c.onnxModel().transform(withNull).collectAsList());
    assertTrue(e.getMessage().contains("row 1 of partition 0 is null"), e.getMessage());
  }

  @Test
  void missingModelFileNamesThePath() {
    TestCase c = TestCase.load("mlp");
    OnnxModel model = c.onnxModel().setModelLocation("/nonexistent/models/missing.onnx");
    ModelLoadException e = assertThrows(ModelLoadException.class, () -> model.transform(c.dataFrame(spark, 1)));
    assertTrue(e.getMessage().contains("/nonexistent/models/missing.onnx"), e.getMessage());
  }

  @Test
  void arrowBuffersAndNativeResultsAreReleasedWhenTasksEnd() {
    TestCase c = TestCase.load("mlp");
    Dataset<Row> input = c.dataFrame(spark, 3).cache();
    for (int i = 0; i < 5; i++) {
      c.assertMatchesOnnxRuntime(c.onnxModel().setBatchSize(8).transform(input).collectAsList());
      assertEquals(0, BatchWriter.allocatedBytes(), "Arrow memory held after job " + i);
      assertEquals(0, NativeApi.openResultCount(), "native results open after job " + i);
    }
    Dataset<Row> bad = spark.createDataFrame(Arrays.asList(row(64, 0.1f), row(65, 0.1f)),
        DataTypes.createStructType(Collections.singletonList(
            DataTypes.createStructField("col_features", DataTypes.createArrayType(DataTypes.FloatType, false), true))));
    assertThrows(SparkException.class, () -> c.onnxModel().transform(bad).collectAsList());
    assertEquals(0, BatchWriter.allocatedBytes(), "Arrow memory held after a failed task");
    assertEquals(0, NativeApi.openResultCount(), "native results open after a failed task");
    input.unpersist();
  }

  @Test
  void paramsHaveDefaultsAndSettersChain() {
    OnnxModel model = new OnnxModel();
    assertEquals(0, model.getBatchSize(), "0: sparkort chooses the rows per run");
    assertTrue(model.getFetchDict().isEmpty());
    Map<String, String> feed = new HashMap<>();
    feed.put("x", "y");
    OnnxModel same = model.setModelLocation("m.onnx").setFeedDict(feed).setBatchSize(5);
    assertTrue(same == model);
    OnnxModel copy = model.copy(new org.apache.spark.ml.param.ParamMap());
    assertEquals("m.onnx", copy.getModelLocation());
    assertEquals(feed, copy.getFeedDict());
    assertEquals(model.uid(), copy.uid());
  }

  private static Row row(int length, float value) {
    Float[] values = new Float[length];
    Arrays.fill(values, value);
    return RowFactory.create(Arrays.asList(values));
  }
}
