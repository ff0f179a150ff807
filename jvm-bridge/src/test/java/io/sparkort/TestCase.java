package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;

/**
 * One model with its data and ONNX Runtime Python's outputs, as ci/models.py writes them. Each
 * model input {@code x} becomes a DataFrame column {@code col_x} and each output {@code y} is
 * fetched as {@code out_y}, so the tests exercise the name mappings too. Float outputs must match
 * within {@link #TOLERANCE} relative; integers, booleans and strings exactly.
 */
final class TestCase {
  static final double TOLERANCE = 1e-6;

  /** How a row's input tensor is laid out in its column. */
  enum Layout {
    /** One array<T> of the row's values, row-major; a plain T column when a row is one value. */
    FLAT,
    /** Arrays nested one level per dimension of the row's shape. */
    NESTED
  }

  final String name;
  final File model;
  final JsonNode json;
  final int rows;

  private TestCase(String name) {
    this.name = name;
    File dir = new File(System.getProperty("sparkort.test.models", "build/test-models"));
    this.model = new File(dir, name + ".onnx");
    try {
      this.json = new ObjectMapper().readTree(new File(dir, name + ".json"));
    } catch (IOException e) {
      throw new IllegalStateException("run ci/models.py first: " + e, e);
    }
    this.rows = json.get("rows").asInt();
  }

  /** The suites' {@code local[2]} session: no UI, and 3 shuffle partitions for their few rows. */
  static SparkSession.Builder localSpark(String appName) {
    return SparkSession.builder().master("local[2]").appName(appName).config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "3");
  }

  /**
   * A {@code local-cluster[2,cores,1024]} session: two executor JVMs that load the jar and the test
   * classes through {@code spark.jars} and the bundled ONNX Runtime the build used.
   */
  static SparkSession.Builder localCluster(String appName, int cores) {
    return SparkSession.builder().master("local-cluster[2," + cores + ",1024]").appName(appName)
        .config("spark.ui.enabled", "false")
        .config("spark.jars", System.getProperty("sparkort.test.jars"))
        .config(NativeLoader.ORT_LIBRARY_CONF, System.getProperty("sparkort.test.ort"))
        .config("spark.executor.extraJavaOptions", System.getProperty("sparkort.test.opens"));
  }

  /** Waits (two minutes at most) until both of a local cluster's executors have registered. */
  static void awaitExecutors(SparkSession spark) throws InterruptedException {
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (SparkShim.liveExecutors(spark.sparkContext()).size() < 2) {
      assertTrue(System.nanoTime() < deadline, "executors did not register within two minutes");
      Thread.sleep(100);
    }
  }

  /** The first {@code type} in {@code e}'s cause chain (a failed job keeps the executor's exception as a cause). */
  static <T extends Throwable> T causeOf(Throwable e, Class<T> type) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    throw new AssertionError("no " + type.getSimpleName() + " in the cause chain of " + e, e);
  }

  static TestCase load(String name) {
    return new TestCase(name);
  }

  List<String> inputs() {
    List<String> names = new ArrayList<>();
    json.get("inputs").fieldNames().forEachRemaining(names::add);
    return names;
  }

  List<String> outputs() {
    List<String> names = new ArrayList<>();
    json.get("expected").fieldNames().forEachRemaining(names::add);
    return names;
  }

  JsonNode input(String input) {
    return json.get("inputs").get(input);
  }

  Map<String, String> feedDict() {
    Map<String, String> feed = new LinkedHashMap<>();
    for (String input : inputs()) {
      feed.put(input, "col_" + input);
    }
    return feed;
  }

  Map<String, String> fetchDict() {
    Map<String, String> fetch = new LinkedHashMap<>();
    for (String output : outputs()) {
      fetch.put("out_" + output, output);
    }
    return fetch;
  }

  OnnxModel onnxModel() {
    return new OnnxModel().setModelLocation(model.getAbsolutePath()).setFeedDict(feedDict()).setFetchDict(fetchDict());
  }

  Dataset<Row> dataFrame(SparkSession spark, int partitions) {
    return dataFrame(spark, partitions, Layout.FLAT);
  }

  /** The case's rows with an {@code id} column and one column per input, each holding its dtype's Spark type. */
  Dataset<Row> dataFrame(SparkSession spark, int partitions, Layout layout) {
    List<StructField> fields = new ArrayList<>();
    fields.add(DataTypes.createStructField("id", DataTypes.IntegerType, false));
    for (String input : inputs()) {
      fields.add(DataTypes.createStructField("col_" + input, columnType(input, layout), true));
    }
    List<Row> data = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      Object[] values = new Object[fields.size()];
      values[0] = r;
      int c = 1;
      for (String input : inputs()) {
        values[c++] = cell(input, r, layout);
      }
      data.add(RowFactory.create(values));
    }
    return spark.createDataFrame(data, DataTypes.createStructType(fields)).repartition(partitions);
  }

  /** The Spark type holding one value of an input's dtype (the type sparkort outputs it as, too). */
  static DataType leafType(String dtype) {
    ElementType type = ElementType.fromName(dtype);
    if (type == null) {
      throw new IllegalArgumentException("no Spark type for " + dtype);
    }
    return type.sparkType;
  }

  private long[] shape(String input) {
    JsonNode shape = input(input).get("shape");
    long[] dims = new long[shape.size()];
    for (int i = 0; i < dims.length; i++) {
      dims[i] = shape.get(i).asLong();
    }
    return dims;
  }

  private boolean oneValue(String input) {
    long n = 1;
    for (long d : shape(input)) {
      n *= d;
    }
    return n == 1;
  }

  private DataType columnType(String input, Layout layout) {
    DataType type = leafType(input(input).get("dtype").asText());
    if (oneValue(input)) {
      return type;
    }
    int depth = layout == Layout.NESTED ? shape(input).length : 1;
    for (int i = 0; i < depth; i++) {
      type = DataTypes.createArrayType(type, false);
    }
    return type;
  }

  private Object cell(String input, int row, Layout layout) {
    String dtype = input(input).get("dtype").asText();
    JsonNode values = input(input).get("values").get(row);
    if (oneValue(input)) {
      return value(dtype, values.get(0));
    }
    long[] dims = layout == Layout.NESTED ? shape(input) : new long[] {values.size()};
    return nest(dtype, values, dims, 0, 0);
  }

  private static Object nest(String dtype, JsonNode values, long[] dims, int level, int first) {
    List<Object> list = new ArrayList<>();
    long stride = 1;
    for (int l = level + 1; l < dims.length; l++) {
      stride *= dims[l];
    }
    for (int i = 0; i < dims[level]; i++) {
      int at = first + (int) (i * stride);
      list.add(level == dims.length - 1 ? value(dtype, values.get(at)) : nest(dtype, values, dims, level + 1, at));
    }
    return list;
  }

  /** A JSON value as the Java object Spark's external Row holds for {@link #leafType}. */
  static Object value(String dtype, JsonNode v) {
    switch (dtype) {
      case "float32":
      case "float16":
      case "bfloat16":
        return (float) v.asDouble();
      case "float64":
        return v.asDouble();
      case "int8":
        return (byte) v.asLong();
      case "int16":
      case "uint8":
        return (short) v.asLong();
      case "int32":
      case "uint16":
        return (int) v.asLong();
      case "int64":
      case "uint32":
      case "uint64":
        return v.asLong();
      case "bool":
        return v.asBoolean();
      case "string":
        return v.asText();
      default:
        throw new IllegalArgumentException("no value for " + dtype);
    }
  }

  /** Checks every row of {@code scored} (which has {@code id}) against ONNX Runtime Python's outputs. */
  void assertMatchesOnnxRuntime(List<Row> scored) {
    assertEquals(rows, scored.size(), name + ": every row comes back exactly once");
    boolean[] seen = new boolean[rows];
    for (Row row : scored) {
      int id = row.getInt(row.fieldIndex("id"));
      assertTrue(!seen[id], name + ": row " + id + " came back twice");
      seen[id] = true;
      for (String output : outputs()) {
        assertRowMatches(row, id, output);
      }
    }
  }

  void assertRowMatches(Row row, int id, String output) {
    JsonNode expected = json.get("expected").get(output);
    String where = name + " row " + id + " output " + output;
    Object cell = row.get(row.fieldIndex("out_" + output));
    if (expected.get("dtype").asText().equals("map")) {
      assertMapMatches(cell, expected, id, where);
      return;
    }
    String dtype = expected.get("dtype").asText();
    List<Long> shape = new ArrayList<>();
    List<Object> got = new ArrayList<>();
    flatten(cell, 0, shape, got);
    JsonNode want = expected.get("values").get(id);
    assertEquals(want.size(), got.size(), where + " length");
    if (want.size() > 1) {
      List<Long> expectedShape = new ArrayList<>();
      expected.get("shape").forEach(d -> expectedShape.add(d.asLong()));
      assertEquals(expectedShape, shape, where + " is nested one array per dimension");
    }
    for (int i = 0; i < got.size(); i++) {
      assertSame(dtype, want.get(i), got.get(i), where + "[" + i + "]");
    }
  }

  private static void assertSame(String dtype, JsonNode want, Object got, String where) {
    Object expected = value(dtype, want);
    if (expected instanceof Float || expected instanceof Double) {
      double w = want.asDouble();
      double g = ((Number) got).doubleValue();
      assertTrue(Math.abs(g - w) <= TOLERANCE * Math.max(1, Math.abs(w)),
          where + ": sparkort " + g + ", ONNX Runtime Python " + w);
    } else {
      assertEquals(expected, got, where + ": sparkort vs ONNX Runtime Python");
    }
  }

  private static void assertMapMatches(Object cell, JsonNode expected, int id, String where) {
    assertTrue(cell instanceof scala.collection.Map, where + " is a map: " + cell);
    Map<Object, Object> got = new HashMap<>();
    scala.collection.Iterator<?> entries = ((scala.collection.Map<?, ?>) cell).iterator();
    while (entries.hasNext()) {
      scala.Tuple2<?, ?> entry = (scala.Tuple2<?, ?>) entries.next();
      got.put(entry._1(), entry._2());
    }
    JsonNode pairs = expected.get("values").get(id);
    assertEquals(pairs.size(), got.size(), where + " entries");
    for (JsonNode pair : pairs) {
      Object key = value(expected.get("key").asText(), pair.get(0));
      assertTrue(got.containsKey(key), where + " has key " + key + ": " + got);
      assertSame(expected.get("value").asText(), pair.get(1), got.get(key), where + "[" + key + "]");
    }
  }

  /** Flattens a (nested) array cell row-major into {@code out}, recording each level's length. */
  private static void flatten(Object cell, int level, List<Long> shape, List<Object> out) {
    Iterable<?> items = null;
    if (cell instanceof scala.collection.Seq) {
      List<Object> list = new ArrayList<>();
      scala.collection.Iterator<?> it = ((scala.collection.Seq<?>) cell).iterator();
      while (it.hasNext()) {
        list.add(it.next());
      }
      items = list;
    } else if (cell instanceof List) {
      items = (List<?>) cell;
    }
    if (items == null) {
      out.add(cell);
      return;
    }
    List<Object> list = new ArrayList<>();
    items.forEach(list::add);
    if (shape.size() == level) {
      shape.add((long) list.size());
    }
    for (Object item : list) {
      flatten(item, level + 1, shape, out);
    }
  }
}
