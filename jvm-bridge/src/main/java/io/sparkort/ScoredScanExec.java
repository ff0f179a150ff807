package io.sparkort;

import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeSet;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.metric.SQLMetric;
import scala.collection.immutable.Nil$;

/**
 * The physical plan of a scored DataFrame: hands the scorer's rows on as they are. Spark plans any
 * DataFrame made from an RDD of internal rows as {@code RDDScanExec}, which copies every row through
 * an UnsafeProjection because it cannot know they are UnsafeRows already; the scorer's are.
 *
 * <p>Public, with a public constructor over its product elements and then {@code otherCopyArgs},
 * because Spark copies plan nodes by reflection. One class file serves Scala 2.12 and 2.13: the Seq-typed members return immutable
 * Seqs (2.13's Seq, a subtype of 2.12's) and {@code withNewChildrenInternal} is declared for both
 * lines' IndexedSeq.
 */
public final class ScoredScanExec extends SparkPlan {
  private static final long serialVersionUID = 1L;

  private final scala.collection.immutable.Seq<Attribute> output;
  private final RDD<InternalRow> rows;
  /** Counted by the scorer as it hands rows on (it is the one that sees them). */
  private final SQLMetric outputRows;

  public ScoredScanExec(scala.collection.immutable.Seq<Attribute> output, RDD<InternalRow> rows, SQLMetric outputRows) {
    this.output = output;
    this.rows = rows;
    this.outputRows = outputRows;
  }

  @Override
  public scala.collection.immutable.Seq<Attribute> output() {
    return output;
  }

  @Override
  public RDD<InternalRow> doExecute() {
    return rows;
  }

  @Override
  public scala.collection.immutable.Map<String, SQLMetric> metrics() {
    return new scala.collection.immutable.Map.Map1<>("numOutputRows", outputRows);
  }

  SQLMetric outputRows() {
    return outputRows;
  }

  /** The constructor argument that is not a product element, for Spark's reflective copies. */
  @Override
  public scala.collection.immutable.Seq<Object> otherCopyArgs() {
    return scala.collection.immutable.List$.MODULE$.empty().$colon$colon(outputRows);
  }

  /** Like every leaf, it makes its output attributes rather than taking them from a child. */
  @Override
  public AttributeSet producedAttributes() {
    return outputSet();
  }

  @Override
  @SuppressWarnings("unchecked")
  public scala.collection.immutable.Seq<SparkPlan> children() {
    return (scala.collection.immutable.Seq<SparkPlan>) (Object) Nil$.MODULE$;
  }

  @Override
  public SparkPlan withNewChildrenInternal(scala.collection.IndexedSeq<SparkPlan> children) {
    return this;
  }

  /** Scala 2.13's signature of the method above. */
  public SparkPlan withNewChildrenInternal(scala.collection.immutable.IndexedSeq<SparkPlan> children) {
    return this;
  }

  @Override
  public int productArity() {
    return 2;
  }

  @Override
  public Object productElement(int n) {
    switch (n) {
      case 0:
        return output;
      case 1:
        return rows;
      default:
        throw new IndexOutOfBoundsException(String.valueOf(n));
    }
  }

  @Override
  public boolean canEqual(Object that) {
    return that instanceof ScoredScanExec;
  }
}
