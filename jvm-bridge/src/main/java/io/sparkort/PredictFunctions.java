package io.sparkort;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.FunctionIdentifier;
import org.apache.spark.sql.catalyst.FunctionIdentifier$;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.ExpressionInfo;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.catalyst.util.MapData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.MapType;
import scala.Function1;
import scala.Tuple3;
import scala.runtime.AbstractFunction1;

/**
 * sparkort's SQL functions: {@code onnx_predict(model, input...)}, whose first argument names the
 * model (a location, or a map of options), and the functions {@link #register} makes for an
 * {@link OnnxModel}, whose arguments are the columns of its feedDict. Both build an
 * {@link OnnxPredict} call, which {@link ExtractOnnxPredict} turns into a scoring node.
 */
final class PredictFunctions {
  static final String ONNX_PREDICT = "onnx_predict";

  /** The keys of {@code onnx_predict}'s options map, besides {@code input.N} and {@code output.NAME}. */
  private static final List<String> OPTIONS = Arrays.asList("modelLocation", "batchSize", "handleNulls", "result");

  private PredictFunctions() {}

  /** {@code onnx_predict}, for {@code SparkSessionExtensions.injectFunction}. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static Tuple3<FunctionIdentifier, ExpressionInfo, Function1<scala.collection.Seq<Expression>, Expression>> onnxPredictDescription() {
    return new Tuple3<>(FunctionIdentifier$.MODULE$.apply(ONNX_PREDICT), onnxPredictInfo(), (Function1) onnxPredictBuilder(null));
  }

  /** Adds {@code onnx_predict} to a session built without {@link SparkOrtExtensions}. */
  static void registerOnnxPredict(SparkSession session) {
    if (SparkShim.functionRegistry(session).functionExists(FunctionIdentifier$.MODULE$.apply(ONNX_PREDICT))) {
      return;
    }
    registerFunction(session, ONNX_PREDICT, onnxPredictInfo(), onnxPredictBuilder(session));
  }

  /**
   * Registers {@code name(columns...)}, a temporary SQL function of {@code session} that scores with
   * {@code model}'s params as they are now. The model is read now, so a missing file fails here.
   */
  @SuppressWarnings("deprecation") // ExpressionInfo's (usage, extended) form: the same on every Spark line
  static void register(SparkSession session, final String name, OnnxModel model) {
    if (name == null || !name.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      throw new InvalidInputException("a model's function name must be a SQL identifier (letters, digits, _); got '"
          + name + "'");
    }
    SparkShim.planScoring(session);
    final OnnxModel frozen = model.copy(new org.apache.spark.ml.param.ParamMap());
    ModelSignature signature = frozen.signature();
    final List<String> argInputs = argInputs(frozen.getFeedDict());
    String columns = frozen.getFeedDict().isEmpty() ? "the model's inputs in order"
        : String.join(", ", frozen.getFeedDict().values());
    String usage = name + "(" + columns + ") - Scores with the ONNX model " + frozen.getModelLocation()
        + " (inputs " + signature.inputs + "; returns " + (frozen.getFetchDict().isEmpty() ? "its outputs "
            + ModelSignature.names(signature.outputs) : "fetchDict " + frozen.getFetchDict())
        + "; batchSize " + frozen.getBatchSize() + ", handleNulls " + frozen.getHandleNulls() + ").";
    ExpressionInfo info = new ExpressionInfo(OnnxPredict.class.getName(), null, name, usage,
        "\n    A struct by output name when it returns several outputs, else the one output's value.\n"
            + "    Registered by sparkort.register.\n");
    registerFunction(session, name, info, new AbstractFunction1<Object, Expression>() {
      @Override
      public Expression apply(Object args) {
        List<Expression> inputs = SparkShim.javaList(args);
        PredictCall call = PredictCall.resolve(session, name, name, frozen, inputs, argInputs, false);
        return new OnnxPredict(SparkShim.scalaList(inputs), call);
      }
    });
  }

  /** The model input of each feedDict column, in order; null for an empty feedDict (by position). */
  private static List<String> argInputs(Map<String, String> feedDict) {
    if (feedDict.isEmpty()) {
      return null;
    }
    List<String> inputs = new ArrayList<>();
    for (Map.Entry<String, String> e : feedDict.entrySet()) {
      inputs.addAll(Collections.nCopies(e.getValue().split(",").length, e.getKey()));
    }
    return inputs;
  }

  private static void registerFunction(SparkSession session, String name, ExpressionInfo info,
      Function1<Object, Expression> builder) {
    @SuppressWarnings({"unchecked", "rawtypes"})
    Function1<scala.collection.Seq<Expression>, Expression> typed = (Function1) builder;
    SparkShim.functionRegistry(session).registerFunction(FunctionIdentifier$.MODULE$.apply(name), info, typed);
  }

  @SuppressWarnings("deprecation")
  private static ExpressionInfo onnxPredictInfo() {
    return new ExpressionInfo(OnnxPredict.class.getName(), null, ONNX_PREDICT,
        "onnx_predict(model, input...) - Scores the rows with an ONNX model, in batches, inside the executors.",
        "\n    Arguments:\n"
            + "      * model - the model: a string literal, its local path or Hadoop-FS URI; or a map of options:\n"
            + "          modelLocation (required), batchSize, handleNulls ('error' or 'keep'),\n"
            + "          'input.N' -> the model input the Nth input argument feeds,\n"
            + "          'output.NAME' -> the model output (or inner tensor) returned as field NAME,\n"
            + "          result ('struct': a struct even for one output).\n"
            + "      * input - one argument per model input, in the model's order; for a model with one\n"
            + "          input, one array column or several scalar columns.\n"
            + "    Returns the model's one output's value, or a struct of its outputs by name.\n"
            + "\n    Examples:\n"
            + "      > SELECT id, onnx_predict('/models/mlp.onnx', features) AS scores FROM t;\n"
            + "      > SELECT onnx_predict('iris.onnx', sl, sw, pl, pw).output_label FROM iris;\n");
  }

  private static Function1<Object, Expression> onnxPredictBuilder(final SparkSession session) {
    return new AbstractFunction1<Object, Expression>() {
      @Override
      public Expression apply(Object args) {
        return onnxPredict(session != null ? session : SparkSession.active(), SparkShim.<Expression>javaList(args));
      }
    };
  }

  private static Expression onnxPredict(SparkSession session, List<Expression> args) {
    if (args.isEmpty()) {
      throw new InvalidInputException("onnx_predict takes the model first (a path or URI, or a map of options), "
          + "then its input columns; got no arguments");
    }
    Expression model = args.get(0);
    List<Expression> inputs = new ArrayList<>(args.subList(1, args.size()));
    Map<String, String> options = options(model);
    String location = options.get("modelLocation");
    if (location == null || location.isEmpty()) {
      throw new InvalidInputException("onnx_predict's options map has no modelLocation: " + model.sql());
    }
    OnnxModel onnx = new OnnxModel().setModelLocation(location);
    Map<String, String> fetchDict = new LinkedHashMap<>();
    Map<Integer, String> byArgument = new TreeMap<>();
    for (Map.Entry<String, String> e : options.entrySet()) {
      String key = e.getKey();
      try {
        if (key.equals("batchSize")) {
          onnx.setBatchSize(Integer.parseInt(e.getValue().trim()));
        } else if (key.equals("handleNulls")) {
          onnx.setHandleNulls(e.getValue());
        } else if (key.equals("result")) {
          if (!e.getValue().equals("struct") && !e.getValue().equals("value")) {
            throw new IllegalArgumentException("result is 'struct' (always a struct of the outputs) or 'value' "
                + "(the one output's value, a struct for several)");
          }
        } else if (key.startsWith("output.") && key.length() > 7) {
          fetchDict.put(key.substring(7), e.getValue());
        } else if (key.startsWith("input.")) {
          byArgument.put(Integer.parseInt(key.substring(6)), e.getValue());
        } else if (!OPTIONS.contains(key)) {
          throw new InvalidInputException("onnx_predict('" + location + "', ...): unknown option '" + key
              + "'. Options: " + OPTIONS + ", input.N (N = 1.." + inputs.size() + "), output.NAME");
        }
      } catch (IllegalArgumentException bad) {
        throw new InvalidInputException("onnx_predict('" + location + "', ...): option " + key + " = '"
            + e.getValue() + "' is not valid: " + (bad.getMessage() == null ? bad : bad.getMessage())
            + ". Options: " + OPTIONS + ", input.N (N = 1.." + inputs.size() + "), output.NAME");
      }
    }
    onnx.setFetchDict(fetchDict);
    List<String> argInputs = null;
    if (!byArgument.isEmpty()) {
      argInputs = new ArrayList<>();
      for (int n = 1; n <= inputs.size(); n++) {
        String input = byArgument.remove(n);
        if (input == null) {
          throw new InvalidInputException("onnx_predict('" + location + "', ...): the options name the model input "
              + "of some arguments but not of argument " + n + " (option input." + n + ")");
        }
        argInputs.add(input);
      }
      if (!byArgument.isEmpty()) {
        throw new InvalidInputException("onnx_predict('" + location + "', ...): options " + byArgument.keySet()
            + " name input arguments the call does not have (it has " + inputs.size() + ")");
      }
    }
    PredictCall call = PredictCall.resolve(session, ONNX_PREDICT, null, onnx, inputs, argInputs,
        "struct".equals(options.get("result")));
    return new OnnxPredict(SparkShim.scalaList(inputs), call);
  }

  /** The model argument as options: a location string, or a map literal of options. */
  private static Map<String, String> options(Expression model) {
    Map<String, String> options = new LinkedHashMap<>();
    boolean isMap = model.dataType() instanceof MapType
        && ((MapType) model.dataType()).keyType().equals(DataTypes.StringType)
        && ((MapType) model.dataType()).valueType().equals(DataTypes.StringType);
    if (!model.foldable() || !(isMap || model.dataType().equals(DataTypes.StringType))) {
      throw new InvalidInputException("onnx_predict's first argument is the model: a string literal (its path or "
          + "URI) or a map<string,string> literal of options; got " + model.sql() + " of type "
          + model.dataType().simpleString());
    }
    Object value = model.eval(null);
    if (value == null) {
      throw new InvalidInputException("onnx_predict's first argument, the model, is null");
    }
    if (!isMap) {
      options.put("modelLocation", value.toString());
      return options;
    }
    MapData map = (MapData) value;
    ArrayData keys = map.keyArray();
    ArrayData values = map.valueArray();
    for (int i = 0; i < map.numElements(); i++) {
      String key = keys.getUTF8String(i).toString();
      if (values.isNullAt(i)) {
        throw new InvalidInputException("onnx_predict's options map gives option '" + key + "' a null value");
      }
      options.put(key, values.getUTF8String(i).toString());
    }
    return options;
  }
}
