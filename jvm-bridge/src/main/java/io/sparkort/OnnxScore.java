package io.sparkort;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.spark.sql.catalyst.analysis.DeduplicateRelations$;
import org.apache.spark.sql.catalyst.analysis.MultiInstanceRelation;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeSet;
import org.apache.spark.sql.catalyst.plans.Inner$;
import org.apache.spark.sql.catalyst.plans.logical.Join;
import org.apache.spark.sql.catalyst.plans.logical.JoinHint$;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;

/**
 * The logical plan of a scored DataFrame: its child's rows, each with the model's predictions
 * added. Its output is the child's output followed by {@link #predictions}; it reads only
 * {@link #feeds}, so Spark's column pruning narrows the child to what the model and the plan above
 * need, and {@link OnnxScoreRules} drop the node when nothing reads a prediction and push filters on
 * input columns below it. {@link OnnxScoreStrategy} plans it as {@link OnnxScoreExec}.
 *
 * <p>Written in Java against Spark 3.5 and run on 4.x too: it extends {@code LogicalPlan} directly
 * (Scala traits such as {@code UnaryNode} have other signatures on each Scala line), its Seq-typed
 * members return immutable Seqs (2.13's Seq, a subtype of 2.12's), Spark's own Seq-returning methods
 * are reached through {@link SparkShim}, and {@code withNewChildrenInternal} is declared for both
 * lines' IndexedSeq. Spark copies plan nodes by reflection, through the public constructor over
 * the product elements.
 *
 * <p>A DataFrame joined with itself holds the node twice. Spark's analyzer gives the second copy of a
 * plan new attribute ids where it knows how each node makes its attributes; for any other node it
 * asks a {@link MultiInstanceRelation} for a {@link #newInstance}, which this node answers with new
 * ids for its predictions and for its whole child.
 */
public final class OnnxScore extends LogicalPlan implements MultiInstanceRelation {
  private static final long serialVersionUID = 1L;

  private final LogicalPlan child;
  /** The child's attributes the model reads, in feed order. */
  private final scala.collection.immutable.List<Attribute> feeds;
  /** The columns the node adds, in fetch order. */
  private final scala.collection.immutable.List<Attribute> predictions;
  private final ScoringRequest request;

  public OnnxScore(LogicalPlan child, scala.collection.Seq<Attribute> feeds, scala.collection.Seq<Attribute> predictions,
      ScoringRequest request) {
    this.child = child;
    this.feeds = SparkShim.scalaList(SparkShim.<Attribute>javaList(feeds));
    this.predictions = SparkShim.scalaList(SparkShim.<Attribute>javaList(predictions));
    this.request = request;
  }

  /** The node over {@code input}'s plan: {@code plan} was made from {@code input}'s schema, whose fields are its output. */
  static OnnxScore over(LogicalPlan input, ScoringPlan plan, ScoringRequest request) {
    List<Attribute> inputs = SparkShim.output(input);
    List<Attribute> feeds = new ArrayList<>();
    for (ScoringPlan.Feed feed : plan.feeds) {
      for (int ordinal : feed.ordinals) {
        feeds.add(inputs.get(ordinal));
      }
    }
    List<Attribute> predictions = new ArrayList<>();
    for (org.apache.spark.sql.types.StructField field : plan.predictionSchema().fields()) {
      predictions.add(SparkShim.toAttribute(field));
    }
    return new OnnxScore(input, SparkShim.scalaList(feeds), SparkShim.scalaList(predictions), request);
  }

  /**
   * This node with new ids for every attribute it outputs: the child is renewed as Spark renews the
   * right side of a self-join (the analyzer's own deduplication over {@code child JOIN child}).
   */
  @Override
  public LogicalPlan newInstance() {
    Join twice = new Join(child, child, Inner$.MODULE$, scala.Option.<org.apache.spark.sql.catalyst.expressions.Expression>empty(),
        JoinHint$.MODULE$.NONE());
    LogicalPlan renewed = ((Join) DeduplicateRelations$.MODULE$.apply(twice)).right();
    List<Attribute> before = SparkShim.output(child);
    List<Attribute> after = SparkShim.output(renewed);
    List<Attribute> newFeeds = new ArrayList<>();
    for (Attribute feed : SparkShim.<Attribute>javaList(feeds)) {
      newFeeds.add(after.get(indexOf(before, feed)));
    }
    List<Attribute> newPredictions = new ArrayList<>();
    for (Attribute prediction : SparkShim.<Attribute>javaList(predictions)) {
      newPredictions.add(prediction.newInstance());
    }
    return new OnnxScore(renewed, SparkShim.scalaList(newFeeds), SparkShim.scalaList(newPredictions), request);
  }

  /** Where {@code attribute} (by id) is in {@code attributes}: a feed is always among its child's outputs. */
  private static int indexOf(List<Attribute> attributes, Attribute attribute) {
    for (int i = 0; i < attributes.size(); i++) {
      if (attributes.get(i).exprId().equals(attribute.exprId())) {
        return i;
      }
    }
    throw new IllegalStateException("feed " + attribute + " is not among its child's outputs " + attributes);
  }

  public LogicalPlan child() {
    return child;
  }

  scala.collection.immutable.List<Attribute> predictions() {
    return predictions;
  }

  ScoringRequest request() {
    return request;
  }

  AttributeSet predictionSet() {
    return SparkShim.attributeSet(predictions);
  }

  @Override
  public scala.collection.immutable.Seq<Attribute> output() {
    List<Attribute> out = SparkShim.output(child);
    out.addAll(SparkShim.javaList(predictions));
    return SparkShim.scalaList(out);
  }

  @Override
  public AttributeSet producedAttributes() {
    return predictionSet();
  }

  @Override
  public AttributeSet references() {
    return SparkShim.attributeSet(feeds);
  }

  @Override
  public scala.Option<Object> maxRows() {
    return child.maxRows();
  }

  @Override
  public scala.Option<Object> maxRowsPerPartition() {
    return child.maxRowsPerPartition();
  }

  @Override
  public String simpleString(int maxFields) {
    return "OnnxScore " + request.modelLocation + ", feeds " + SparkShim.javaList(feeds)
        + ", predictions " + SparkShim.javaList(predictions);
  }

  @Override
  @SuppressWarnings("unchecked")
  public scala.collection.immutable.Seq<LogicalPlan> children() {
    return (scala.collection.immutable.Seq<LogicalPlan>) (Object) SparkShim.scalaList(java.util.Collections.singletonList(child));
  }

  OnnxScore withPredictions(List<Attribute> renamed) {
    return new OnnxScore(child, feeds, SparkShim.scalaList(renamed), request);
  }

  OnnxScore withNewChild(LogicalPlan newChild) {
    return new OnnxScore(newChild, feeds, predictions, request);
  }

  @Override
  public LogicalPlan withNewChildrenInternal(scala.collection.IndexedSeq<LogicalPlan> children) {
    return withNewChild(children.apply(0));
  }

  /**
   * Scala 2.13's signature of the method above: there {@code TreeNode} declares it over an immutable
   * IndexedSeq, erased to return {@code TreeNode}, so it is declared so here (javac makes no bridge
   * for a method it does not know as an override).
   */
  public org.apache.spark.sql.catalyst.trees.TreeNode<?> withNewChildrenInternal(
      scala.collection.immutable.IndexedSeq<LogicalPlan> children) {
    return withNewChild(children.apply(0));
  }

  @Override
  public int productArity() {
    return 4;
  }

  @Override
  public Object productElement(int n) {
    switch (n) {
      case 0:
        return child;
      case 1:
        return feeds;
      case 2:
        return predictions;
      case 3:
        return request;
      default:
        throw new IndexOutOfBoundsException(String.valueOf(n));
    }
  }

  @Override
  public boolean canEqual(Object that) {
    return that instanceof OnnxScore;
  }

  /** Structural, as a case class's: Spark compares canonicalized plans (caching, reuse) with equals. */
  @Override
  public boolean equals(Object other) {
    if (!(other instanceof OnnxScore)) {
      return false;
    }
    OnnxScore that = (OnnxScore) other;
    return request == that.request && child.equals(that.child) && feeds.equals(that.feeds)
        && predictions.equals(that.predictions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(child, feeds, predictions, System.identityHashCode(request));
  }
}
