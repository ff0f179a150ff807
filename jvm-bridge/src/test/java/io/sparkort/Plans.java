package io.sparkort;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.adaptive.AdaptiveSparkPlanExec;
import org.apache.spark.sql.execution.adaptive.QueryStageExec;

/** A Dataset's plans, as the tests look at them (Dataset.queryExecution moved to Spark 4's classic Dataset). */
final class Plans {
  private Plans() {}

  static Object queryExecution(Dataset<?> dataset) {
    try {
      return dataset.getClass().getMethod("queryExecution").invoke(dataset);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }

  private static Object stage(Dataset<?> dataset, String name) {
    Object execution = queryExecution(dataset);
    try {
      return execution.getClass().getMethod(name).invoke(execution);
    } catch (ReflectiveOperationException e) {
      throw new AssertionError(e);
    }
  }

  static SparkPlan executedPlan(Dataset<?> dataset) {
    return (SparkPlan) stage(dataset, "executedPlan");
  }

  static LogicalPlan optimizedPlan(Dataset<?> dataset) {
    return (LogicalPlan) stage(dataset, "optimizedPlan");
  }

  /** Every node of a physical plan, into adaptive plans (their current plan) and query stages. */
  static List<SparkPlan> nodes(SparkPlan plan) {
    List<SparkPlan> out = new ArrayList<>();
    collect(plan, out);
    return out;
  }

  private static void collect(SparkPlan plan, List<SparkPlan> out) {
    out.add(plan);
    if (plan instanceof AdaptiveSparkPlanExec) {
      collect(((AdaptiveSparkPlanExec) plan).executedPlan(), out);
    } else if (plan instanceof QueryStageExec) {
      collect(((QueryStageExec) plan).plan(), out);
    }
    scala.collection.Iterator<SparkPlan> children = plan.children().iterator();
    while (children.hasNext()) {
      collect(children.next(), out);
    }
  }

  /** The plan's nodes of one class. */
  static <T> List<T> find(SparkPlan plan, Class<T> type) {
    List<T> found = new ArrayList<>();
    for (SparkPlan node : nodes(plan)) {
      if (type.isInstance(node)) {
        found.add(type.cast(node));
      }
    }
    return found;
  }

  /** Every node of a logical plan. */
  static List<LogicalPlan> nodes(LogicalPlan plan) {
    List<LogicalPlan> out = new ArrayList<>();
    out.add(plan);
    scala.collection.Iterator<LogicalPlan> children = plan.children().iterator();
    while (children.hasNext()) {
      out.addAll(nodes(children.next()));
    }
    return out;
  }
}
