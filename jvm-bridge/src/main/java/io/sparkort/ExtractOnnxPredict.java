package io.sparkort;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.apache.spark.sql.catalyst.expressions.Alias;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeReference;
import org.apache.spark.sql.catalyst.expressions.CreateNamedStruct;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.Literal$;
import org.apache.spark.sql.catalyst.expressions.NamedExpression;
import org.apache.spark.sql.catalyst.expressions.NamedExpression$;
import org.apache.spark.sql.catalyst.optimizer.CollapseProject$;
import org.apache.spark.sql.catalyst.optimizer.ColumnPruning$;
import org.apache.spark.sql.catalyst.optimizer.RemoveNoopOperators$;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Project;
import org.apache.spark.sql.catalyst.rules.Rule;
import scala.Function1;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractPartialFunction;

/**
 * Takes each {@link OnnxPredict} call out of the operator that holds it (a projection, filter,
 * aggregate, sort, window, generator) and scores it in an {@link OnnxScore} node below that
 * operator, whose predictions replace the call: SQL scores through the one batched scoring node, as
 * Spark's {@code ExtractPythonUDFs} does for batched Python UDFs. Semantically equal calls in one
 * operator score once. A call's arguments that are not plain columns are computed by a projection
 * under the node; an operator whose output would change (a filter, sort or window passes its
 * child's columns on) is wrapped in a projection of its own output.
 *
 * <p>It runs in analysis ({@link #IN_ANALYSIS}, as a post-hoc resolution rule, where the session
 * has {@link SparkOrtExtensions}), so the optimizer sees the node; a session without the extension
 * runs it among its extra optimizations ({@link #IN_OPTIMIZER}), then prunes columns and applies
 * {@link OnnxScoreRules} over the new node itself.
 */
final class ExtractOnnxPredict extends Rule<LogicalPlan> {
  private static final long serialVersionUID = 1L;

  static final ExtractOnnxPredict IN_ANALYSIS = new ExtractOnnxPredict(false);
  static final ExtractOnnxPredict IN_OPTIMIZER = new ExtractOnnxPredict(true);

  private final boolean optimizing;

  private ExtractOnnxPredict(boolean optimizing) {
    this.optimizing = optimizing;
  }

  @Override
  public String ruleName() {
    return "io.sparkort.ExtractOnnxPredict" + (optimizing ? "(optimizer)" : "");
  }

  @Override
  public LogicalPlan apply(LogicalPlan plan) {
    if (!planHasCalls(plan)) {
      return plan;
    }
    AbstractPartialFunction<LogicalPlan, LogicalPlan> extract = new AbstractPartialFunction<LogicalPlan, LogicalPlan>() {
      @Override
      public boolean isDefinedAt(LogicalPlan node) {
        // An operator the analyzer could not resolve is left for its own error.
        return node.resolved() && !innermostCalls(node).isEmpty();
      }

      @Override
      public <A1 extends LogicalPlan, B1> B1 applyOrElse(A1 node, Function1<A1, B1> otherwise) {
        if (!isDefinedAt(node)) {
          return otherwise.apply(node);
        }
        @SuppressWarnings("unchecked")
        B1 extracted = (B1) extract(node);
        return extracted;
      }
    };
    if (!optimizing) {
      return plan.resolveOperatorsUp(extract);
    }
    LogicalPlan extracted = plan.transformUp(extract);
    LogicalPlan pruned = RemoveNoopOperators$.MODULE$.apply(CollapseProject$.MODULE$.apply(
        ColumnPruning$.MODULE$.apply(extracted)));
    return OnnxScoreRules.INSTANCE.apply(pruned);
  }

  /** {@code node} with its calls scored below it, innermost first (a call may take another's result). */
  private static LogicalPlan extract(LogicalPlan node) {
    List<OnnxPredict> calls = innermostCalls(node);
    List<LogicalPlan> children = SparkShim.javaList(SparkShim.call(node, "children"));
    OnnxPredict first = calls.get(0);
    if (children.size() != 1) {
      throw new InvalidInputException(first.call().function + " cannot be used in " + node.nodeName()
          + " (it scores the rows of one input, not a join condition or a set operation): " + first.sql());
    }
    LogicalPlan child = children.get(0);
    List<Expression> replacements = new ArrayList<>();
    for (OnnxPredict call : calls) {
      check(call, child, node);
      Scored scored = scoreBelow(child, call);
      child = scored.plan;
      replacements.add(scored.result);
    }
    LogicalPlan rewritten = replace(node, calls, replacements, child);
    if (!innermostCalls(rewritten).isEmpty()) {
      rewritten = extract(rewritten);
    }
    List<Attribute> before = SparkShim.output(node);
    if (!sameIds(before, SparkShim.output(rewritten))) {
      rewritten = project(new ArrayList<NamedExpression>(before), rewritten);
    }
    return rewritten;
  }

  private static void check(OnnxPredict call, LogicalPlan child, LogicalPlan node) {
    for (Expression input : call.inputList()) {
      String nested = nestedKind(input);
      if (nested != null) {
        throw new InvalidInputException(call.call().function + " scores rows, and its argument " + input.sql()
            + " is " + nested + ": compute it in a subquery, then score the subquery's rows: " + call.sql());
      }
    }
    if (!call.references().subsetOf(child.outputSet())) {
      throw new InvalidInputException(call.call().function + " in " + node.nodeName()
          + " reads columns its input does not have (" + call.references() + "): " + call.sql());
    }
  }

  /** "an aggregate" or "a window function" when {@code e} holds one, else null. */
  private static String nestedKind(Expression e) {
    String name = e.getClass().getSimpleName();
    if (name.equals("AggregateExpression")) {
      return "an aggregate";
    }
    if (name.equals("WindowExpression")) {
      return "a window function";
    }
    for (Expression child : SparkShim.<Expression>javaList(SparkShim.call(e, "children"))) {
      String found = nestedKind(child);
      if (found != null) {
        return found;
      }
    }
    return null;
  }

  /** A child with a scoring node on top for {@code call}, and what replaces the call above it. */
  private static final class Scored {
    final LogicalPlan plan;
    final Expression result;

    Scored(LogicalPlan plan, Expression result) {
      this.plan = plan;
      this.result = result;
    }
  }

  private static Scored scoreBelow(LogicalPlan child, OnnxPredict call) {
    List<Attribute> out = SparkShim.output(child);
    Set<String> taken = new HashSet<>();
    for (Attribute a : out) {
      taken.add(a.name().toLowerCase(Locale.ROOT));
    }
    List<NamedExpression> computed = new ArrayList<>();
    List<String> fed = new ArrayList<>();
    List<Expression> inputs = call.inputList();
    for (int i = 0; i < inputs.size(); i++) {
      Expression input = inputs.get(i);
      if (input instanceof AttributeReference && feedsByName((Attribute) input, out)) {
        fed.add(((Attribute) input).name());
      } else {
        String name = fresh("__onnx_arg" + (i + 1), taken);
        computed.add(alias(input, name));
        fed.add(name);
      }
    }
    LogicalPlan projected = child;
    if (!computed.isEmpty()) {
      List<NamedExpression> list = new ArrayList<NamedExpression>(out);
      list.addAll(computed);
      projected = project(list, child);
    }
    List<String> resultNames = new ArrayList<>();
    for (int k = 0; k < call.call().outputs.size(); k++) {
      resultNames.add(fresh("__onnx_result" + (k + 1), taken));
    }
    ScoringRequest request = call.call().request(fed, resultNames);
    ScoringPlan plan;
    try {
      plan = request.planFor(SparkShim.output(projected));
    } catch (SparkOrtException e) {
      throw PredictCall.prefixed(e, call.sql() + ": ");
    }
    OnnxScore score = OnnxScore.over(projected, plan, request);
    List<Attribute> predictions = SparkShim.javaList(score.predictions());
    Expression result = predictions.get(0);
    if (call.call().struct) {
      List<Expression> pairs = new ArrayList<>();
      for (int k = 0; k < predictions.size(); k++) {
        pairs.add(Literal$.MODULE$.apply(call.call().fields.get(k)));
        pairs.add(predictions.get(k));
      }
      result = SparkShim.construct(CreateNamedStruct.class, SparkShim.scalaList(pairs));
    }
    return new Scored(score, result);
  }

  /** Whether a column can feed the model by its name: no other column of the child has it, in any case. */
  private static boolean feedsByName(Attribute input, List<Attribute> out) {
    if (input.name().contains(",")) {
      return false;
    }
    int same = 0;
    boolean present = false;
    for (Attribute a : out) {
      if (a.name().equalsIgnoreCase(input.name())) {
        same++;
      }
      present |= a.exprId().equals(input.exprId());
    }
    return present && same == 1;
  }

  /** {@code base}, or {@code base_2}, {@code base_3}...: the first not among {@code taken} (ignoring case). */
  private static String fresh(String base, Set<String> taken) {
    String name = base;
    for (int n = 2; taken.contains(name.toLowerCase(Locale.ROOT)); n++) {
      name = base + "_" + n;
    }
    taken.add(name.toLowerCase(Locale.ROOT));
    return name;
  }

  private static LogicalPlan replace(LogicalPlan node, final List<OnnxPredict> calls, final List<Expression> results,
      final LogicalPlan newChild) {
    LogicalPlan replaced = node.transformExpressionsUp(new AbstractPartialFunction<Expression, Expression>() {
      @Override
      public boolean isDefinedAt(Expression e) {
        return indexIn(calls, e) >= 0;
      }

      @Override
      public <A1 extends Expression, B1> B1 applyOrElse(A1 e, Function1<A1, B1> otherwise) {
        int i = indexIn(calls, e);
        if (i < 0) {
          return otherwise.apply(e);
        }
        @SuppressWarnings("unchecked")
        B1 result = (B1) results.get(i);
        return result;
      }
    });
    return replaced.mapChildren(new AbstractFunction1<LogicalPlan, LogicalPlan>() {
      @Override
      public LogicalPlan apply(LogicalPlan child) {
        return newChild;
      }
    });
  }

  private static int indexIn(List<OnnxPredict> calls, Expression e) {
    if (!(e instanceof OnnxPredict)) {
      return -1;
    }
    for (int i = 0; i < calls.size(); i++) {
      if (calls.get(i).semanticEquals(e)) {
        return i;
      }
    }
    return -1;
  }

  /** The distinct calls in {@code node}'s own expressions that take no other call's result. */
  static List<OnnxPredict> innermostCalls(LogicalPlan node) {
    List<OnnxPredict> calls = new ArrayList<>();
    for (Expression e : SparkShim.<Expression>javaList(SparkShim.call(node, "expressions"))) {
      collectInnermost(e, calls);
    }
    return calls;
  }

  /** Adds the innermost calls under {@code e}; returns whether {@code e} holds any call. */
  private static boolean collectInnermost(Expression e, List<OnnxPredict> calls) {
    boolean below = false;
    for (Expression child : SparkShim.<Expression>javaList(SparkShim.call(e, "children"))) {
      below |= collectInnermost(child, calls);
    }
    if (e instanceof OnnxPredict && !below && indexIn(calls, e) < 0) {
      calls.add((OnnxPredict) e);
    }
    return below || e instanceof OnnxPredict;
  }

  private static boolean planHasCalls(LogicalPlan plan) {
    if (!innermostCalls(plan).isEmpty()) {
      return true;
    }
    for (LogicalPlan child : SparkShim.<LogicalPlan>javaList(SparkShim.call(plan, "children"))) {
      if (planHasCalls(child)) {
        return true;
      }
    }
    return false;
  }

  private static boolean sameIds(List<Attribute> a, List<Attribute> b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (int i = 0; i < a.size(); i++) {
      if (!a.get(i).exprId().equals(b.get(i).exprId())) {
        return false;
      }
    }
    return true;
  }

  private static Alias alias(Expression e, String name) {
    return SparkShim.construct(Alias.class, e, name, NamedExpression$.MODULE$.newExprId(), SparkShim.scalaList(new ArrayList<String>()),
        scala.Option.empty(), SparkShim.scalaList(new ArrayList<String>()));
  }

  private static Project project(List<NamedExpression> list, LogicalPlan child) {
    return SparkShim.construct(Project.class, SparkShim.scalaList(list), child);
  }
}
