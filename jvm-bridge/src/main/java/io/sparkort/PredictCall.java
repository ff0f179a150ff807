package io.sparkort;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import org.apache.spark.SparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * What one SQL call of a model resolved to at analysis: the shipped model, which model input each
 * argument feeds, which outputs it returns under which names, and the call's result type (the one
 * output's type, or a struct of the outputs by name). Made by {@link #resolve}, which checks the
 * arguments against the model's signature before any task runs, with the same rules as
 * {@code OnnxModel.transform}; {@link #request} is the scoring node's request over real columns.
 */
final class PredictCall implements Serializable {
  private static final long serialVersionUID = 1L;
  /** Metrics of {@code onnx_predict} calls, one set per SparkContext and model location. */
  private static final Map<SparkContext, Map<String, ScoringMetrics>> SQL_METRICS = new WeakHashMap<>();

  /** The function's name, for SQL text and messages. */
  final String function;
  /** A registered model's function name; null for {@code onnx_predict}, whose first argument is the model. */
  final String named;
  final String location;
  final ModelSource source;
  /** The model input each argument feeds, in argument order. */
  final List<String> argInputs;
  /** The result's field names (or the one output's), in order, and the model output each returns. */
  final List<String> fields;
  final List<String> outputs;
  final int batchSize;
  final boolean keepNulls;
  final String[] extraOutputs;
  final DataType dataType;
  /** Whether the result is a struct of {@link #fields} (several outputs) rather than one output's value. */
  final boolean struct;
  private final transient ScoringMetrics metrics;

  private PredictCall(String function, String named, String location, ModelSource source, List<String> argInputs,
      List<String> fields, List<String> outputs, int batchSize, boolean keepNulls, String[] extraOutputs,
      DataType dataType, boolean struct, ScoringMetrics metrics) {
    this.function = function;
    this.named = named;
    this.location = location;
    this.source = source;
    this.argInputs = Collections.unmodifiableList(new ArrayList<>(argInputs));
    this.fields = Collections.unmodifiableList(new ArrayList<>(fields));
    this.outputs = Collections.unmodifiableList(new ArrayList<>(outputs));
    this.batchSize = batchSize;
    this.keepNulls = keepNulls;
    this.extraOutputs = extraOutputs;
    this.dataType = dataType;
    this.struct = struct;
    this.metrics = metrics;
  }

  /**
   * Resolves a call of {@code model} over {@code args}. {@code argInputs} names the model input each
   * argument feeds; null feeds them by position: one argument per model input in the model's order,
   * or every argument into a model's single input (several scalar columns, or one array). The
   * result is a struct by output name for several outputs, or for one if {@code alwaysStruct}.
   */
  static PredictCall resolve(SparkSession session, String function, String named, OnnxModel model,
      List<Expression> args, List<String> argInputs, boolean alwaysStruct) {
    String call = function + "(" + (named == null ? "'" + model.getModelLocation() + "', " : "") + "...)";
    try {
      return checked(session, function, named, model, args, argInputs, alwaysStruct);
    } catch (SparkOrtException e) {
      throw prefixed(e, call + ": ");
    }
  }

  private static PredictCall checked(SparkSession session, String function, String named, OnnxModel model,
      List<Expression> args, List<String> argInputs, boolean alwaysStruct) {
    SparkContext context = session.sparkContext();
    ModelSource source = model.resolveModel(context.hadoopConfiguration());
    ModelSignature signature = source.signature(new String[0]);
    List<String> inputs = argInputs != null ? argInputs : positional(signature, args.size());
    if (inputs.size() != args.size()) {
      throw new InvalidInputException("takes " + inputs.size() + " argument" + (inputs.size() == 1 ? "" : "s")
          + " (the columns of feedDict " + model.getFeedDict() + ", in order); got " + args.size());
    }
    // The arguments as the columns of a schema, checked with transform's own rules; the names say
    // which argument a message is about.
    StructField[] columns = new StructField[args.size()];
    Map<String, String> feedDict = new LinkedHashMap<>();
    for (int i = 0; i < args.size(); i++) {
      Expression arg = args.get(i);
      String shown = arg instanceof org.apache.spark.sql.catalyst.expressions.Attribute
          ? ((org.apache.spark.sql.catalyst.expressions.Attribute) arg).name() : arg.sql();
      String name = "argument " + (i + 1) + " (" + shown.replace(',', ';') + ")";
      columns[i] = new StructField(name, arg.dataType(), arg.nullable(), Metadata.empty());
      String fed = feedDict.get(inputs.get(i));
      feedDict.put(inputs.get(i), fed == null ? name : fed + ", " + name);
    }
    List<String> fields = new ArrayList<>();
    List<String> outputs = new ArrayList<>();
    if (model.getFetchDict().isEmpty()) {
      for (ModelSignature.Tensor output : signature.outputs) {
        fields.add(output.name);
        outputs.add(output.name);
      }
    } else {
      for (Map.Entry<String, String> e : model.getFetchDict().entrySet()) {
        fields.add(e.getKey());
        outputs.add(e.getValue());
      }
    }
    Map<String, String> fetchDict = new LinkedHashMap<>();
    for (int k = 0; k < outputs.size(); k++) {
      fetchDict.put("result " + (k + 1), outputs.get(k));
    }
    String[] extra = OnnxModel.intermediateOutputs(source, outputs);
    boolean keepNulls = "keep".equals(model.getHandleNulls());
    ScoringPlan plan = ScoringPlan.create(new StructType(columns), source.signature(extra), extra, feedDict, fetchDict,
        keepNulls);
    StructField[] predicted = plan.predictionSchema().fields();
    boolean struct = alwaysStruct || predicted.length != 1;
    DataType type = struct ? null : predicted[0].dataType();
    if (struct) {
      StructField[] byName = new StructField[predicted.length];
      for (int k = 0; k < predicted.length; k++) {
        byName[k] = new StructField(fields.get(k), predicted[k].dataType(), keepNulls, Metadata.empty());
      }
      type = new StructType(byName);
    }
    ScoringMetrics metrics = named == null ? sqlMetrics(context, model.getModelLocation()) : model.metrics(context);
    return new PredictCall(function, named, model.getModelLocation(), source.shipTo(session), inputs, fields, outputs,
        model.getBatchSize(), keepNulls, extra, type, struct, metrics);
  }

  /** One argument per model input in order, or all of them into a single input. */
  private static List<String> positional(ModelSignature signature, int arguments) {
    List<String> names = new ArrayList<>();
    for (ModelSignature.Tensor input : signature.inputs) {
      names.add(input.name);
    }
    if (names.size() == 1 && arguments >= 1) {
      return Collections.nCopies(arguments, names.get(0));
    }
    if (arguments == names.size()) {
      return names;
    }
    List<String> described = new ArrayList<>();
    for (ModelSignature.Tensor input : signature.inputs) {
      described.add("'" + input.name + "' (" + input + ")");
    }
    throw new InvalidInputException("takes the model first, then "
        + (names.size() == 1 ? "the column or columns that feed its input " + described.get(0)
            : "one argument per model input, in the model's order: " + String.join(", ", described))
        + "; got " + arguments + " input argument" + (arguments == 1 ? "" : "s"));
  }

  private static synchronized ScoringMetrics sqlMetrics(SparkContext context, String location) {
    Map<String, ScoringMetrics> byModel = SQL_METRICS.get(context);
    if (byModel == null) {
      byModel = new LinkedHashMap<>();
      SQL_METRICS.put(context, byModel);
    }
    ScoringMetrics metrics = byModel.get(location);
    if (metrics == null) {
      metrics = new ScoringMetrics(context, "onnx_predict(" + location + ")");
      byModel.put(location, metrics);
    }
    return metrics;
  }

  /**
   * The scoring node's request for this call over real columns: {@code fed} holds, per argument,
   * the name of the child's column that carries it; the predictions are named {@code resultNames}.
   */
  ScoringRequest request(List<String> fed, List<String> resultNames) {
    Map<String, String> feedDict = new LinkedHashMap<>();
    for (int i = 0; i < fed.size(); i++) {
      String columns = feedDict.get(argInputs.get(i));
      feedDict.put(argInputs.get(i), columns == null ? fed.get(i) : columns + ", " + fed.get(i));
    }
    Map<String, String> fetchDict = new LinkedHashMap<>();
    for (int k = 0; k < outputs.size(); k++) {
      fetchDict.put(resultNames.get(k), outputs.get(k));
    }
    return new ScoringRequest(location, source, feedDict, fetchDict, batchSize, keepNulls, extraOutputs, metrics);
  }

  /** The same exception class (each keeps a String constructor) with {@code prefix} before its message. */
  static SparkOrtException prefixed(SparkOrtException e, String prefix) {
    try {
      SparkOrtException renamed = e.getClass().getConstructor(String.class).newInstance(prefix + e.getMessage());
      renamed.initCause(e);
      return renamed;
    } catch (ReflectiveOperationException notPossible) {
      return e;
    }
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof PredictCall)) {
      return false;
    }
    PredictCall that = (PredictCall) other;
    return function.equals(that.function) && Objects.equals(named, that.named) && location.equals(that.location)
        && source.key.equals(that.source.key) && argInputs.equals(that.argInputs) && fields.equals(that.fields)
        && outputs.equals(that.outputs) && batchSize == that.batchSize && keepNulls == that.keepNulls
        && Arrays.equals(extraOutputs, that.extraOutputs);
  }

  @Override
  public int hashCode() {
    return Objects.hash(function, location, source.key, argInputs, outputs, batchSize);
  }
}
