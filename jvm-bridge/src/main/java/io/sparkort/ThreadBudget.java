package io.sparkort;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;

/**
 * How many sessions a model gets on one executor and how many ONNX Runtime threads each may use:
 * one session per task slot ({@code executor cores / spark.task.cpus}), with {@code spark.task.cpus}
 * intra-op threads each, so sessions x threads never exceed the executor's cores and every task
 * slot scores at once without waiting for another's session. With one thread a session runs on the
 * task's own thread and ONNX Runtime starts none. The measurements behind this default are in the
 * README ({@code ci/thread-budget} repeats them). {@value #SESSIONS_CONF} and
 * {@value #THREADS_CONF} override either number.
 */
final class ThreadBudget {
  static final String SESSIONS_CONF = SparkOrtConf.SESSIONS;
  static final String THREADS_CONF = SparkOrtConf.INTRA_OP_THREADS;
  static final int MAX_THREADS_PER_CORE = 4;

  private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+|\\*)(,\\d+)?\\]");
  private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[\\d+,\\s*(\\d+),\\s*\\d+\\]");

  final int sessions;
  final int intraThreads;

  ThreadBudget(int sessions, int intraThreads) {
    this.sessions = sessions;
    this.intraThreads = intraThreads;
  }

  static ThreadBudget forThisExecutor() {
    return of(SparkShim.executorConf(), Runtime.getRuntime().availableProcessors());
  }

  static ThreadBudget of(SparkConf conf, int availableProcessors) {
    int taskCpus = Math.max(1, conf.getInt("spark.task.cpus", 1));
    int cores = executorCores(conf, availableProcessors);
    int sessions = intConf(conf, SESSIONS_CONF, Math.max(1, cores / taskCpus));
    int threads = intConf(conf, THREADS_CONF, taskCpus);
    if (sessions < 1 || threads < 1) {
      throw new SparkOrtException(SESSIONS_CONF + " and " + THREADS_CONF + " must be at least 1, got "
          + sessions + " and " + threads);
    }
    // Each session starts this many ONNX Runtime threads: far more than the machine has cores only
    // stalls it (100,000 took minutes of one core and gigabytes before the first batch).
    int most = MAX_THREADS_PER_CORE * Math.max(cores, availableProcessors);
    if (threads > most) {
      throw new SparkOrtException(THREADS_CONF + " = " + threads + " is more than " + MAX_THREADS_PER_CORE
          + " threads per core of this executor (" + Math.max(cores, availableProcessors) + " cores): at most " + most);
    }
    return new ThreadBudget(sessions, threads);
  }

  /** An integer conf, or a SparkOrtException naming it. */
  static int intConf(SparkConf conf, String key, int fallback) {
    try {
      return conf.getInt(key, fallback);
    } catch (NumberFormatException e) {
      throw new SparkOrtException(key + " = '" + conf.get(key) + "' is not a whole number", e);
    }
  }

  static int executorCores(SparkConf conf, int availableProcessors) {
    if (conf.contains("spark.executor.cores")) {
      return conf.getInt("spark.executor.cores", availableProcessors);
    }
    String master = conf.get("spark.master", "");
    Matcher local = LOCAL.matcher(master);
    if (local.matches()) {
      return local.group(1).equals("*") ? availableProcessors : Integer.parseInt(local.group(1));
    }
    Matcher cluster = LOCAL_CLUSTER.matcher(master);
    if (cluster.matches()) {
      return Integer.parseInt(cluster.group(1));
    }
    return master.equals("local") ? 1 : availableProcessors;
  }

  @Override
  public String toString() {
    return sessions + " sessions x " + intraThreads + " threads";
  }
}
