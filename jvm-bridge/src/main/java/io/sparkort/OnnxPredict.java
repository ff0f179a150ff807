package io.sparkort;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.Expression;
import org.apache.spark.sql.catalyst.expressions.Unevaluable;
import org.apache.spark.sql.catalyst.expressions.codegen.CodegenContext;
import org.apache.spark.sql.catalyst.expressions.codegen.ExprCode;
import org.apache.spark.sql.types.DataType;

/**
 * A call of {@code onnx_predict(model, input...)} or of a registered model's function, as the
 * analyzer resolved it: its children are the inputs, {@link PredictCall} the model and what it
 * returns. It is never evaluated a row at a time: {@link ExtractOnnxPredict} replaces it with the
 * predictions of an {@link OnnxScore} node below the operator that holds it, so SQL and Column
 * expressions score through the same batched node as {@code OnnxModel.transform}.
 *
 * <p>Deterministic (the same inputs give the same predictions), {@link Unevaluable}, so Spark's
 * optimizer never evaluates it on the driver (folding constants, local relations). Written in Java
 * against Spark 3.5 and run on 4.x as {@link OnnxScore} is: Seq-typed members return immutable
 * Lists and {@code withNewChildrenInternal} is declared for both Scala lines' IndexedSeq.
 */
public final class OnnxPredict extends Expression implements Unevaluable {
  private static final long serialVersionUID = 1L;

  private final scala.collection.immutable.List<Expression> inputs;
  private final PredictCall call;

  public OnnxPredict(scala.collection.Seq<Expression> inputs, PredictCall call) {
    this.inputs = SparkShim.scalaList(SparkShim.<Expression>javaList(inputs));
    this.call = call;
  }

  PredictCall call() {
    return call;
  }

  List<Expression> inputList() {
    return SparkShim.javaList(inputs);
  }

  @Override
  @SuppressWarnings("unchecked")
  public scala.collection.immutable.Seq<Expression> children() {
    return (scala.collection.immutable.Seq<Expression>) (Object) inputs;
  }

  @Override
  public DataType dataType() {
    return call.dataType;
  }

  @Override
  public boolean nullable() {
    return call.keepNulls;
  }

  @Override
  public String prettyName() {
    return call.function;
  }

  /** As it would be written in SQL: the model's location first for {@code onnx_predict}. */
  @Override
  public String sql() {
    List<String> args = new ArrayList<>();
    if (call.named == null) {
      args.add("'" + call.location.replace("'", "\\'") + "'");
    }
    for (Expression input : inputList()) {
      args.add(input.sql());
    }
    return call.function + "(" + String.join(", ", args) + ")";
  }

  @Override
  public String toString() {
    return sql();
  }

  @Override
  public Object eval(InternalRow row) {
    throw notPlanned();
  }

  @Override
  public ExprCode doGenCode(CodegenContext context, ExprCode code) {
    throw notPlanned();
  }

  /** Reached only if a plan kept the call where sparkort's rule could not take it out. */
  private SparkOrtException notPlanned() {
    return new InvalidInputException(call.function + " can only be used in SELECT, WHERE, GROUP BY, ORDER BY, "
        + "window and generator expressions over one input (not in a join condition), in a session with "
        + SparkOrtExtensions.class.getName() + " in spark.sql.extensions or where the OnnxModel API has been used: "
        + sql());
  }

  OnnxPredict withInputs(List<Expression> newInputs) {
    return new OnnxPredict(SparkShim.scalaList(newInputs), call);
  }

  @Override
  public Expression withNewChildrenInternal(scala.collection.IndexedSeq<Expression> children) {
    return withInputs(SparkShim.<Expression>javaList(children));
  }

  /** Scala 2.13's signature of the method above (see {@link OnnxScore}). */
  public org.apache.spark.sql.catalyst.trees.TreeNode<?> withNewChildrenInternal(
      scala.collection.immutable.IndexedSeq<Expression> children) {
    return withInputs(SparkShim.<Expression>javaList(children));
  }

  @Override
  public int productArity() {
    return 2;
  }

  @Override
  public Object productElement(int n) {
    switch (n) {
      case 0:
        return inputs;
      case 1:
        return call;
      default:
        throw new IndexOutOfBoundsException(String.valueOf(n));
    }
  }

  @Override
  public boolean canEqual(Object that) {
    return that instanceof OnnxPredict;
  }

  /** Structural, as a case class's: the optimizer and {@code semanticEquals} compare calls with it. */
  @Override
  public boolean equals(Object other) {
    if (!(other instanceof OnnxPredict)) {
      return false;
    }
    OnnxPredict that = (OnnxPredict) other;
    return call.equals(that.call) && inputs.equals(that.inputs);
  }

  @Override
  public int hashCode() {
    return Objects.hash(inputs, call);
  }
}
