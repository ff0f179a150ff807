package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
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
import org.apache.spark.sql.types.StructType;

/**
 * One model with its data and ONNX Runtime Python's outputs, as ci/models.py writes them. Each
 * model input {@code x} becomes a DataFrame column {@code col_x} and each output {@code y} is
 * fetched as {@code out_y}, so the tests exercise the name mappings too.
 */
final class TestCase {
  static final double TOLERANCE = 1e-5;

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

  /**
   * The case's rows with an {@code id} column: float32 inputs as array<float>, float64 as
   * array<double>, int64 as one bigint per row.
   */
  Dataset<Row> dataFrame(SparkSession spark, int partitions) {
    List<StructField> fields = new ArrayList<>();
    fields.add(DataTypes.createStructField("id", DataTypes.IntegerType, false));
    for (String input : inputs()) {
      fields.add(DataTypes.createStructField("col_" + input, columnType(input), true));
    }
    List<Row> data = new ArrayList<>();
    for (int r = 0; r < rows; r++) {
      Object[] values = new Object[fields.size()];
      values[0] = r;
      int c = 1;
      for (String input : inputs()) {
        values[c++] = cell(input, json.get("inputs").get(input).get("values").get(r));
      }
      data.add(RowFactory.create(values));
    }
    return spark.createDataFrame(data, DataTypes.createStructType(fields)).repartition(partitions);
  }

  private DataType columnType(String input) {
    String dtype = json.get("inputs").get(input).get("dtype").asText();
    switch (dtype) {
      case "float32":
        return DataTypes.createArrayType(DataTypes.FloatType, false);
      case "float64":
        return DataTypes.createArrayType(DataTypes.DoubleType, false);
      case "int64":
        return DataTypes.LongType;
      default:
        throw new IllegalArgumentException("no column type for " + dtype);
    }
  }

  private Object cell(String input, JsonNode row) {
    String dtype = json.get("inputs").get(input).get("dtype").asText();
    if (dtype.equals("int64")) {
      return row.get(0).asLong();
    }
    List<Object> list = new ArrayList<>();
    for (JsonNode v : row) {
      list.add(dtype.equals("float32") ? (Object) (float) v.asDouble() : (Object) v.asDouble());
    }
    return list;
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
        JsonNode want = json.get("expected").get(output).get("values").get(id);
        List<Double> values = numbers(row, row.fieldIndex("out_" + output));
        assertEquals(want.size(), values.size(), name + " row " + id + " output " + output + " length");
        for (int i = 0; i < values.size(); i++) {
          double w = want.get(i).asDouble();
          double g = values.get(i);
          assertTrue(Math.abs(g - w) <= TOLERANCE * (1 + Math.abs(w)),
              name + " row " + id + " output " + output + "[" + i + "]: sparkort " + g + ", ONNX Runtime Python " + w);
        }
      }
    }
  }

  private static List<Double> numbers(Row row, int field) {
    List<Double> out = new ArrayList<>();
    Object cell = row.get(field);
    if (cell instanceof Number) {
      out.add(((Number) cell).doubleValue());
      return out;
    }
    for (Object v : row.getList(field)) {
      out.add(((Number) v).doubleValue());
    }
    return out;
  }
}
