package io.sparkort;

import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.LogicalRDD;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.SparkStrategy;
import org.apache.spark.sql.execution.metric.SQLMetric;
import scala.collection.immutable.List$;
import scala.collection.immutable.Nil$;

/**
 * Plans the DataFrames that {@link OnnxModel#transform} makes as {@link ScoredScanExec}. They are
 * {@code LogicalRDD}s over the scorer's RDD, so analysis, pruning and caching treat them like any
 * DataFrame made from an RDD; only the physical node differs. A session without this strategy
 * still scores correctly, through Spark's own {@code RDDScanExec}.
 */
final class ScoredScanStrategy extends SparkStrategy {
  private static final long serialVersionUID = 1L;

  static final ScoredScanStrategy INSTANCE = new ScoredScanStrategy();

  /** The scorer's RDDs on this driver, by identity, with their row counts; an RDD nobody references drops out. */
  private static final Map<RDD<?>, SQLMetric> SCORED = Collections.synchronizedMap(new WeakHashMap<>());

  private ScoredScanStrategy() {}

  static void mark(RDD<?> scored, SQLMetric outputRows) {
    SCORED.put(scored, outputRows);
  }

  @Override
  @SuppressWarnings("unchecked")
  public scala.collection.immutable.Seq<SparkPlan> apply(LogicalPlan plan) {
    SQLMetric outputRows = plan instanceof LogicalRDD ? SCORED.get(((LogicalRDD) plan).rdd()) : null;
    if (outputRows != null) {
      SparkPlan scan = new ScoredScanExec(SparkShim.output(plan), ((LogicalRDD) plan).rdd(), outputRows);
      return List$.MODULE$.empty().$colon$colon(scan);
    }
    return (scala.collection.immutable.Seq<SparkPlan>) (Object) Nil$.MODULE$;
  }
}
