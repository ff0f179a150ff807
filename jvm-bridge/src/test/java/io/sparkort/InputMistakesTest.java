package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.ml.linalg.SQLDataTypes;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Mistakes a hostile run found slipping through: malformed sparse vectors, a fed column the input
 * has twice, an output column differing from an input's only by case, confs that are not numbers or
 * that would stall or exhaust the JVM, an unreachable URI. Each is a named sparkort error, and the
 * same JVM then scores a valid model.
 */
class InputMistakesTest {
  private static SparkSession spark;
  private static File scratch;

  @BeforeAll
  static void startSpark() throws IOException {
    spark = TestCase.localSpark("sparkort-input-mistakes").getOrCreate();
    scratch = Files.createTempDirectory("sparkort-input-mistakes").toFile();
  }

  @AfterAll
  static void stopSpark() throws IOException {
    spark.stop();
    PlanNodeTest.delete(scratch);
  }

  private static void assertValidModelScores() {
    TestCase c = TestCase.load("linear");
    c.assertMatchesOnnxRuntime(c.onnxModel().transform(c.dataFrame(spark, 2)).collectAsList());
  }

  /** A Vector column whose one row is the struct given, as a Parquet file written by someone else could hold it. */
  private static Dataset<Row> vectorOf(String name, Object type, Object size, List<Integer> indices, List<Double> values) {
    StructType struct = new StructType().add("type", DataTypes.ByteType).add("size", DataTypes.IntegerType)
        .add("indices", DataTypes.createArrayType(DataTypes.IntegerType)).add("values", DataTypes.createArrayType(DataTypes.DoubleType));
    StructType schema = new StructType().add("id", DataTypes.IntegerType).add("v", struct);
    Row row = RowFactory.create(0, RowFactory.create(type, size, indices == null ? null : indices.toArray(),
        values == null ? null : values.toArray()));
    File dir = new File(scratch, name);
    spark.createDataFrame(Collections.singletonList(row), schema).write().parquet(dir.getPath());
    return spark.read().schema(new StructType().add("id", DataTypes.IntegerType).add("v", SQLDataTypes.VectorType()))
        .parquet(dir.getPath());
  }

  @Test
  void malformedSparseVectorsNameTheirColumnAndRow() {
    OnnxModel model = new OnnxModel().setModelLocation(TestCase.load("linear").model.getAbsolutePath())
        .setFeedDict(Collections.singletonMap("features", "v")).setFetchDict(Collections.singletonMap("s", "score"));
    Object[][] cases = {
        {"unpaired", (byte) 0, 8, Arrays.asList(0, 1, 2), Arrays.asList(1.0), "3 indices and 1 values"},
        {"no-indices", (byte) 0, 8, null, Arrays.asList(1.0), "without its indices"},
        {"no-values", (byte) 1, 8, null, null, "without its values"},
    };
    for (Object[] c : cases) {
      @SuppressWarnings("unchecked")
      Dataset<Row> df = vectorOf((String) c[0], c[1], c[2], (List<Integer>) c[3], (List<Double>) c[4]);
      Exception e = assertThrows(Exception.class, () -> model.transform(df).select("s").collectAsList());
      String message = TestCase.causeOf(e, InvalidInputException.class).getMessage();
      assertTrue(message.contains("column 'v'") && message.contains("model input 'features'")
          && message.contains("row 0") && message.contains((String) c[5]), c[0] + ": " + message);
    }
    assertValidModelScores();
  }

  @Test
  void aFedColumnTheInputHasTwiceIsRefused() {
    TestCase c = TestCase.load("linear");
    Dataset<Row> a = c.dataFrame(spark, 1);
    Dataset<Row> joined = a.join(c.dataFrame(spark, 1), a.col("id").equalTo(a.col("id")));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> c.onnxModel().transform(joined));
    assertTrue(e.getMessage().contains("column 'col_features'") && e.getMessage().contains("more than once"), e.getMessage());
    assertValidModelScores();
  }

  @Test
  void anOutputColumnDifferingFromAnInputOnlyByCaseIsRefused() {
    TestCase c = TestCase.load("linear");
    OnnxModel model = c.onnxModel().setFetchDict(Collections.singletonMap("ID", "score"));
    InvalidInputException e = assertThrows(InvalidInputException.class, () -> model.transform(c.dataFrame(spark, 1)));
    assertTrue(e.getMessage().contains("output column 'ID'") && e.getMessage().contains("as 'id'"), e.getMessage());
    assertValidModelScores();
  }

  @Test
  void confsThatAreNotNumbersOrWouldStallTheJvmAreNamedErrors() {
    SparkConf conf = new SparkConf(false).set("spark.master", "local[2]");
    SparkOrtException threads = assertThrows(SparkOrtException.class,
        () -> ThreadBudget.of(conf.clone().set(ThreadBudget.THREADS_CONF, "100000"), 2));
    assertTrue(threads.getMessage().contains("100000") && threads.getMessage().contains("at most 8"), threads.getMessage());
    SparkOrtException word = assertThrows(SparkOrtException.class,
        () -> ThreadBudget.of(conf.clone().set(ThreadBudget.SESSIONS_CONF, "many"), 2));
    assertTrue(word.getMessage().contains(ThreadBudget.SESSIONS_CONF + " = 'many'"), word.getMessage());
    InvalidInputException memory = assertThrows(InvalidInputException.class,
        () -> ModelNode.memoryBudget(conf.clone().set(ModelNode.MEMORY_CONF, "nope")));
    assertTrue(memory.getMessage().contains(ModelNode.MEMORY_CONF + " = 'nope'"), memory.getMessage());
    InvalidInputException cache = assertThrows(InvalidInputException.class,
        () -> ModelCache.bound(conf.clone().set(ModelCache.BYTES_CONF, "ten gigs")));
    assertTrue(cache.getMessage().contains(ModelCache.BYTES_CONF), cache.getMessage());
    assertValidModelScores();
  }

  @Test
  void aBatchTakesAtMostAnEighthOfTheHeapWhateverTheConfSays() {
    spark.conf().set(BatchBudget.CONF, "2g");
    try {
      long budget = spark.range(1).map((MapFunction<Long, Long>) x -> BatchBudget.forThisTask(), Encoders.LONG())
          .collectAsList().get(0);
      assertEquals(Math.min(2L << 30, Runtime.getRuntime().maxMemory() / 8), budget);
    } finally {
      spark.conf().unset(BatchBudget.CONF);
    }
    assertValidModelScores();
  }

  @Test
  void anUnreachableUriIsAModelLoadErrorNamingIt() {
    TestCase c = TestCase.load("linear");
    String location = "hdfs://no-such-host.invalid:8020/models/m.onnx";
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> c.onnxModel().setModelLocation(location).transform(c.dataFrame(spark, 1)));
    assertTrue(e.getMessage().contains(location), e.getMessage());
    assertValidModelScores();
  }
}
