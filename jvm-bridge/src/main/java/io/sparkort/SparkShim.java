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
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.QueryExecution;
import org.apache.spark.sql.execution.metric.SQLMetric;
import org.apache.spark.sql.types.StructType;
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

  /** The Dataset's rows as Spark computes them internally (no conversion to {@code Row}). */
  static RDD<InternalRow> internalRows(Dataset<?> dataset) {
    QueryExecution execution = (QueryExecution) invoke(dataset, "queryExecution");
    return execution.toRdd();
  }

  /**
   * A DataFrame over the scorer's rows, UnsafeRows that already match {@code schema}, planned as
   * {@link ScoredScanExec} in this session, which shows {@code outputRows} in the SQL tab.
   */
  @SuppressWarnings("unchecked")
  static Dataset<Row> scoredDataFrame(SparkSession session, RDD<InternalRow> rows, StructType schema,
      SQLMetric outputRows) {
    planScoredScans(session);
    ScoredScanStrategy.mark(rows, outputRows);
    return (Dataset<Row>)
        invoke(session, "internalCreateDataFrame", new Class<?>[] {RDD.class, StructType.class, boolean.class},
            rows, schema, false);
  }

  /** Adds {@link ScoredScanStrategy} to the session's extra strategies, once. */
  private static void planScoredScans(SparkSession session) {
    Object experimental = invoke(session, "experimental");
    synchronized (experimental) {
      List<Object> strategies = javaList(invoke(experimental, "extraStrategies"));
      if (strategies.contains(ScoredScanStrategy.INSTANCE)) {
        return;
      }
      strategies.add(0, ScoredScanStrategy.INSTANCE);
      for (Method method : experimental.getClass().getMethods()) {
        if (method.getName().equals("extraStrategies_$eq")) {
          invoke(experimental, method.getName(), method.getParameterTypes(), scalaList(strategies));
          return;
        }
      }
      throw new SparkOrtException("this Spark version has no ExperimentalMethods.extraStrategies_$eq");
    }
  }

  /** A plan's output attributes (a collection.Seq on Scala 2.12, an immutable.Seq on 2.13). */
  static scala.collection.immutable.Seq<Attribute> output(LogicalPlan plan) {
    List<Attribute> attributes = new ArrayList<>();
    for (Object attribute : javaList(invoke(plan, "output"))) {
      attributes.add((Attribute) attribute);
    }
    return scalaList(attributes);
  }

  /** The elements of a Scala Iterable of either Scala line. */
  private static List<Object> javaList(Object iterable) {
    List<Object> elements = new ArrayList<>();
    scala.collection.Iterator<?> it = ((scala.collection.Iterable<?>) iterable).iterator();
    while (it.hasNext()) {
      elements.add(it.next());
    }
    return elements;
  }

  /** An immutable List, the one Seq type both Scala lines accept where they ask for a Seq. */
  private static <T> scala.collection.immutable.List<T> scalaList(List<T> elements) {
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
