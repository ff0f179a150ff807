package io.sparkort;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkContext;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.StructType;
import scala.Option;

/**
 * Scores a DataFrame with an ONNX model inside the executors. {@code transform} returns every input
 * column plus one column per fetched model output.
 *
 * <pre>{@code
 * Dataset<Row> scored = new OnnxModel()
 *     .setModelLocation("/models/mlp.onnx")
 *     .setFeedDict(Collections.singletonMap("features", "features"))
 *     .setFetchDict(Collections.singletonMap("probabilities", "probabilities"))
 *     .transform(df);
 * }</pre>
 */
public class OnnxModel extends Transformer implements MLWritable {
  private static final long serialVersionUID = 1L;

  private final String uid;

  // Spark ML finds params through public no-argument methods returning Param (Scala's accessors),
  // so each field has a method of the same name.
  private final Param<String> modelLocation;
  private final StringMapParam feedDict;
  private final StringMapParam fetchDict;
  private final IntParam batchSize;
  private transient ScoringMetrics metrics;
  private final Param<String> handleNulls;

  public OnnxModel() {
    this(Identifiable$.MODULE$.randomUID("OnnxModel"));
  }

  public OnnxModel(String uid) {
    this.uid = uid;
    modelLocation = new Param<>(this, "modelLocation", "local path or Hadoop-FS URI of the ONNX model");
    feedDict = new StringMapParam(this, "feedDict", "ONNX input name -> column name");
    fetchDict = new StringMapParam(this, "fetchDict",
        "output column name -> ONNX output name; empty = every output under its own name");
    batchSize = new IntParam(this, "batchSize", "rows per native call, 1 to 2147483647, or 0 (the default) for as"
        + " many as make about 4 MiB of the model's tensors (16 to 65536 rows); a batch also ends at "
        + BatchBudget.CONF + " bytes", ParamValidators.inRange(0, Integer.MAX_VALUE));
    handleNulls = new Param<>(this, "handleNulls",
        "a row with a null input: 'error' fails the job naming the row, 'keep' gives it null outputs",
        ParamValidators.inArray(new String[] {"error", "keep"}));
    setDefault(feedDict, Collections.<String, String>emptyMap());
    setDefault(fetchDict, Collections.<String, String>emptyMap());
    setDefault(batchSize, ScoringPlan.AUTO_BATCH);
    setDefault(handleNulls, "error");
  }

  @Override
  public String uid() {
    return uid;
  }

  /** Local path or any Hadoop-FS URI of the .onnx file. */
  public Param<String> modelLocation() {
    return modelLocation;
  }

  /** ONNX input name -> DataFrame column feeding it (or several scalar columns, separated by commas). */
  public StringMapParam feedDict() {
    return feedDict;
  }

  /** Output column name -> ONNX output name; empty means every model output under its own name. */
  public StringMapParam fetchDict() {
    return fetchDict;
  }

  /**
   * Rows per native call, 1 to 2147483647 (default 1024). Memory follows the rows that come, not
   * this number: a batch also ends at the row that would take it past {@value BatchBudget#CONF}
   * bytes (64 MiB by default).
   */
  public IntParam batchSize() {
    return batchSize;
  }

  /** What a row with a null input gets: "error" (the default) fails the job, "keep" gives null outputs. */
  public Param<String> handleNulls() {
    return handleNulls;
  }

  public OnnxModel setModelLocation(String value) {
    set(modelLocation, value);
    return this;
  }

  public String getModelLocation() {
    return getOrDefault(modelLocation);
  }

  public OnnxModel setFeedDict(Map<String, String> value) {
    set(feedDict, new LinkedHashMap<>(value));
    return this;
  }

  public Map<String, String> getFeedDict() {
    return getOrDefault(feedDict);
  }

  public OnnxModel setFetchDict(Map<String, String> value) {
    set(fetchDict, new LinkedHashMap<>(value));
    return this;
  }

  public Map<String, String> getFetchDict() {
    return getOrDefault(fetchDict);
  }

  public OnnxModel setBatchSize(int value) {
    set(batchSize, value);
    return this;
  }

  public int getBatchSize() {
    return (Integer) getOrDefault(batchSize);
  }

  public OnnxModel setHandleNulls(String value) {
    set(handleNulls, value);
    return this;
  }

  public String getHandleNulls() {
    return getOrDefault(handleNulls);
  }

  /** The model's inputs and outputs, read on the driver (from the .onnx file, not its external data). */
  public ModelSignature signature() {
    return resolveModel(hadoopConfiguration()).signature(new String[0]);
  }

  /**
   * Loads the model on every live executor now, before any data arrives, with every session the
   * executor's thread budget allows; scoring afterwards pays no load time.
   *
   * @return per executor reached: host, load time, sessions, resident memory after the load
   */
  public List<ModelReservation> reserve(SparkSession spark) {
    SparkContext context = spark.sparkContext();
    ModelSource source = resolveModel(context.hadoopConfiguration());
    String[] outputs = intermediateOutputs(source);
    return ModelReservation.reserve(context, source.shipTo(spark), outputs, metrics(context));
  }

  /**
   * Rows scored, batches, time in the model, model loads and their time, over every job this model
   * has scored in the active SparkContext (the same figures are accumulators in the Spark UI).
   */
  public ScoringMetrics metrics() {
    Option<SparkSession> active = SparkSession.getActiveSession();
    if (!active.isDefined()) {
      throw new SparkOrtException("metrics are kept in a SparkContext, and there is no active SparkSession");
    }
    return metrics(active.get().sparkContext());
  }

  synchronized ScoringMetrics metrics(SparkContext context) {
    if (metrics == null || !metrics.belongsTo(context)) {
      metrics = new ScoringMetrics(context, uid);
    }
    return metrics;
  }

  @Override
  public StructType transformSchema(StructType schema) {
    return plan(schema, resolveModel(hadoopConfiguration())).outputSchema;
  }

  /**
   * A DataFrame of {@code dataset}'s rows with the model's predictions: a plan node of sparkort's
   * over {@code dataset}'s plan, so it stays lazy (this runs no Spark job), re-planned from the input
   * on every action, optimized with it, and streamable. The model is read and shipped now: every
   * action scores with the model as it was here.
   */
  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    SparkSession session = dataset.sparkSession();
    SparkContext context = session.sparkContext();
    ModelSource source = resolveModel(context.hadoopConfiguration());
    // Validated on the driver now; the executors' plan is made again for the child Spark leaves.
    ScoringPlan plan = plan(dataset.schema(), source);
    ScoringRequest request = new ScoringRequest(getModelLocation(), source.shipTo(session), getFeedDict(),
        getFetchDict(), getBatchSize(), plan.keepNulls, plan.extraOutputs, metrics(context));
    return SparkShim.ofRows(session, OnnxScore.over(SparkShim.logicalPlan(dataset), plan, request));
  }

  @Override
  public OnnxModel copy(ParamMap extra) {
    return (OnnxModel) defaultCopy(extra);
  }

  /** Saves params and the model's bytes, so the loaded stage needs no original file. */
  @Override
  public MLWriter write() {
    return new OnnxModelPersistence.Writer(this);
  }

  /** Spark ML (Java {@code PipelineModel.load}, PySpark) finds a stage's reader by this name. */
  public static MLReader<OnnxModel> read() {
    return new OnnxModelPersistence.Reader();
  }

  public static OnnxModel load(String path) {
    return read().load(path);
  }

  private ScoringPlan plan(StructType schema, ModelSource source) {
    String[] outputs = intermediateOutputs(source);
    return ScoringPlan.create(schema, source.signature(outputs), outputs, getFeedDict(), getFetchDict(),
        "keep".equals(getHandleNulls()));
  }

  /** The fetchDict names that are not model outputs: tensors inside the graph, exposed by cutting it. */
  private String[] intermediateOutputs(ModelSource source) {
    return intermediateOutputs(source, getFetchDict().values());
  }

  /** Those of {@code fetched} that are not model outputs. */
  static String[] intermediateOutputs(ModelSource source, java.util.Collection<String> fetched) {
    ModelSignature own = source.signature(new String[0]);
    List<String> outputs = new ArrayList<>();
    for (String name : fetched) {
      if (own.output(name) == null && !outputs.contains(name)) {
        outputs.add(name);
      }
    }
    return outputs.toArray(new String[0]);
  }

  ModelSource resolveModel(Configuration hadoopConf) {
    if (!isDefined(modelLocation)) {
      throw new ModelLoadException("modelLocation is not set");
    }
    return ModelSource.resolve(getModelLocation(), hadoopConf);
  }

  private static Configuration hadoopConfiguration() {
    Option<SparkSession> active = SparkSession.getActiveSession();
    return active.isDefined() ? active.get().sparkContext().hadoopConfiguration() : new Configuration();
  }
}
