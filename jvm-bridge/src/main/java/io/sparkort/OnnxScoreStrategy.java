package io.sparkort;

import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.SparkStrategy;
import scala.collection.immutable.List$;
import scala.collection.immutable.Nil$;

/** Plans {@link OnnxScore} as {@link OnnxScoreExec} over its child's physical plan. */
final class OnnxScoreStrategy extends SparkStrategy {
  private static final long serialVersionUID = 1L;

  static final OnnxScoreStrategy INSTANCE = new OnnxScoreStrategy();

  private OnnxScoreStrategy() {}

  @Override
  @SuppressWarnings("unchecked")
  public scala.collection.immutable.Seq<SparkPlan> apply(LogicalPlan plan) {
    if (plan instanceof OnnxScore) {
      OnnxScore score = (OnnxScore) plan;
      SparkPlan exec = new OnnxScoreExec(planLater(score.child()), score.predictions(), score.request(), null);
      return List$.MODULE$.empty().$colon$colon(exec);
    }
    return (scala.collection.immutable.Seq<SparkPlan>) (Object) Nil$.MODULE$;
  }
}
