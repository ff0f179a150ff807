package io.sparkort;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.spark.SparkContext;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.catalyst.expressions.AttributeSet;
import org.apache.spark.sql.catalyst.expressions.SortOrder;
import org.apache.spark.sql.catalyst.plans.physical.Partitioning;
import org.apache.spark.sql.execution.ColumnarToRowExec;
import org.apache.spark.sql.execution.SparkPlan;
import org.apache.spark.sql.execution.metric.SQLMetric;
import org.apache.spark.sql.execution.metric.SQLMetrics;
import org.apache.spark.sql.execution.vectorized.OffHeapColumnVector;
import org.apache.spark.sql.internal.SQLConf;
import org.apache.spark.sql.vectorized.ColumnVector;
import org.apache.spark.sql.vectorized.ColumnarBatch;

/**
 * The physical plan of {@link OnnxScore}: scores its child's partitions with the one scoring path,
 * {@link PartitionScorer}, in {@code mapPartitions} of {@code child.execute()}. The scorer's rows
 * are UnsafeRows of the child's values followed by the predictions, handed on with no second copy.
 * Rows keep the child's partitioning and order; the SQL tab shows the node's own metrics.
 *
 * <p>Over a child that hands over column batches, where the plan allows ({@link
 * ColumnarScorer#accepts}) and {@value SparkOrtConf#COLUMNAR} is not false, the node is columnar:
 * it scores {@code child.executeColumnar()} with {@link ColumnarScorer}, and hands the scored
 * batches on as they are to a parent that takes batches, or as rows it builds itself ({@link
 * ColumnarRows}) to one that takes rows.
 *
 * <p>Public, with a public constructor over its product elements and then {@code otherCopyArgs},
 * because Spark copies plan nodes by reflection; see {@link OnnxScore} for how one class file serves
 * Scala 2.12 and 2.13.
 */
public final class OnnxScoreExec extends SparkPlan {
  private static final long serialVersionUID = 1L;

  private final SparkPlan child;
  /** The most output columns whose vector classes the node names (see {@link #vectorTypes}). */
  static final int TYPED_COLUMNS = 100;
  private final scala.collection.immutable.List<Attribute> predictions;
  private final ScoringRequest request;
  /** Kept by every copy of the node, so the metrics the SQL tab shows are the ones the tasks add to. */
  private final NodeMetrics nodeMetrics;

  /** The SQL tab's figures for one scoring node, added to by its tasks. */
  static final class NodeMetrics implements Serializable {
    private static final long serialVersionUID = 1L;
    final SQLMetric outputRows;
    final SQLMetric scoredRows;
    final SQLMetric batches;
    final SQLMetric modelTime;

    NodeMetrics(SparkContext context) {
      outputRows = SQLMetrics.createMetric(context, "number of output rows");
      scoredRows = SQLMetrics.createMetric(context, "rows scored");
      batches = SQLMetrics.createMetric(context, "batches");
      modelTime = SQLMetrics.createNanoTimingMetric(context, "time in model", SQLMetrics.createNanoTimingMetric$default$3());
    }
  }

  public OnnxScoreExec(SparkPlan child, scala.collection.Seq<Attribute> predictions, ScoringRequest request,
      NodeMetrics nodeMetrics) {
    this.child = child;
    this.predictions = SparkShim.scalaList(SparkShim.<Attribute>javaList(predictions));
    this.request = request;
    this.nodeMetrics = nodeMetrics != null ? nodeMetrics : new NodeMetrics(sparkContext());
  }

  public SparkPlan child() {
    return child;
  }

  NodeMetrics nodeMetrics() {
    return nodeMetrics;
  }

  @Override
  public scala.collection.immutable.Seq<Attribute> output() {
    List<Attribute> out = SparkShim.output(child);
    out.addAll(SparkShim.javaList(predictions));
    return SparkShim.scalaList(out);
  }

  @Override
  public AttributeSet producedAttributes() {
    return SparkShim.attributeSet(predictions);
  }

  /** Whether the node scores column batches: worked out once per node, on the driver, as Spark plans. */
  private transient Boolean columnar;

  @Override
  public boolean supportsColumnar() {
    if (columnar == null) {
      columnar = columnarEnabled() && child.supportsColumnar() && columnarPlan();
    }
    return columnar;
  }

  /**
   * The classes of the output batch's vectors, so that the columnar-to-row step above compiles
   * calls to them, not to {@code ColumnVector}'s interface: the child's vectors as they come (where
   * the child names theirs) and the predictions' off-heap vectors. Not above {@value
   * #TYPED_COLUMNS} columns (Spark's default {@code spark.sql.codegen.maxFields}): that step reads
   * every column in one generated method, and with the calls to known classes inlined, a method
   * for a hundred columns and more is at the size where HotSpot's C2 compiler runs out of nodes
   * in some JVMs and not others (measured on the 101-column bench table from the cache: 4.9 us a
   * row in most JVMs, 11 in some); through the interface it stays smaller.
   */
  @Override
  @SuppressWarnings({"rawtypes", "unchecked"})
  public scala.Option vectorTypes() {
    int width = SparkShim.output(child).size();
    if (!supportsColumnar() || width + predictions.length() > TYPED_COLUMNS) {
      return scala.Option.empty();
    }
    scala.Option<?> childTypes = child.vectorTypes();
    List<String> types = new ArrayList<>();
    if (childTypes.isDefined()) {
      types.addAll(SparkShim.<String>javaList(childTypes.get()));
    } else {
      for (int c = 0; c < width; c++) {
        types.add(ColumnVector.class.getName());
      }
    }
    for (int p = 0; p < predictions.length(); p++) {
      types.add(OffHeapColumnVector.class.getName());
    }
    return scala.Option.apply(SparkShim.scalaList(types));
  }

  /** {@value SparkOrtConf#COLUMNAR} in the session planning. */
  static boolean columnarEnabled() {
    return !"false".equalsIgnoreCase(SQLConf.get().getConfString(SparkOrtConf.COLUMNAR, "true").trim());
  }

  private boolean columnarPlan() {
    return ColumnarScorer.accepts(request.planFor(SparkShim.output(child)));
  }

  /**
   * The copy Spark compares plans by names every column "none", so no scoring plan can be worked
   * out for it: it answers {@link #supportsColumnar} as this node does (a columnar-to-row step
   * above it checks).
   */
  @Override
  public SparkPlan doCanonicalize() {
    OnnxScoreExec canonical = (OnnxScoreExec) super.doCanonicalize();
    canonical.columnar = supportsColumnar();
    return canonical;
  }

  @Override
  public RDD<ColumnarBatch> doExecuteColumnar() {
    ScoringPlan plan = request.planFor(SparkShim.output(child));
    ColumnarScorer scorer = new ColumnarScorer(plan, request.source, request.batchSize, request.metrics, nodeMetrics);
    return named(child.executeColumnar().toJavaRDD().mapPartitions(scorer, true).rdd());
  }

  /**
   * Rows as well as column batches: over a child that hands over batches, a parent that takes rows
   * gets them from the node itself ({@link ColumnarRows}), not from a columnar-to-row step of
   * Spark's, and the node reads its child's batches all the same ({@link #withNewChildrenInternal}).
   */
  @Override
  public boolean supportsRowBased() {
    return true;
  }

  @Override
  public RDD<InternalRow> doExecute() {
    if (supportsColumnar()) {
      ColumnarRows.Function rows = new ColumnarRows.Function(schema());
      return doExecuteColumnar().toJavaRDD().mapPartitions(rows, true).rdd();
    }
    ScoringPlan plan = request.planFor(SparkShim.output(child));
    PartitionScorer scorer = new PartitionScorer(plan, request.source, request.batchSize, request.metrics, nodeMetrics);
    return named(child.execute().toJavaRDD().mapPartitions(scorer, true).rdd());
  }

  /** The scored RDD, named for the lost-executor reports (installed on the context first). */
  private <T> RDD<T> named(RDD<T> scored) {
    LostExecutorReports.installOn(sparkContext());
    scored.setName(LostExecutorReports.rddName(request.modelLocation));
    return scored;
  }

  /** One output row per input row, in place: the child's partitioning and ordering hold. */
  @Override
  public Partitioning outputPartitioning() {
    return child.outputPartitioning();
  }

  @Override
  public scala.collection.immutable.Seq<SortOrder> outputOrdering() {
    return SparkShim.scalaList(SparkShim.<SortOrder>javaList(SparkShim.call(child, "outputOrdering")));
  }

  @Override
  public scala.collection.immutable.Map<String, SQLMetric> metrics() {
    return new scala.collection.immutable.Map.Map4<>("numOutputRows", nodeMetrics.outputRows,
        "scoredRows", nodeMetrics.scoredRows, "batches", nodeMetrics.batches, "modelTime", nodeMetrics.modelTime);
  }

  @Override
  public String simpleString(int maxFields) {
    return "OnnxScore " + request.modelLocation + ", fetch " + request.fetchPairs() + ", batchSize "
        + request.batchSizeText() + ", predictions " + SparkShim.javaList(predictions)
        + (supportsColumnar() ? ", columnar" : "");
  }

  @Override
  public scala.collection.immutable.Seq<Object> otherCopyArgs() {
    return scala.collection.immutable.List$.MODULE$.empty().$colon$colon(nodeMetrics);
  }

  @Override
  @SuppressWarnings("unchecked")
  public scala.collection.immutable.Seq<SparkPlan> children() {
    return (scala.collection.immutable.Seq<SparkPlan>) (Object) SparkShim.scalaList(java.util.Collections.singletonList(child));
  }

  /**
   * A columnar-to-row step put over this node's child (as Spark's planning does under a node that
   * takes rows, which this one also does) is left out where the node reads that child's batches: it
   * scores them as batches and builds its rows itself. Only a step over the very child this node
   * has, and only where this node is columnar over it: a copy made otherwise (the canonical copy
   * Spark compares plans by, say, whose columns are all named "none") keeps its child as it comes.
   */
  private OnnxScoreExec withNewChild(SparkPlan newChild) {
    if (newChild instanceof ColumnarToRowExec && ((ColumnarToRowExec) newChild).child().fastEquals(child)
        && supportsColumnar()) {
      return new OnnxScoreExec(child, predictions, request, nodeMetrics);
    }
    return new OnnxScoreExec(newChild, predictions, request, nodeMetrics);
  }

  @Override
  public SparkPlan withNewChildrenInternal(scala.collection.IndexedSeq<SparkPlan> children) {
    return withNewChild(children.apply(0));
  }

  /**
   * Scala 2.13's signature of the method above: there {@code TreeNode} declares it over an immutable
   * IndexedSeq, erased to return {@code TreeNode}, so it is declared so here (javac makes no bridge
   * for a method it does not know as an override).
   */
  public org.apache.spark.sql.catalyst.trees.TreeNode<?> withNewChildrenInternal(
      scala.collection.immutable.IndexedSeq<SparkPlan> children) {
    return withNewChild(children.apply(0));
  }

  @Override
  public int productArity() {
    return 3;
  }

  @Override
  public Object productElement(int n) {
    switch (n) {
      case 0:
        return child;
      case 1:
        return predictions;
      case 2:
        return request;
      default:
        throw new IndexOutOfBoundsException(String.valueOf(n));
    }
  }

  @Override
  public boolean canEqual(Object that) {
    return that instanceof OnnxScoreExec;
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof OnnxScoreExec)) {
      return false;
    }
    OnnxScoreExec that = (OnnxScoreExec) other;
    return request == that.request && child.equals(that.child) && predictions.equals(that.predictions);
  }

  @Override
  public int hashCode() {
    return Objects.hash(child, predictions, System.identityHashCode(request));
  }
}
