package io.sparkort;

import static org.apache.spark.sql.functions.col;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code onnx_predict} and registered models' functions in SQL, {@code selectExpr} and the Column API
 * of {@link functions}, in a session with only the extension conf: every case's predictions equal
 * ONNX Runtime Python's, calls score in the one plan node (the same model called twice scores
 * once), and mistakes fail at analysis, naming the function, the argument and the model input.
 */
class SqlFunctionTest {
  private static SparkSession spark;
  private static File scratch;

  @BeforeAll
  static void startSpark() throws IOException {
    spark = TestCase.localSpark("sparkort-sql").config("spark.sql.extensions", SparkOrtExtensions.class.getName())
        .getOrCreate();
    scratch = Files.createTempDirectory("sparkort-sql").toFile();
  }

  @AfterAll
  static void stopSpark() throws IOException {
    spark.stop();
    PlanNodeTest.delete(scratch);
  }

  private static String quoted(File model) {
    return "'" + model.getAbsolutePath().replace("'", "\\'") + "'";
  }

  /** {@code c}'s model inputs, as columns, in the model's order. */
  private static List<String> inputColumns(TestCase c) {
    return c.onnxModel().signature().inputs.stream().map(t -> "col_" + t.name).collect(Collectors.toList());
  }

  /** The SELECT list that names each output as TestCase expects ({@code out_y}) from a call's result {@code p}. */
  private static String outputsOf(TestCase c, String p) {
    List<String> outputs = c.outputs();
    if (outputs.size() == 1) {
      return p + " AS out_" + outputs.get(0);
    }
    return outputs.stream().map(o -> p + "." + o + " AS out_" + o).collect(Collectors.joining(", "));
  }

  @Test
  void everyKindOfModelScoresFromSqlAsOnnxRuntimeDoes() {
    for (String name : Arrays.asList("linear", "mlp", "two_inputs", "zipmap", "scalar_in", "double_affine",
        "passthrough_string", "passthrough_int8", "passthrough_bool")) {
      TestCase c = TestCase.load(name);
      c.dataFrame(spark, 3).createOrReplaceTempView("t_" + name);
      String call = "onnx_predict(" + quoted(c.model) + ", " + String.join(", ", inputColumns(c)) + ")";
      Dataset<Row> scored = spark.sql("SELECT id, " + outputsOf(c, "p") + " FROM (SELECT id, " + call + " AS p FROM t_"
          + name + ")");
      c.assertMatchesOnnxRuntime(scored.collectAsList());
      List<LogicalPlan> plan = Plans.nodes(Plans.optimizedPlan(scored));
      assertEquals(1, plan.stream().filter(n -> n instanceof OnnxScore).count(), name + ": one scoring node " + plan);
    }
  }

  @Test
  void selectExprAndTheColumnApiScoreThroughTheSameNode() {
    TestCase c = TestCase.load("mlp");
    Dataset<Row> df = c.dataFrame(spark, 2);
    String path = c.model.getAbsolutePath();
    List<Dataset<Row>> ways = Arrays.asList(
        df.selectExpr("id", "onnx_predict(" + quoted(c.model) + ", col_features) AS out_probabilities"),
        df.withColumn("out_probabilities", functions.onnxPredict(path, col("col_features"))),
        df.select(col("id"), functions.onnxPredict(c.onnxModel()).alias("out_probabilities")),
        df.select(col("id"), org.apache.spark.sql.functions.expr("onnx_predict(" + quoted(c.model) + ", col_features)")
            .alias("out_probabilities")));
    for (Dataset<Row> scored : ways) {
      c.assertMatchesOnnxRuntime(scored.collectAsList());
      assertEquals(1, Plans.find(Plans.executedPlan(scored), OnnxScoreExec.class).size(), Plans.executedPlan(scored).toString());
    }
  }

  @Test
  void twoCallsOfTheSameModelScoreOnce() {
    TestCase c = TestCase.load("linear");
    c.dataFrame(spark, 2).createOrReplaceTempView("twice");
    String call = "onnx_predict(" + quoted(c.model) + ", col_features)";
    Dataset<Row> scored = spark.sql("SELECT id, " + call + " AS out_score, " + call + " * 2 AS doubled FROM twice");
    List<Row> rows = scored.collectAsList();
    c.assertMatchesOnnxRuntime(rows);
    for (Row row : rows) {
      float score = row.getFloat(row.fieldIndex("out_score"));
      assertEquals(score * 2.0, ((Number) row.get(row.fieldIndex("doubled"))).doubleValue(), 1e-6);
    }
    List<OnnxScoreExec> nodes = Plans.find(Plans.executedPlan(scored), OnnxScoreExec.class);
    assertEquals(1, nodes.size(), "one scoring node: " + Plans.executedPlan(scored));
    assertEquals(c.rows, nodes.get(0).nodeMetrics().scoredRows.value(), "each row scored once");
  }

  @Test
  void whereGroupByOrderByAndAggregatesTakeCallsToo() {
    TestCase c = TestCase.load("linear");
    c.dataFrame(spark, 3).createOrReplaceTempView("lin");
    String score = "onnx_predict(" + quoted(c.model) + ", col_features)";
    List<Row> transformed = c.onnxModel().transform(spark.table("lin")).collectAsList();
    double sum = 0;
    long positive = 0;
    for (Row row : transformed) {
      float s = row.getFloat(row.fieldIndex("out_score"));
      sum += s;
      positive += s > 0 ? 1 : 0;
    }
    assertEquals(positive, spark.sql("SELECT id FROM lin WHERE " + score + " > 0").count());
    Row agg = spark.sql("SELECT sum(" + score + "), count(*) FROM lin").first();
    assertEquals(sum, agg.getDouble(0), 1e-3);
    assertEquals(c.rows, agg.getLong(1));
    long groups = spark.sql("SELECT " + score + " > 0 AS pos, count(*) FROM lin GROUP BY " + score + " > 0").count();
    assertEquals(positive > 0 && positive < c.rows ? 2 : 1, groups);
    List<Row> ordered = spark.sql("SELECT id, " + score + " AS s FROM lin ORDER BY " + score + " DESC").collectAsList();
    for (int i = 1; i < ordered.size(); i++) {
      assertTrue(ordered.get(i - 1).getFloat(1) >= ordered.get(i).getFloat(1), "sorted by the prediction");
    }
    List<Row> sortedOnly = spark.sql("SELECT id FROM lin ORDER BY " + score + " DESC").collectAsList();
    assertEquals(ordered.stream().map(r -> r.getInt(0)).collect(Collectors.toList()),
        sortedOnly.stream().map(r -> r.getInt(0)).collect(Collectors.toList()));
    assertEquals(Arrays.asList("id"), Arrays.asList(spark.sql("SELECT id FROM lin ORDER BY " + score).columns()));
  }

  @Test
  void aRegisteredModelIsAFunctionWithItsParams() {
    TestCase c = TestCase.load("two_inputs");
    c.dataFrame(spark, 2).createOrReplaceTempView("pairs");
    OnnxModel model = c.onnxModel().setBatchSize(7);
    functions.register(spark, "pair_model", model);
    List<String> feeds = new ArrayList<>(model.getFeedDict().values());
    Dataset<Row> scored = spark.sql("SELECT id, p.out_sum, p.out_norm FROM (SELECT id, pair_model("
        + String.join(", ", feeds) + ") AS p FROM pairs)");
    c.assertMatchesOnnxRuntime(scored.collectAsList());
    String node = Plans.find(Plans.executedPlan(scored), OnnxScoreExec.class).get(0).simpleString(100);
    assertTrue(node.contains("batchSize 7"), node);

    assertTrue(spark.sql("SHOW FUNCTIONS LIKE 'pair_model'").collectAsList().toString().contains("pair_model"));
    assertTrue(spark.sql("SHOW FUNCTIONS LIKE 'onnx_predict'").collectAsList().toString().contains("onnx_predict"));
    String described = spark.sql("DESCRIBE FUNCTION pair_model").collectAsList().toString();
    assertTrue(described.contains(c.model.getAbsolutePath()) && described.contains("batchSize 7"), described);
    String onnxPredict = spark.sql("DESCRIBE FUNCTION EXTENDED onnx_predict").collectAsList().toString();
    assertTrue(onnxPredict.contains("onnx_predict(model, input...)") && onnxPredict.contains("modelLocation"), onnxPredict);

    InvalidInputException arity = assertThrows(InvalidInputException.class,
        () -> spark.sql("SELECT pair_model(col_a) FROM pairs"));
    assertTrue(arity.getMessage().contains("pair_model(...)") && arity.getMessage().contains("takes 2 arguments"),
        arity.getMessage());
  }

  @Test
  void mistakesFailAtAnalysisNamingTheFunctionArgumentAndInput() {
    TestCase c = TestCase.load("two_inputs");
    c.dataFrame(spark, 1).withColumn("text", org.apache.spark.sql.functions.lit("x"))
        .createOrReplaceTempView("mistakes");
    String model = quoted(c.model);

    ModelLoadException missing = assertThrows(ModelLoadException.class,
        () -> spark.sql("SELECT onnx_predict('/no/such/model.onnx', col_a, col_b) FROM mistakes"));
    assertTrue(missing.getMessage().startsWith("onnx_predict('/no/such/model.onnx', ...): ")
        && missing.getMessage().contains("/no/such/model.onnx"), missing.getMessage());

    InvalidInputException arity = assertThrows(InvalidInputException.class,
        () -> spark.sql("SELECT onnx_predict(" + model + ", col_a) FROM mistakes"));
    assertTrue(arity.getMessage().contains("one argument per model input") && arity.getMessage().contains("'a'")
        && arity.getMessage().contains("'b'") && arity.getMessage().contains("got 1 input argument"), arity.getMessage());

    InvalidInputException type = assertThrows(InvalidInputException.class,
        () -> spark.sql("SELECT onnx_predict(" + model + ", text, col_b) FROM mistakes"));
    assertTrue(type.getMessage().startsWith("onnx_predict(") && type.getMessage().contains("argument 1 (text)")
        && type.getMessage().contains("model input 'a'") && type.getMessage().contains("float"), type.getMessage());

    InvalidInputException output = assertThrows(InvalidInputException.class,
        () -> spark.sql("SELECT onnx_predict(map('modelLocation', " + model + ", 'output.s', 'no_such_output'), col_a, "
            + "col_b) FROM mistakes"));
    assertTrue(output.getMessage().contains("no_such_output"), output.getMessage());

    InvalidInputException option = assertThrows(InvalidInputException.class,
        () -> spark.sql("SELECT onnx_predict(map('modelLocation', " + model + ", 'batchsize', '8'), col_a, col_b) "
            + "FROM mistakes"));
    assertTrue(option.getMessage().contains("unknown option 'batchsize'"), option.getMessage());

    InvalidInputException notLiteral = assertThrows(InvalidInputException.class,
        () -> spark.sql("SELECT onnx_predict(text, col_a, col_b) FROM mistakes"));
    assertTrue(notLiteral.getMessage().contains("first argument is the model"), notLiteral.getMessage());

    InvalidInputException overAggregate = assertThrows(InvalidInputException.class,
        () -> spark.sql("SELECT onnx_predict(" + model + ", first(col_a), first(col_b)) FROM mistakes"));
    assertTrue(overAggregate.getMessage().contains("is an aggregate"), overAggregate.getMessage());
  }

  @Test
  void optionsMapNamesInputsAndOutputs() {
    TestCase c = TestCase.load("two_inputs");
    c.dataFrame(spark, 2).createOrReplaceTempView("named");
    // The arguments in the other order than the model's, each named.
    Dataset<Row> scored = spark.sql("SELECT id, p.out_sum, p.out_norm FROM (SELECT id, onnx_predict(map('modelLocation', "
        + quoted(c.model) + ", 'input.1', 'b', 'input.2', 'a', 'output.out_sum', 'sum', 'output.out_norm', 'norm', "
        + "'batchSize', '5'), col_b, col_a) AS p FROM named)");
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  @Test
  void aStreamingQueryScoresThroughSelectExpr() throws Exception {
    TestCase c = TestCase.load("linear");
    File source = new File(scratch, "stream-in");
    c.dataFrame(spark, 2).write().parquet(source.getPath());
    Dataset<Row> stream = spark.readStream().schema(spark.read().parquet(source.getPath()).schema())
        .parquet(source.getPath())
        .selectExpr("id", "onnx_predict(" + quoted(c.model) + ", col_features) AS out_score");
    StreamingQuery query = stream.writeStream().format("memory").queryName("sql_stream")
        .option("checkpointLocation", new File(scratch, "stream-checkpoint").getPath()).start();
    query.processAllAvailable();
    query.stop();
    c.assertMatchesOnnxRuntime(spark.table("sql_stream").collectAsList());
  }
}
