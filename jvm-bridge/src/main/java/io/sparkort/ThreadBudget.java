package io.sparkort;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;

/**
 * How many sessions a model gets on one executor and how many ONNX Runtime threads each may use:
 * one session per task slot, with {@code spark.task.cpus} intra-op threads each, so sessions x
 * threads never exceed the executor's cores. Measured on 2 cores (DESIGN.md): 2 tasks x 1 thread
 * beat 1 x 2 and 2 x 2.
 */
final class ThreadBudget {
  private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+|\\*)(,\\d+)?\\]");
  private static final Pattern LOCAL_CLUSTER = Pattern.compile("local-cluster\\[\\d+,\\s*(\\d+),\\s*\\d+\\]");

  final int sessions;
  final int intraThreads;

  ThreadBudget(int sessions, int intraThreads) {
    this.sessions = sessions;
    this.intraThreads = intraThreads;
  }

  static ThreadBudget forThisExecutor() {
    SparkEnv env = SparkEnv.get();
    return of(env != null ? env.conf() : new SparkConf(), Runtime.getRuntime().availableProcessors());
  }

  static ThreadBudget of(SparkConf conf, int availableProcessors) {
    int taskCpus = Math.max(1, conf.getInt("spark.task.cpus", 1));
    int cores = executorCores(conf, availableProcessors);
    return new ThreadBudget(Math.max(1, cores / taskCpus), taskCpus);
  }

  private static int executorCores(SparkConf conf, int availableProcessors) {
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
