package io.sparkort;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.ExecutorLostFailure;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageCompleted;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.storage.RDDInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * On the driver: when an executor is lost while one of its tasks was scoring, says with which model.
 * Spark's own report of a lost executor (an {@code ExecutorLostFailure}, an exit code) names no
 * model; the scorer's RDD carries the model in its name ({@link #rddName}), each stage lists its
 * RDDs, and this listener logs an error naming the model, the stage, the task and Spark's reason.
 */
final class LostExecutorReports extends SparkListener {
  private static final Logger LOG = LoggerFactory.getLogger(LostExecutorReports.class);
  private static final String PREFIX = "OnnxScore ";
  private static final Set<SparkContext> INSTALLED = Collections.newSetFromMap(new WeakHashMap<SparkContext, Boolean>());
  private static final int KEPT = 32;
  private static final List<String> RECENT = new ArrayList<>();

  private final Map<Integer, List<String>> modelsByStage = new ConcurrentHashMap<>();

  private LostExecutorReports() {}

  /** The name of a scoring RDD: how a stage's RDDs say which model they score with. */
  static String rddName(String modelLocation) {
    return PREFIX + modelLocation;
  }

  /** Listens on {@code context} from now on, once per context. */
  static void installOn(SparkContext context) {
    synchronized (INSTALLED) {
      if (INSTALLED.add(context)) {
        context.addSparkListener(new LostExecutorReports());
      }
    }
  }

  /** The last reports made in this JVM, oldest first. */
  static List<String> recent() {
    synchronized (RECENT) {
      return new ArrayList<>(RECENT);
    }
  }

  @Override
  public void onStageSubmitted(SparkListenerStageSubmitted submitted) {
    List<String> models = new ArrayList<>();
    for (RDDInfo rdd : SparkShim.<RDDInfo>javaList(SparkShim.call(submitted.stageInfo(), "rddInfos"))) {
      if (rdd.name() != null && rdd.name().startsWith(PREFIX)) {
        models.add(rdd.name().substring(PREFIX.length()));
      }
    }
    if (!models.isEmpty()) {
      modelsByStage.put(submitted.stageInfo().stageId(), models);
    }
  }

  @Override
  public void onStageCompleted(SparkListenerStageCompleted completed) {
    modelsByStage.remove(completed.stageInfo().stageId());
  }

  @Override
  public void onTaskEnd(SparkListenerTaskEnd end) {
    List<String> models = modelsByStage.get(end.stageId());
    if (models == null || !(end.reason() instanceof ExecutorLostFailure)) {
      return;
    }
    String report = "executor " + end.taskInfo().executorId() + " (" + end.taskInfo().host() + ") was lost while task "
        + end.taskInfo().taskId() + " of stage " + end.stageId() + " was scoring with model " + String.join(", ", models)
        + ": " + ((ExecutorLostFailure) end.reason()).toErrorString();
    LOG.error("sparkort: {}", report);
    synchronized (RECENT) {
      RECENT.add(report);
      if (RECENT.size() > KEPT) {
        RECENT.remove(0);
      }
    }
  }
}
