package io.sparkort;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.catalyst.expressions.Alias;
import org.apache.spark.sql.catalyst.expressions.And;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.optimizer.PushDownPredicates$;
import org.apache.spark.sql.catalyst.plans.logical.Filter;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.catalyst.rules.Rule;
import scala.Function1;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractPartialFunction;

/**
 * What the optimizer may do with a scoring node that it cannot know by itself (Spark's own column
 * pruning already narrows the node's child, since the node reads only its feeds):
 * <ul>
 *   <li>a projection that reads no prediction is put over the node's child: the model is skipped;
 *   <li>the deterministic parts of a filter over the node that read only input columns go below it
 *       (and on down the child, by Spark's own predicate pushdown), so rows filtered out are never
 *       scored; a filter on a prediction stays above;
 *   <li>a projection that passes the node's output on as it is, only renaming predictions
 *       ({@code SELECT *, onnx_predict(...) AS p}), becomes the node with its predictions so named:
 *       the rows are not copied once more.
 * </ul>
 * The rule runs in Spark's operator optimization batch where the session was built with
 * {@link SparkOrtExtensions}, else among the session's extra optimizations, after that batch; it
 * converges either way (each rewrite removes a node or moves a filter down).
 */
final class OnnxScoreRules extends Rule<LogicalPlan> {
  private static final long serialVersionUID = 1L;

  static final OnnxScoreRules INSTANCE = new OnnxScoreRules();

  private OnnxScoreRules() {}

  @Override
  public LogicalPlan apply(LogicalPlan plan) {
    return plan.transformUp(new AbstractPartialFunction<LogicalPlan, LogicalPlan>() {
      @Override
      public boolean isDefinedAt(LogicalPlan node) {
        return node instanceof Project && (readsNoPrediction(node) || renamed((Project) node) != null)
            || node instanceof Filter && pushable((Filter) node);
      }

      @Override
      public <A1 extends LogicalPlan, B1> B1 applyOrElse(A1 node, Function1<A1, B1> otherwise) {
        if (node instanceof Project && readsNoPrediction(node)) {
          @SuppressWarnings("unchecked")
          B1 skipped = (B1) skipModel(node);
          return skipped;
        }
        if (node instanceof Project && renamed((Project) node) != null) {
          @SuppressWarnings("unchecked")
          B1 renamed = (B1) renamed((Project) node);
          return renamed;
        }
        if (node instanceof Filter && pushable((Filter) node)) {
          @SuppressWarnings("unchecked")
          B1 pushed = (B1) pushBelow((Filter) node);
          return pushed;
        }
        return otherwise.apply(node);
      }
    });
  }

  private static OnnxScore scoringChild(LogicalPlan node) {
    List<LogicalPlan> children = SparkShim.javaList(SparkShim.call(node, "children"));
    return children.size() == 1 && children.get(0) instanceof OnnxScore ? (OnnxScore) children.get(0) : null;
  }

  private static boolean readsNoPrediction(LogicalPlan project) {
    OnnxScore score = scoringChild(project);
    return score != null && project.references().intersect(score.predictionSet()).isEmpty();
  }

  /**
   * The scoring node under {@code project} with its predictions named as the projection names them,
   * when the projection lists the node's output in order, each column as it is or (a prediction)
   * under an alias; else null.
   */
  private static OnnxScore renamed(Project project) {
    OnnxScore score = scoringChild(project);
    if (score == null) {
      return null;
    }
    List<Attribute> out = SparkShim.output(score);
    List<Expression> list = SparkShim.javaList(SparkShim.call(project, "projectList"));
    if (list.size() != out.size()) {
      return null;
    }
    int passed = out.size() - SparkShim.javaList(score.predictions()).size();
    List<Attribute> predictions = new ArrayList<>();
    boolean anyAlias = false;
    for (int i = 0; i < out.size(); i++) {
      Expression e = list.get(i);
      Attribute a = out.get(i);
      if (e instanceof Attribute && ((Attribute) e).exprId().equals(a.exprId())) {
        if (i >= passed) {
          predictions.add(a);
        }
      } else if (i >= passed && e instanceof Alias && ((Alias) e).child() instanceof Attribute
          && ((Attribute) ((Alias) e).child()).exprId().equals(a.exprId()) && ((Alias) e).explicitMetadata().isEmpty()
          && SparkShim.javaList(SparkShim.call(e, "qualifier")).isEmpty()) {
        Alias alias = (Alias) e;
        predictions.add(a.withName(alias.name()).withExprId(alias.exprId()));
        anyAlias = true;
      } else {
        return null;
      }
    }
    return anyAlias ? score.withPredictions(predictions) : null;
  }

  private static LogicalPlan skipModel(LogicalPlan project) {
    final LogicalPlan below = scoringChild(project).child();
    return project.mapChildren(new AbstractFunction1<LogicalPlan, LogicalPlan>() {
      @Override
      public LogicalPlan apply(LogicalPlan child) {
        return below;
      }
    });
  }

  private static boolean pushable(Filter filter) {
    OnnxScore score = scoringChild(filter);
    if (score == null) {
      return false;
    }
    for (Expression part : conjuncts(filter.condition())) {
      if (canPush(part, score)) {
        return true;
      }
    }
    return false;
  }

  private static boolean canPush(Expression part, OnnxScore score) {
    return part.deterministic() && part.references().subsetOf(score.child().outputSet());
  }

  private static LogicalPlan pushBelow(Filter filter) {
    OnnxScore score = scoringChild(filter);
    List<Expression> below = new ArrayList<>();
    List<Expression> above = new ArrayList<>();
    for (Expression part : conjuncts(filter.condition())) {
      (canPush(part, score) ? below : above).add(part);
    }
    LogicalPlan filtered = PushDownPredicates$.MODULE$.apply(new Filter(and(below), score.child()));
    OnnxScore scored = score.withNewChild(filtered);
    return above.isEmpty() ? scored : new Filter(and(above), scored);
  }

  private static List<Expression> conjuncts(Expression condition) {
    List<Expression> parts = new ArrayList<>();
    if (condition instanceof And) {
      parts.addAll(conjuncts(((And) condition).left()));
      parts.addAll(conjuncts(((And) condition).right()));
    } else {
      parts.add(condition);
    }
    return parts;
  }

  private static Expression and(List<Expression> parts) {
    Expression all = parts.get(0);
    for (int i = 1; i < parts.size(); i++) {
      all = new And(all, parts.get(i));
    }
    return all;
  }
}
