package io.sparkort;

import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.SparkFiles;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeSet;
import org.apache.spark.sql.catalyst.expressions.AttributeSet$;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.types.DataTypeUtils$;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.status.api.v1.ExecutorSummary;
import scala.Tuple2;
import scala.collection.immutable.List$;
import scala.reflect.ClassTag$;
import scala.Function0;
import scala.runtime.AbstractFunction0;
import scala.runtime.BoxedUnit;

/**
 * The Spark internals sparkort reaches for, found by name at run time: Spark 4 moved them from
 * {@code org.apache.spark.sql.Dataset}/{@code SparkSession} to their {@code classic} subclasses,
 * so a call compiled against 3.5 would not link there. Everything version-specific stays here.
 */
final class SparkShim {
  private SparkShim() {}

  /**
   * This JVM's Spark conf: the running SparkEnv's, else a new one, which reads {@code spark.*} JVM
   * system properties, so {@code -D} settings work where there is no SparkEnv.
   */
  static SparkConf executorConf() {
    SparkEnv env = SparkEnv.get();
    return env != null ? env.conf() : new SparkConf();
  }

  /** The Dataset's logical plan, as analyzed (what Spark builds a derived Dataset over). */
  static LogicalPlan logicalPlan(Dataset<?> dataset) {
    return (LogicalPlan) invoke(dataset, "logicalPlan");
  }

  /**
   * A DataFrame over {@code plan} in {@code session} ({@code Dataset.ofRows}, which Spark 4 moved to
   * {@code classic.Dataset}), after making sure the session plans and optimizes scoring nodes.
   */
  @SuppressWarnings("unchecked")
  static Dataset<Row> ofRows(SparkSession session, LogicalPlan plan) {
    planScoring(session);
    Object companion = companion("org.apache.spark.sql.classic.Dataset$", "org.apache.spark.sql.Dataset$");
    for (Method method : companion.getClass().getMethods()) {
      Class<?>[] types = method.getParameterTypes();
      if (method.getName().equals("ofRows") && types.length == 2 && types[0].isInstance(session)) {
        return (Dataset<Row>) invoke(companion, "ofRows", types, session, plan);
      }
    }
    throw new SparkOrtException("this Spark version has no Dataset.ofRows(SparkSession, LogicalPlan)");
  }

  /**
   * Adds {@link OnnxScoreStrategy} to the session's extra strategies, {@link ExtractOnnxPredict} and
   * {@link OnnxScoreRules} to its extra optimizations and {@code onnx_predict} to its functions, once,
   * unless the session was built with {@link SparkOrtExtensions}.
   */
  static void planScoring(SparkSession session) {
    if (!isClassic(session)) {
      throw new SparkOrtException("this is a Spark Connect session: start the Connect server with the sparkort jar "
          + "and spark.sql.extensions=" + SparkOrtExtensions.class.getName() + ", and score through onnx_predict");
    }
    if (hasExtensions(session)) {
      return;
    }
    Object experimental = invoke(session, "experimental");
    synchronized (experimental) {
      prepend(experimental, "extraStrategies", OnnxScoreStrategy.INSTANCE);
      prepend(experimental, "extraOptimizations", OnnxScoreRules.INSTANCE);
      prepend(experimental, "extraOptimizations", ExtractOnnxPredict.IN_OPTIMIZER);
    }
    PredictFunctions.registerOnnxPredict(session);
  }

  /** The session's own function registry (its SQL functions and temporary functions). */
  static org.apache.spark.sql.catalyst.analysis.FunctionRegistry functionRegistry(SparkSession session) {
    return (org.apache.spark.sql.catalyst.analysis.FunctionRegistry) invoke(invoke(session, "sessionState"),
        "functionRegistry");
  }

  /** Whether {@code session} runs in this JVM (not a Spark Connect client's). */
  static boolean isClassic(SparkSession session) {
    return hasMethod(session, "sessionState");
  }

  /** Whether {@code spark.sql.extensions} (a static conf, so set when the session was built) names ours. */
  static boolean hasExtensions(SparkSession session) {
    for (String name : session.conf().get("spark.sql.extensions", "").split(",")) {
      if (name.trim().equals(SparkOrtExtensions.class.getName())) {
        return true;
      }
    }
    return false;
  }

  private static void prepend(Object experimental, String property, Object element) {
    List<Object> elements = javaList(invoke(experimental, property));
    if (elements.contains(element)) {
      return;
    }
    elements.add(0, element);
    for (Method method : experimental.getClass().getMethods()) {
      if (method.getName().equals(property + "_$eq")) {
        invoke(experimental, method.getName(), method.getParameterTypes(), scalaList(elements));
        return;
      }
    }
    throw new SparkOrtException("this Spark version has no ExperimentalMethods." + property + "_$eq");
  }

  /** The first of these Scala objects that this Spark has. */
  private static Object companion(String... names) {
    for (String name : names) {
      try {
        return Class.forName(name).getField("MODULE$").get(null);
      } catch (ClassNotFoundException e) {
        // the other Spark line's
      } catch (ReflectiveOperationException e) {
        throw new SparkOrtException("cannot reach " + name + ": " + e, e);
      }
    }
    throw new SparkOrtException("this Spark version has none of " + String.join(", ", names));
  }

  /**
   * A new {@code type} through its public constructor of {@code args.length} parameters that takes
   * them: Spark's case classes take a collection.Seq on Scala 2.12 and an immutable.Seq on 2.13,
   * and an immutable List is both.
   */
  static <T> T construct(Class<T> type, Object... args) {
    for (java.lang.reflect.Constructor<?> constructor : type.getConstructors()) {
      Class<?>[] types = constructor.getParameterTypes();
      if (types.length == args.length && accepts(types, args)) {
        try {
          return type.cast(constructor.newInstance(args));
        } catch (InvocationTargetException e) {
          Throwable cause = e.getCause();
          if (cause instanceof RuntimeException) {
            throw (RuntimeException) cause;
          }
          throw new SparkOrtException("new " + type.getSimpleName() + " failed: " + cause, cause);
        } catch (ReflectiveOperationException e) {
          throw new SparkOrtException("cannot make a " + type.getName() + ": " + e, e);
        }
      }
    }
    throw new SparkOrtException("this Spark version has no " + type.getName() + " constructor for "
        + args.length + " arguments; sparkort supports Spark 3.5 and 4.x");
  }

  private static boolean accepts(Class<?>[] types, Object[] args) {
    for (int i = 0; i < types.length; i++) {
      if (args[i] != null && !types[i].isInstance(args[i])) {
        return false;
      }
    }
    return true;
  }

  /** A plan's output attributes (a collection.Seq on Scala 2.12, an immutable.Seq on 2.13), logical or physical. */
  static List<Attribute> output(Object plan) {
    return javaList(invoke(plan, "output"));
  }

  /** A new attribute (with a new id) for a column. */
  static Attribute toAttribute(StructField field) {
    return DataTypeUtils$.MODULE$.toAttribute(field);
  }

  @SuppressWarnings("unchecked")
  static AttributeSet attributeSet(scala.collection.immutable.List<Attribute> attributes) {
    return AttributeSet$.MODULE$.apply((scala.collection.Iterable<Expression>) (Object) attributes);
  }

  /** The elements of a Scala Iterable of either Scala line. */
  @SuppressWarnings("unchecked")
  static <T> List<T> javaList(Object iterable) {
    List<T> elements = new ArrayList<>();
    scala.collection.Iterator<?> it = ((scala.collection.Iterable<?>) iterable).iterator();
    while (it.hasNext()) {
      elements.add((T) it.next());
    }
    return elements;
  }

  /** An immutable List, the one Seq type both Scala lines accept where they ask for a Seq. */
  static <T> scala.collection.immutable.List<T> scalaList(List<T> elements) {
    scala.collection.immutable.List<T> list = List$.MODULE$.empty();
    for (int i = elements.size() - 1; i >= 0; i--) {
      list = list.$colon$colon(elements.get(i));
    }
    return list;
  }

  /** The live executors as {id, host}; in local mode the driver, which is the executor there. */
  static List<String[]> liveExecutors(SparkContext context) {
    Object store = invoke(context, "statusStore");
    Object summaries = invoke(store, "executorList", new Class<?>[] {boolean.class}, true);
    List<String[]> executors = new ArrayList<>();
    List<String[]> driver = new ArrayList<>();
    for (Object each : javaList(summaries)) {
      ExecutorSummary summary = (ExecutorSummary) each;
      String hostPort = summary.hostPort();
      int colon = hostPort.lastIndexOf(':');
      String[] executor = {summary.id(), colon < 0 ? hostPort : hostPort.substring(0, colon)};
      (summary.id().equals("driver") ? driver : executors).add(executor);
    }
    return executors.isEmpty() ? driver : executors;
  }

  /**
   * One-element partitions, the {@code i}th holding the id of executor {@code executors[i]} = {id,
   * host} and preferring that executor ({@code SparkContext.makeRDD} with locations, found by name:
   * its Seq parameter is another class on Scala 2.13).
   */
  static JavaRDD<String> onExecutors(SparkContext context, List<String[]> executors) {
    List<Object> pairs = new ArrayList<>();
    for (String[] executor : executors) {
      List<Object> where = Collections.singletonList("executor_" + executor[1] + "_" + executor[0]);
      pairs.add(new Tuple2<Object, Object>(executor[0], scalaList(where)));
    }
    scala.collection.immutable.List<Object> located = scalaList(pairs);
    for (Method method : context.getClass().getMethods()) {
      Class<?>[] types = method.getParameterTypes();
      if (method.getName().equals("makeRDD") && types.length == 2 && types[0].isInstance(located)) {
        @SuppressWarnings("unchecked")
        RDD<String> rdd = (RDD<String>) invoke(context, "makeRDD", types, located, ClassTag$.MODULE$.apply(String.class));
        return rdd.toJavaRDD();
      }
    }
    throw new SparkOrtException("this Spark version has no SparkContext.makeRDD with locations");
  }

  /**
   * {@code SparkContext.addFile} for the session's jobs. A Spark 4 session with artifact isolation
   * (the default in the JVM; PySpark turns it off) ships a job only the files added under its
   * artifact state, so there the file is added inside the session's {@code withResources}.
   */
  static void addFile(SparkSession session, String path) {
    if (artifactState(session) == null) {
      session.sparkContext().addFile(path);
      return;
    }
    invoke(invoke(session, "artifactManager"), "withResources", new Class<?>[] {Function0.class},
        new AbstractFunction0<BoxedUnit>() {
          @Override
          public BoxedUnit apply() {
            session.sparkContext().addFile(path);
            return BoxedUnit.UNIT;
          }
        });
  }

  /**
   * On an executor: the local path of a file added by {@link #addFile}. Spark 4 fetches a session's
   * files into a subdirectory named by its artifact state, which {@code SparkFiles.get} does not
   * name on executors (4.1 sets no job artifact state on task threads). sparkort names the files it
   * adds by their content's SHA-256, so a copy found under any session's directory is the right one.
   */
  static String addedFile(String name) {
    File direct = new File(SparkFiles.get(name));
    if (direct.isFile()) {
      return direct.getPath();
    }
    File[] sessions = new File(SparkFiles.getRootDirectory()).listFiles(File::isDirectory);
    for (File session : sessions == null ? new File[0] : sessions) {
      File candidate = new File(session, name);
      if (candidate.isFile()) {
        return candidate.getPath();
      }
    }
    return direct.getPath();
  }

  /** Which session's files {@link #addFile} adds to: its artifact state's id, else "default". */
  static String artifactScope(SparkSession session) {
    Object state = artifactState(session);
    return state == null ? "default" : (String) invoke(state, "uuid");
  }

  /** The session's {@code JobArtifactState}: null on Spark 3.5 and without artifact isolation. */
  private static Object artifactState(SparkSession session) {
    if (!hasMethod(session, "artifactManager")) {
      return null;
    }
    Object manager = invoke(session, "artifactManager");
    return manager == null ? null : invoke(manager, "state");
  }

  private static boolean hasMethod(Object target, String name) {
    try {
      target.getClass().getMethod(name);
      return true;
    } catch (NoSuchMethodException e) {
      return false;
    }
  }

  /** A public no-argument method found by name: Spark's Seq-typed methods differ between the Scala lines. */
  static Object call(Object target, String name) {
    return invoke(target, name, new Class<?>[0]);
  }

  private static Object invoke(Object target, String name) {
    return invoke(target, name, new Class<?>[0]);
  }

  private static Object invoke(Object target, String name, Class<?>[] types, Object... args) {
    try {
      Method method = target.getClass().getMethod(name, types);
      return method.invoke(target, args);
    } catch (InvocationTargetException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      throw new SparkOrtException(name + " failed: " + cause, cause);
    } catch (ReflectiveOperationException e) {
      throw new SparkOrtException(
          "this Spark version has no " + target.getClass().getName() + "." + name
              + "; sparkort supports Spark 3.5 and 4.x", e);
    }
  }
}
