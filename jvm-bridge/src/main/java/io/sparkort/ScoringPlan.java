package io.sparkort;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * What scoring a DataFrame with a model means, worked out on the driver before any task runs:
 * which column feeds which model input and how, which outputs become which columns, and the
 * resulting schema. Every mismatch is reported here, naming the column, the model input or output
 * and what was expected.
 */
final class ScoringPlan implements Serializable {
  private static final long serialVersionUID = 1L;

  /** How a column's value becomes a model input's row. */
  enum ColumnKind {
    /** {@code array<float|double>}: its elements, row-major, are the row's tensor. */
    ARRAY,
    /** A numeric column: one value per row. */
    SCALAR
  }

  /** The Spark numeric types a column (or its array's elements) may hold. */
  enum Numeric {
    BYTE(DataTypes.ByteType),
    SHORT(DataTypes.ShortType),
    INT(DataTypes.IntegerType),
    LONG(DataTypes.LongType),
    FLOAT(DataTypes.FloatType),
    DOUBLE(DataTypes.DoubleType);

    final DataType sparkType;

    Numeric(DataType sparkType) {
      this.sparkType = sparkType;
    }

    /** The kind of {@code type}, or null when it is not numeric. */
    static Numeric of(DataType type) {
      for (Numeric n : values()) {
        if (n.sparkType.equals(type)) {
          return n;
        }
      }
      return null;
    }
  }

  /** One model input and the column feeding it, with everything the per-row writer needs precomputed. */
  static final class Feed implements Serializable {
    private static final long serialVersionUID = 1L;
    final String input;
    final String column;
    final int ordinal;
    final ColumnKind kind;
    /** What the column holds: its type, or its array's element type. */
    final Numeric valueType;
    final ElementType elementType;
    /** The model's per-row shape (batch dimension dropped), -1 where symbolic. */
    final long[] rowShape;
    /** Elements per row when the per-row shape is fixed, else -1 (set by each batch's first row). */
    final long fixedRowElements;
    /** The values already are the model's element type, so arrays copy in bulk. */
    final boolean bulkCopy;
    final String modelShape;

    Feed(String input, String column, int ordinal, ColumnKind kind, Numeric valueType,
        ElementType elementType, long[] rowShape, String modelShape) {
      this.input = input;
      this.column = column;
      this.ordinal = ordinal;
      this.kind = kind;
      this.valueType = valueType;
      this.elementType = elementType;
      this.rowShape = rowShape;
      this.modelShape = modelShape;
      this.bulkCopy = valueType.sparkType.equals(elementType.sparkType);
      long n = 1;
      for (long d : rowShape) {
        n = d < 0 || n < 0 ? -1 : n * d;
      }
      this.fixedRowElements = n;
    }

    String describe() {
      return "column '" + column + "' (model input '" + input + "', " + elementType.onnxName + " " + modelShape + ")";
    }
  }

  static final class Fetch implements Serializable {
    private static final long serialVersionUID = 1L;
    final String column;
    final String output;
    final ElementType elementType;
    /** One value per row: the column holds that value rather than an array. */
    final boolean scalar;

    Fetch(String column, String output, ElementType elementType, boolean scalar) {
      this.column = column;
      this.output = output;
      this.elementType = elementType;
      this.scalar = scalar;
    }
  }

  final List<Feed> feeds;
  final List<Fetch> fetches;
  final StructType outputSchema;

  private ScoringPlan(List<Feed> feeds, List<Fetch> fetches, StructType outputSchema) {
    this.feeds = Collections.unmodifiableList(feeds);
    this.fetches = Collections.unmodifiableList(fetches);
    this.outputSchema = outputSchema;
  }

  String[] fetchNames() {
    String[] names = new String[fetches.size()];
    for (int i = 0; i < names.length; i++) {
      names[i] = fetches.get(i).output;
    }
    return names;
  }

  static ScoringPlan create(StructType schema, ModelSignature signature, Map<String, String> feedDict,
      Map<String, String> fetchDict) {
    return new Builder(schema, signature).build(feedDict, fetchDict);
  }

  private static final class Builder {
    private final StructType schema;
    private final ModelSignature signature;

    Builder(StructType schema, ModelSignature signature) {
      this.schema = schema;
      this.signature = signature;
    }

    ScoringPlan build(Map<String, String> feedDict, Map<String, String> fetchDict) {
      List<Feed> feeds = new ArrayList<>();
      for (ModelSignature.Tensor input : signature.inputs) {
        if (!feedDict.containsKey(input.name)) {
          throw new InvalidInputException("model input '" + input.name + "' (" + input
              + ") is not in feedDict; map every model input to a column. Model inputs: "
              + ModelSignature.names(signature.inputs));
        }
      }
      for (Map.Entry<String, String> entry : feedDict.entrySet()) {
        feeds.add(feed(entry.getKey(), entry.getValue()));
      }
      List<Fetch> fetches = new ArrayList<>();
      StructType out = schema;
      for (Map.Entry<String, String> entry : fetchMapping(fetchDict).entrySet()) {
        Fetch fetch = fetch(entry.getKey(), entry.getValue());
        if (Arrays.asList(out.fieldNames()).contains(fetch.column)) {
          throw new InvalidInputException("output column '" + fetch.column + "' (model output '"
              + fetch.output + "') already exists in the DataFrame; choose another name in fetchDict");
        }
        DataType type = fetch.scalar ? fetch.elementType.sparkType : DataTypes.createArrayType(fetch.elementType.sparkType, false);
        out = out.add(new StructField(fetch.column, type, false, Metadata.empty()));
        fetches.add(fetch);
      }
      return new ScoringPlan(feeds, fetches, out);
    }

    private Map<String, String> fetchMapping(Map<String, String> fetchDict) {
      if (!fetchDict.isEmpty()) {
        return fetchDict;
      }
      Map<String, String> all = new LinkedHashMap<>();
      for (ModelSignature.Tensor output : signature.outputs) {
        all.put(output.name, output.name);
      }
      return all;
    }

    private Feed feed(String inputName, String columnName) {
      ModelSignature.Tensor input = signature.input(inputName);
      if (input == null) {
        throw new InvalidInputException("feedDict names model input '" + inputName + "' (for column '"
            + columnName + "'), which the model does not have. Model inputs: " + ModelSignature.names(signature.inputs));
      }
      int ordinal = columnIndex(columnName);
      if (ordinal < 0) {
        throw new InvalidInputException("feedDict maps model input '" + inputName + "' to column '" + columnName
            + "', which is not in the DataFrame. Columns: " + String.join(", ", schema.fieldNames()));
      }
      ElementType elementType = input.isTensor() ? ElementType.fromName(input.elementType) : null;
      if (elementType == null) {
        throw new InvalidInputException("model input '" + inputName + "' takes " + input.elementType
            + " " + input.describeShape() + "; this release feeds float32 and float64 tensors");
      }
      if (input.shape.length == 0 || input.shape[0] >= 0) {
        throw new InvalidInputException("model input '" + inputName + "' has shape " + input.describeShape()
            + " with no symbolic batch dimension first; this release scores models whose first dimension is the batch");
      }
      long[] rowShape = Arrays.copyOfRange(input.shape, 1, input.shape.length);
      DataType columnType = schema.fields()[ordinal].dataType();
      String expected = "column '" + columnName + "' feeds model input '" + inputName + "' ("
          + elementType.onnxName + " " + input.describeShape() + ")";
      if (columnType instanceof ArrayType) {
        DataType element = ((ArrayType) columnType).elementType();
        if (!(element instanceof FloatType || element instanceof DoubleType)) {
          throw new InvalidInputException(expected + " but holds " + columnType.simpleString()
              + "; expected array<float> or array<double>");
        }
        if (symbolicDims(rowShape) > 1) {
          throw new InvalidInputException(expected + ": a flat array cannot fill more than one symbolic per-row dimension");
        }
        return new Feed(inputName, columnName, ordinal, ColumnKind.ARRAY, Numeric.of(element), elementType, rowShape,
            input.describeShape());
      }
      Numeric numeric = Numeric.of(columnType);
      if (numeric != null) {
        long fixed = 1;
        for (long d : rowShape) {
          fixed *= Math.abs(d);
        }
        if (fixed != 1) {
          throw new InvalidInputException(expected + " but holds one " + columnType.simpleString()
              + " per row; the model wants " + input.describeShape() + " per batch, so feed an array column");
        }
        long[] one = new long[rowShape.length];
        Arrays.fill(one, 1);
        return new Feed(inputName, columnName, ordinal, ColumnKind.SCALAR, numeric, elementType, one, input.describeShape());
      }
      throw new InvalidInputException(expected + " but holds " + columnType.simpleString()
          + "; expected array<float>, array<double> or a numeric column");
    }

    private Fetch fetch(String columnName, String outputName) {
      ModelSignature.Tensor output = signature.output(outputName);
      if (output == null) {
        throw new InvalidInputException("fetchDict asks for model output '" + outputName + "' (as column '"
            + columnName + "'), which the model does not have. Model outputs: " + ModelSignature.names(signature.outputs));
      }
      ElementType elementType = output.isTensor() ? ElementType.fromName(output.elementType) : null;
      if (elementType == null) {
        throw new InvalidInputException("model output '" + outputName + "' is " + output.elementType
            + "; this release fetches float32 and float64 tensors. Leave it out with fetchDict");
      }
      if (output.shape.length == 0 || output.shape[0] >= 0) {
        throw new InvalidInputException("model output '" + outputName + "' has shape " + output.describeShape()
            + " with no batch dimension first");
      }
      boolean scalar = true;
      for (int i = 1; i < output.shape.length; i++) {
        scalar &= output.shape[i] == 1;
      }
      return new Fetch(columnName, outputName, elementType, scalar);
    }

    private int columnIndex(String name) {
      String[] names = schema.fieldNames();
      for (int i = 0; i < names.length; i++) {
        if (names[i].equals(name)) {
          return i;
        }
      }
      return -1;
    }
  }

  private static int symbolicDims(long[] shape) {
    int n = 0;
    for (long d : shape) {
      n += d < 0 ? 1 : 0;
    }
    return n;
  }
}
