package io.sparkort;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.execution.SparkStrategy;
import scala.runtime.AbstractFunction1;
import scala.runtime.BoxedUnit;

/**
 * sparkort's entry point for every session of an application:
 * {@code spark.sql.extensions=io.sparkort.SparkOrtExtensions}. It injects the SQL function
 * {@code onnx_predict}, the analyzer rule that turns its calls into scoring nodes
 * ({@link ExtractOnnxPredict}), the scoring node's planner strategy and optimizer rules (in Spark's
 * operator optimization batch). Sessions without it get the same function, strategy and rules
 * through {@code spark.experimental} and the session's function registry the first time they use
 * the OnnxModel API or {@link functions}; there calls are taken out of their operators in the
 * optimizer instead.
 */
public final class SparkOrtExtensions extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {
  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    extensions.injectFunction(PredictFunctions.onnxPredictDescription());
    extensions.injectPostHocResolutionRule(new AbstractFunction1<SparkSession, Rule<LogicalPlan>>() {
      @Override
      public Rule<LogicalPlan> apply(SparkSession session) {
        return ExtractOnnxPredict.IN_ANALYSIS;
      }
    });
    extensions.injectOptimizerRule(new AbstractFunction1<SparkSession, Rule<LogicalPlan>>() {
      @Override
      public Rule<LogicalPlan> apply(SparkSession session) {
        return OnnxScoreRules.INSTANCE;
      }
    });
    extensions.injectPlannerStrategy(new AbstractFunction1<SparkSession, SparkStrategy>() {
      @Override
      public SparkStrategy apply(SparkSession session) {
        return OnnxScoreStrategy.INSTANCE;
      }
    });
    return BoxedUnit.UNIT;
  }
}
