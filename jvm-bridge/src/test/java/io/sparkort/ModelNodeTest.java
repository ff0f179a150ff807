package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.BarrierTaskContext;
import org.apache.spark.api.java.function.Function2;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.scheduler.AccumulableInfo;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import scala.collection.JavaConverters;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * The model node on {@code local[2]}, where the driver JVM is the one executor with two task slots:
 * concurrent tasks share one load and give the bits of a serial run; the metrics count what ran.
 */
class ModelNodeTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = TestCase.localSpark("sparkort-model-node-test").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /**
   * A graph ONNX Runtime refuses when it builds a session (an operator it has no kernel for), opened
   * as an executor opens it, with no driver having read its signature first: a model that cannot be
   * loaded, not a failure to run it.
   */
  @Test
  void aModelWhoseSessionCannotBeBuiltIsAModelLoadFailure() {
    File model = new File(TestCase.load("linear").model.getParentFile(), "hostile/unknown_operator/model.onnx");
    assertTrue(model.isFile(), "run ci/models.py: " + model);
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> ModelNode.open(model.getPath(), new ThreadBudget(1, 1), new String[0]).close());
    assertTrue(e.getMessage().contains(model.getPath()) && e.getMessage().contains("NoSuchOperator"), e.getMessage());
    assertFalse(e.getMessage().contains("failed to run"), e.getMessage());
  }

  /**
   * The native registry knows a model by the key the JVM opens it with ({@link ModelSource#key},
   * which names its cache folder too), not by its path: the same key from another path is the node
   * already open, another key for the same file is another node, and a file that is not the .onnx
   * file the key comes with is refused. A model without external data opened by path alone is
   * hashed by the native library to the same key.
   */
  @Test
  void theNativeRegistryKnowsAModelByTheJvmsKey() throws Exception {
    TestCase c = TestCase.load("mlp");
    File model = TestModels.variant(c, 91);
    File copy = new File(model.getParentFile(), "copy-" + model.getName());
    java.nio.file.Files.copy(model.toPath(), copy.toPath());
    ModelSource source = ModelSource.resolve(model.getPath(), spark.sparkContext().hadoopConfiguration());
    String otherKey = ModelSource.contentKey(source.sha256, Arrays.asList("another\tcontent"));
    ThreadBudget one = new ThreadBudget(1, 1);
    String[] none = new String[0];
    try (ModelNode first = ModelNode.open(model.getPath(), source.key, source.sha256, one, none);
        ModelNode sameKey = ModelNode.open(copy.getPath(), source.key, source.sha256, one, none);
        ModelNode other = ModelNode.open(model.getPath(), otherKey, source.sha256, one, none)) {
      assertTrue(first.loadNanos() > 0, "the first open loads");
      assertEquals(0, sameKey.loadNanos(), "the same key from another path is the node already open");
      assertEquals(1, sameKey.stats().loads);
      assertTrue(other.loadNanos() > 0, "another key for the same file is another node");
      // Without external data a model's key is its .onnx file's SHA-256, as the native library hashes it.
      assertEquals(source.sha256, source.key);
      try (ModelNode byPath = ModelNode.open(copy.getPath(), one, none)) {
        assertEquals(0, byPath.loadNanos(), "the file opened by path alone is the node its key names");
      }
    }
    String wrongSha = source.sha256.replace(source.sha256.charAt(0), source.sha256.charAt(0) == '0' ? '1' : '0');
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> ModelNode.open(model.getPath(), ModelSource.contentKey(wrongSha, Arrays.asList("x")), wrongSha, one, none)
            .close());
    assertTrue(e.getMessage().contains("SHA-256 is " + source.sha256) && e.getMessage().contains(model.getPath()),
        e.getMessage());
  }

  @Test
  void twoTasksScoringConcurrentlyOnOneExecutorGiveTheBitsOfASerialRun() {
    TestCase c = TestCase.load("mlp");
    File model = TestModels.variant(c, 1);
    // Twenty copies of each row, keyed by copy: enough batches per task that both run at once for a while.
    Dataset<Row> input = c.dataFrame(spark, 1).crossJoin(spark.range(20).withColumnRenamed("id", "copy"))
        .repartition(2).cache();
    long rows = input.count();
    Dataset<Row> scored = c.onnxModel().setModelLocation(model.getPath()).setBatchSize(2).transform(input);

    // Serial: one job per partition; the other partition's task returns without scoring.
    Map<String, String> serial = new HashMap<>();
    for (int p = 0; p < 2; p++) {
      for (String row : scored.toJavaRDD().mapPartitionsWithIndex(new OnlyPartition(p), false).collect()) {
        serial.put(row.split(":")[0], row);
      }
    }
    // Concurrent: a barrier stage starts both tasks together and lets neither score before both run.
    List<String> concurrent = Arrays.asList((String[]) scored.rdd().barrier()
        .mapPartitions(new AfterBarrier(), false, ClassTag$.MODULE$.apply(String.class)).collect());
    assertEquals(rows, serial.size());
    assertEquals(rows, concurrent.size());
    for (String row : concurrent) {
      assertEquals(serial.get(row.split(":")[0]), row, "bit for bit");
    }
    c.assertMatchesOnnxRuntime(scored.where("copy = 7").collectAsList());

    try (ModelNode node = openedHere(model)) {
      ModelNode.Stats stats = node.stats();
      assertEquals(1, stats.loads, "one load for every task and job");
      assertEquals(2, stats.sessions, "one session per task slot");
      assertEquals(2, stats.peakConcurrentRuns, "the two tasks ran batches at the same time");
    }
    input.unpersist();
  }

  @Test
  void metricsCountWhatRanAndShowInTheStatusStore() throws Exception {
    TestCase c = TestCase.load("unseen_mlp");
    OnnxModel model = c.onnxModel().setModelLocation(TestModels.variant(c, 2).getPath()).setBatchSize(50);
    Dataset<Row> input = c.dataFrame(spark, 3);
    c.assertMatchesOnnxRuntime(model.transform(input).collectAsList());
    c.assertMatchesOnnxRuntime(model.transform(input).collectAsList());
    ScoringMetrics metrics = model.metrics();
    assertEquals(2L * c.rows, metrics.rowsScored());
    assertTrue(metrics.batches() >= 2L * c.rows / 50 && metrics.batches() <= 2L * (c.rows / 50 + 3), metrics.toString());
    assertTrue(metrics.modelNanos() > 0, metrics.toString());
    assertEquals(1, metrics.modelLoads(), "loaded once, by the first task: " + metrics);
    assertTrue(metrics.modelLoadNanos() > 0, metrics.toString());

    // What the Spark UI shows: each stage's named accumulators, as the listener bus reports them.
    StageAccumulators stages = new StageAccumulators("sparkort " + model.uid() + ": rows scored");
    spark.sparkContext().addSparkListener(stages);
    model.transform(input).collectAsList();
    spark.sparkContext().listenerBus().waitUntilEmpty();
    spark.sparkContext().removeSparkListener(stages);
    assertEquals(3L * c.rows, stages.latest, "the stage page lists the accumulator with its running total");
  }

  @Test
  void reservationLoadsBeforeDataSoScoringPaysNoLoadTime() {
    TestCase c = TestCase.load("linear");
    OnnxModel model = c.onnxModel().setModelLocation(TestModels.variant(c, 3).getPath());
    List<ModelReservation> reserved = model.reserve(spark);
    assertEquals(1, reserved.size(), "local mode has one executor: " + reserved);
    ModelReservation here = reserved.get(0);
    assertEquals("driver", here.executorId());
    assertTrue(here.loadedByReservation(), here.toString());
    assertEquals(2, here.sessions(), "every task slot's session is built: " + here);
    assertTrue(here.loadMillis() > 0 && here.residentBytes() > 0, here.toString());
    long loadNanos = model.metrics().modelLoadNanos();
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    assertEquals(1, model.metrics().modelLoads(), "only the reservation loaded");
    assertEquals(loadNanos, model.metrics().modelLoadNanos(), "scoring paid no load time");
    assertTrue(!model.reserve(spark).get(0).loadedByReservation(), "a second reservation finds it loaded");
  }

  /** The node scoring used on this JVM, through the same cache path tasks open. */
  static ModelNode openedHere(File model) {
    ModelSource source = ModelSource.resolve(model.getPath(), spark.sparkContext().hadoopConfiguration());
    return ModelNode.open(source, new String[0], new long[1]);
  }

  /** "id/copy:bits of every output value", exact. */
  static String describe(Row row) {
    StringBuilder s = new StringBuilder().append(row.getInt(row.fieldIndex("id"))).append('/')
        .append(row.getLong(row.fieldIndex("copy"))).append(':');
    for (Object v : row.getList(row.fieldIndex("out_probabilities"))) {
      s.append(Integer.toHexString(Float.floatToIntBits((Float) v))).append(',');
    }
    return s.toString();
  }

  /** The value a named accumulator had at the end of the last stage that updated it. */
  static final class StageAccumulators extends SparkListener {
    private final String name;
    volatile long latest = -1;

    StageAccumulators(String name) {
      this.name = name;
    }

    @Override
    public void onStageCompleted(SparkListenerStageCompleted completed) {
      for (AccumulableInfo info : JavaConverters.asJavaCollectionConverter(completed.stageInfo().accumulables().values()).asJavaCollection()) {
        if (info.name().isDefined() && info.name().get().equals(name) && info.value().isDefined()) {
          latest = Long.parseLong(info.value().get().toString());
        }
      }
    }
  }

  static final class OnlyPartition implements Function2<Integer, Iterator<Row>, Iterator<String>> {
    private static final long serialVersionUID = 1L;
    private final int partition;

    OnlyPartition(int partition) {
      this.partition = partition;
    }

    @Override
    public Iterator<String> call(Integer index, Iterator<Row> rows) {
      List<String> out = new ArrayList<>();
      while (index == partition && rows.hasNext()) {
        out.add(describe(rows.next()));
      }
      return out.iterator();
    }
  }

  static final class AfterBarrier
      extends AbstractFunction1<scala.collection.Iterator<Row>, scala.collection.Iterator<String>> implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public scala.collection.Iterator<String> apply(scala.collection.Iterator<Row> rows) {
      BarrierTaskContext.get().barrier();
      List<String> out = new ArrayList<>();
      while (rows.hasNext()) {
        out.add(describe(rows.next()));
      }
      return JavaConverters.asScalaIteratorConverter(out.iterator()).asScala();
    }
  }
}
