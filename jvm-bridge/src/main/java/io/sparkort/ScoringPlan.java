package io.sparkort;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.Metadata;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.types.UserDefinedType;

/**
 * What scoring a DataFrame with a model means, worked out on the driver before any task runs:
 * which columns feed which model input and how, which outputs become which columns, and the
 * resulting schema. Every mismatch is reported here, naming the column, the model input or output
 * and what was expected.
 *
 * <p>A model is <em>batched</em> when every input's first dimension is symbolic: rows are stacked
 * along it, and each output's first dimension holds one entry per row. Otherwise each row carries
 * every input's whole tensor and is run on its own, and each output's whole tensor is its value.
 */
final class ScoringPlan implements Serializable {
  private static final long serialVersionUID = 1L;

  /** How a row's value for a model input is held in the DataFrame. */
  enum Source {
    /** One or more scalar columns, one element each, in feedDict order. */
    SCALARS,
    /** An array column, nested {@code depth} deep; its elements row-major are the row's tensor. */
    ARRAY,
    /** A Spark ML Vector (dense or sparse): its values are the row's tensor. */
    VECTOR,
    /** A binary column: its bytes are the row's uint8 (or int8) tensor. */
    BINARY
  }

  /**
   * What one feedDict entry asks for, checked against the schema and the signature: the model
   * input, its element type and shape, and the columns that feed it. How the columns' values arrive
   * (a {@link Source}) is worked out from it to make the {@link Feed}.
   */
  static final class FeedTarget {
    final String input;
    final String[] columns;
    final int[] ordinals;
    final ElementType elementType;
    /** The model's shape of one row's tensor (batch dimension dropped if batched). */
    final long[] rowShape;
    /** The model's whole shape, as messages show it. */
    final String modelShape;
    /** What the entry asks, as a message begins: {@code column 'x' feeds model input 'f' (float32 [N, 3])}. */
    final String expected;

    FeedTarget(String input, String[] columns, int[] ordinals, ElementType elementType, long[] rowShape,
        String modelShape, String expected) {
      this.input = input;
      this.columns = columns;
      this.ordinals = ordinals;
      this.elementType = elementType;
      this.rowShape = rowShape;
      this.modelShape = modelShape;
      this.expected = expected;
    }
  }

  /** One model input and the column(s) feeding it, with everything the per-row writer needs. */
  static final class Feed implements Serializable {
    private static final long serialVersionUID = 1L;
    final String input;
    final String[] columns;
    final int[] ordinals;
    final Source source;
    /** The values' type, per column for {@link Source#SCALARS}, else one. */
    final LeafType[] leaves;
    /** Levels of arrays the row's value arrives in: 1 for scalars, vectors and binary. */
    final int depth;
    final ElementType elementType;
    /** The model's shape of one row's tensor, -1 where symbolic (batch dimension dropped if batched). */
    final long[] rowShape;
    /** Elements per row when that shape is fixed, else -1 (resolved by each batch's first row). */
    final long fixedRowElements;
    /** Arrays already hold the model's element layout, so they copy in bulk. */
    final boolean bulkCopy;
    private final String modelShape;

    /** The feed of {@code target}, its values arriving from {@code source} as {@code leaves}, {@code depth} levels deep. */
    Feed(FeedTarget target, Source source, LeafType[] leaves, int depth) {
      this.input = target.input;
      this.columns = target.columns;
      this.ordinals = target.ordinals;
      this.source = source;
      this.leaves = leaves;
      this.depth = depth;
      this.elementType = target.elementType;
      this.rowShape = target.rowShape;
      this.modelShape = target.modelShape;
      this.bulkCopy = (source == Source.ARRAY || source == Source.VECTOR) && leaves[0].isLayoutOf(elementType);
      long n = 1;
      for (long d : rowShape) {
        n = d < 0 || n < 0 ? -1 : n * d;
      }
      this.fixedRowElements = n;
    }

    /**
     * The row's dims when its arrays, {@code levels[i]} long at level i, fit {@link #rowShape}: outer
     * levels one dimension each, the innermost level the remaining dimensions flattened. Null if not.
     */
    long[] dims(long[] levels) {
      long[] dims = rowShape.clone();
      if (dims.length == 0) {
        return levels.length == 1 && levels[0] == 1 ? dims : null;
      }
      int last = levels.length - 1;
      for (int i = 0; i < last; i++) {
        if (dims[i] >= 0 && dims[i] != levels[i]) {
          return null;
        }
        dims[i] = levels[i];
      }
      long fixed = 1;
      int symbolic = -1;
      for (int d = last; d < dims.length; d++) {
        if (dims[d] < 0) {
          symbolic = d;
        } else {
          fixed *= dims[d];
        }
      }
      if (symbolic < 0) {
        return levels[last] == fixed ? dims : null;
      }
      if (fixed == 0 || levels[last] % fixed != 0) {
        return null;
      }
      dims[symbolic] = levels[last] / fixed;
      return dims;
    }

    /** The feed as messages name it: {@code column 'x' (model input 'features', float32 [N, 3])}. */
    String columnsAndInput() {
      StringBuilder s = new StringBuilder(columns.length == 1 ? "column " : "columns ");
      for (int c = 0; c < columns.length; c++) {
        s.append(c == 0 ? "'" : ", '").append(columns[c]).append('\'');
      }
      return s + " (model input '" + input + "', " + elementType.onnxName + " " + modelShape + ")";
    }
  }

  /** One model output and the column it becomes. */
  static final class Fetch implements Serializable {
    private static final long serialVersionUID = 1L;
    final String column;
    final String output;
    /** A sequence of maps, one per row (scikit-learn's ZipMap), rather than a tensor. */
    final boolean maps;
    /** The tensor's element type, or the maps' value type. */
    final ElementType elementType;
    /** The Spark type of one of those values. */
    final LeafType leaf;
    /** The maps' key type, else null. */
    final ElementType keyType;
    /** Levels of arrays a row's value becomes: 0 for one value per row. */
    final int rowRank;
    /** Values per row when the model's signature fixes it and they are one value or one flat array; else -1. */
    final long flatRowLength;
    final DataType sparkType;
    /** Which of the run's results ({@link ScoringPlan#fetchNames()}) this column reads. */
    int result;

    Fetch(String column, String output, boolean maps, ElementType elementType, ElementType keyType, int rowRank,
        long flatRowLength) {
      this.column = column;
      this.output = output;
      this.maps = maps;
      this.elementType = elementType;
      this.leaf = LeafType.of(elementType.sparkType);
      this.keyType = keyType;
      this.rowRank = rowRank;
      this.flatRowLength = flatRowLength;
      DataType type = elementType.sparkType;
      if (maps) {
        type = DataTypes.createMapType(keyType.sparkType, elementType.sparkType, false);
      }
      for (int i = 0; i < rowRank; i++) {
        type = DataTypes.createArrayType(type, false);
      }
      this.sparkType = type;
    }
  }

  final List<Feed> feeds;
  final List<Fetch> fetches;
  final StructType outputSchema;
  final boolean batched;
  /** Rows with a null input get null outputs instead of failing the job. */
  final boolean keepNulls;
  /** Tensors inside the graph that fetchDict asks for: the model is opened cut to expose them. */
  final String[] extraOutputs;

  private ScoringPlan(List<Feed> feeds, List<Fetch> fetches, StructType outputSchema, boolean batched,
      boolean keepNulls, String[] extraOutputs) {
    this.feeds = Collections.unmodifiableList(feeds);
    this.fetches = Collections.unmodifiableList(fetches);
    this.outputSchema = outputSchema;
    this.batched = batched;
    this.keepNulls = keepNulls;
    this.extraOutputs = extraOutputs;
    List<String> results = Arrays.asList(fetchNames());
    for (Fetch fetch : fetches) {
      fetch.result = results.indexOf(fetch.output);
    }
  }

  /** batchSize 0, the default: rows per run chosen by {@link #rowsPerRun}. */
  static final int AUTO_BATCH = 0;
  /** What a run's tensors, inputs and outputs, take when batchSize is left to sparkort. */
  static final long AUTO_BATCH_BYTES = 4L << 20;
  static final int AUTO_MIN_ROWS = 16;
  static final int AUTO_MAX_ROWS = 65536;
  /** Rows per run where a row's tensor bytes are not known before the run (strings, open shapes). */
  static final int AUTO_OPEN_ROWS = 1024;

  /**
   * Rows per native call for {@code batchSize}: 1 for a model without a batch dimension; {@code
   * batchSize} when set; else as many rows as make {@link #AUTO_BATCH_BYTES} of input and output
   * tensors by the model's signature (16 to 65536 rows), since a run costs about its bytes and a
   * fixed few microseconds: a model that does little per row gets long runs, an image model short
   * ones. {@link #AUTO_OPEN_ROWS} where the signature leaves a row's bytes open.
   */
  int rowsPerRun(int batchSize) {
    if (!batched) {
      return 1;
    }
    if (batchSize != AUTO_BATCH) {
      return batchSize;
    }
    long rowBytes = 0;
    for (Feed feed : feeds) {
      if (feed.fixedRowElements < 0 || feed.elementType == ElementType.STRING) {
        return AUTO_OPEN_ROWS;
      }
      rowBytes += feed.fixedRowElements * feed.elementType.inputBytes;
    }
    for (Fetch fetch : fetches) {
      if (fetch.flatRowLength < 0 || fetch.maps || fetch.leaf == LeafType.STRING) {
        return AUTO_OPEN_ROWS;
      }
      rowBytes += fetch.flatRowLength * fetch.leaf.bytes;
    }
    return (int) Math.max(AUTO_MIN_ROWS, Math.min(AUTO_MAX_ROWS, AUTO_BATCH_BYTES / Math.max(1, rowBytes)));
  }

  /** The input's columns: the output schema's first fields (the fetched columns follow them). */
  StructType inputSchema() {
    StructField[] fields = outputSchema.fields();
    return new StructType(Arrays.copyOfRange(fields, 0, fields.length - fetches.size()));
  }

  /** The fetched columns: the output schema's last fields. */
  StructType predictionSchema() {
    StructField[] fields = outputSchema.fields();
    return new StructType(Arrays.copyOfRange(fields, fields.length - fetches.size(), fields.length));
  }

  /** The model outputs to run for, each once, in the order {@link Fetch#result} indexes. */
  String[] fetchNames() {
    List<String> names = new ArrayList<>();
    for (Fetch fetch : fetches) {
      if (!names.contains(fetch.output)) {
        names.add(fetch.output);
      }
    }
    return names.toArray(new String[0]);
  }

  /** @param signature the model's, with {@code extraOutputs} (tensors inside its graph) exposed */
  static ScoringPlan create(StructType schema, ModelSignature signature, String[] extraOutputs,
      Map<String, String> feedDict, Map<String, String> fetchDict, boolean keepNulls) {
    return new Builder(schema, signature).build(feedDict, fetchDict, keepNulls, extraOutputs);
  }

  /** Whether rows stack along every input's first dimension (see the class comment). */
  static boolean isBatched(ModelSignature signature) {
    for (ModelSignature.Tensor input : signature.inputs) {
      if (input.shape.length == 0 || input.shape[0] >= 0) {
        return false;
      }
    }
    return true;
  }

  private static final class Builder {
    private final StructType schema;
    private final ModelSignature signature;
    private final boolean batched;

    Builder(StructType schema, ModelSignature signature) {
      this.schema = schema;
      this.signature = signature;
      this.batched = isBatched(signature);
    }

    ScoringPlan build(Map<String, String> feedDict, Map<String, String> fetchDict, boolean keepNulls,
        String[] extraOutputs) {
      for (ModelSignature.Tensor input : signature.inputs) {
        if (!feedDict.containsKey(input.name)) {
          throw new InvalidInputException("model input '" + input.name + "' (" + input
              + ") is not in feedDict; map every model input to a column. Model inputs: "
              + ModelSignature.names(signature.inputs));
        }
      }
      List<Feed> feeds = new ArrayList<>();
      for (Map.Entry<String, String> entry : feedDict.entrySet()) {
        feeds.add(feed(entry.getKey(), entry.getValue()));
      }
      List<Fetch> fetches = new ArrayList<>();
      StructType out = schema;
      for (Map.Entry<String, String> entry : fetchMapping(fetchDict).entrySet()) {
        Fetch fetch = fetch(entry.getKey(), entry.getValue());
        for (String existing : out.fieldNames()) {
          // Spark resolves column names without regard to case (by default): 'F' beside 'f' is ambiguous.
          if (existing.equalsIgnoreCase(fetch.column)) {
            throw new InvalidInputException("output column '" + fetch.column + "' (model output '"
                + fetch.output + "') already exists in the DataFrame" + (existing.equals(fetch.column) ? ""
                    : " as '" + existing + "' (Spark's column names ignore case)") + "; choose another name in fetchDict");
          }
        }
        out = out.add(new StructField(fetch.column, fetch.sparkType, keepNulls, Metadata.empty()));
        fetches.add(fetch);
      }
      return new ScoringPlan(feeds, fetches, out, batched, keepNulls, extraOutputs);
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

    private Feed feed(String inputName, String columnSpec) {
      ModelSignature.Tensor input = signature.input(inputName);
      if (input == null) {
        throw new InvalidInputException("feedDict names model input '" + inputName + "' (for column '"
            + columnSpec + "'), which the model does not have. Model inputs: " + ModelSignature.names(signature.inputs));
      }
      ElementType elementType = input.isTensor() ? ElementType.fromName(input.elementType) : null;
      if (elementType == null) {
        throw new InvalidInputException("model input '" + inputName + "' takes " + input
            + ", which sparkort cannot feed from a column");
      }
      String[] columns = columnNames(inputName, columnSpec);
      int[] ordinals = new int[columns.length];
      DataType[] types = new DataType[columns.length];
      for (int c = 0; c < columns.length; c++) {
        ordinals[c] = Arrays.asList(schema.fieldNames()).indexOf(columns[c]);
        types[c] = schema.fields()[ordinals[c]].dataType();
      }
      long[] rowShape = batched ? Arrays.copyOfRange(input.shape, 1, input.shape.length) : input.shape;
      String expected = (columns.length == 1 ? "column '" + columnSpec + "'" : "columns " + columnSpec)
          + " feed" + (columns.length == 1 ? "s" : "") + " model input '" + inputName + "' (" + elementType.onnxName
          + " " + input.describeShape() + ")";
      FeedTarget target =
          new FeedTarget(inputName, columns, ordinals, elementType, rowShape, input.describeShape(), expected);
      Feed feed = columns.length > 1 || LeafType.of(types[0]) != null ? scalars(target, types) : container(target, types[0]);
      checkShape(feed, expected);
      return feed;
    }

    /** The feedDict value as column names: one column, or several separated by commas. */
    private String[] columnNames(String inputName, String columnSpec) {
      List<String> names = Arrays.asList(schema.fieldNames());
      String[] columns = names.contains(columnSpec) ? new String[] {columnSpec} : columnSpec.split(",");
      for (int c = 0; c < columns.length; c++) {
        columns[c] = columns[c].trim();
        if (!names.contains(columns[c])) {
          throw new InvalidInputException("feedDict maps model input '" + inputName + "' to column '" + columns[c]
              + "', which is not in the DataFrame. Columns: " + String.join(", ", schema.fieldNames()));
        }
        if (names.indexOf(columns[c]) != names.lastIndexOf(columns[c])) {
          throw new InvalidInputException("feedDict maps model input '" + inputName + "' to column '" + columns[c]
              + "', which the DataFrame has more than once (after a join, say); select or rename the one to feed");
        }
      }
      return columns;
    }

    /** Columns of scalars, one value each per row ({@code types} per column). */
    private Feed scalars(FeedTarget target, DataType[] types) {
      String[] columns = target.columns;
      LeafType[] leaves = new LeafType[columns.length];
      for (int c = 0; c < columns.length; c++) {
        leaves[c] = LeafType.of(types[c]);
        if (leaves[c] == null || !leaves[c].canFeed(target.elementType)) {
          throw new InvalidInputException(target.expected + " but column '" + columns[c] + "' holds "
              + types[c].simpleString() + "; " + accepted(target.elementType, columns.length > 1));
        }
      }
      return new Feed(target, Source.SCALARS, leaves, 1);
    }

    /** One column of a container type: nested arrays, an ML vector or binary. */
    private Feed container(FeedTarget target, DataType type) {
      ElementType elementType = target.elementType;
      String expected = target.expected;
      int depth = 0;
      DataType leafType = type;
      while (leafType instanceof ArrayType) {
        leafType = ((ArrayType) leafType).elementType();
        depth++;
      }
      Source source;
      LeafType leaf;
      if (depth > 0) {
        source = Source.ARRAY;
        leaf = LeafType.of(leafType);
      } else if (isVector(type)) {
        source = Source.VECTOR;
        leaf = LeafType.DOUBLE;
        depth = 1;
      } else if (type instanceof BinaryType && (elementType == ElementType.UINT8 || elementType == ElementType.INT8)) {
        source = Source.BINARY;
        leaf = LeafType.BYTE;
        depth = 1;
      } else {
        throw new InvalidInputException(expected + " but holds " + type.simpleString() + "; " + accepted(elementType, false));
      }
      if (leaf == null || !leaf.canFeed(elementType)) {
        throw new InvalidInputException(expected + " but holds " + type.simpleString() + "; " + accepted(elementType, false));
      }
      return new Feed(target, source, new LeafType[] {leaf}, depth);
    }

    /** Rejects nesting the model's shape cannot take: more levels than dims, or a flat tail with two unknowns. */
    private void checkShape(Feed feed, String expected) {
      int rank = feed.rowShape.length;
      if (rank == 0) {
        if (feed.source != Source.SCALARS || feed.columns.length != 1) {
          throw new InvalidInputException(expected + ": the model takes one value per row, so feed one scalar column");
        }
        return;
      }
      if (feed.depth > rank) {
        throw new InvalidInputException(expected + " but the column nests " + feed.depth
            + " levels of arrays; a row of this input has " + rank + " dimension" + (rank == 1 ? "" : "s"));
      }
      int symbolic = 0;
      long fixed = 1;
      for (int d = feed.depth - 1; d < rank; d++) {
        symbolic += feed.rowShape[d] < 0 ? 1 : 0;
        fixed *= feed.rowShape[d] < 0 ? 1 : feed.rowShape[d];
      }
      if (symbolic > 1) {
        throw new InvalidInputException(expected + ": a flat list of values cannot fill more than one symbolic"
            + " dimension; nest the column's arrays one level per dimension");
      }
      if (feed.source == Source.SCALARS) {
        int n = feed.columns.length;
        if (feed.dims(new long[] {n}) == null) {
          throw new InvalidInputException(expected + " but " + n + " scalar column" + (n == 1 ? "" : "s")
              + " give " + n + " value" + (n == 1 ? "" : "s") + " per row; the model wants " + fixed
              + (symbolic == 0 ? "" : "x?") + " per row, so feed an array, a Vector, or that many numeric columns");
        }
      }
    }

    private Fetch fetch(String columnName, String outputName) {
      ModelSignature.Tensor output = signature.output(outputName);
      if (output == null) {
        throw new InvalidInputException("fetchDict asks for model output '" + outputName + "' (as column '"
            + columnName + "'), which the model does not have. Model outputs: " + ModelSignature.names(signature.outputs));
      }
      ElementType elementType = ElementType.fromName(output.elementType);
      if (output.isMaps()) {
        ElementType key = ElementType.fromName(output.keyType);
        boolean keys = key == ElementType.INT64 || key == ElementType.STRING;
        boolean values = elementType == ElementType.FLOAT32 || elementType == ElementType.FLOAT64
            || elementType == ElementType.INT64;
        if (!keys || !values) {
          throw new InvalidInputException("model output '" + outputName + "' is a " + output
              + "; sparkort fetches maps from int64 or string to float32, float64 or int64. Leave it out with fetchDict");
        }
        return new Fetch(columnName, outputName, true, elementType, key, 0, -1);
      }
      if (!output.isTensor() || elementType == null) {
        throw new InvalidInputException("model output '" + outputName + "' is " + output
            + ", which sparkort cannot fetch. Leave it out with fetchDict");
      }
      long[] rowShape = output.shape;
      if (batched) {
        if (output.shape.length == 0 || output.shape[0] >= 0) {
          throw new InvalidInputException("model output '" + outputName + "' has shape " + output.describeShape()
              + " with no batch dimension first, so it holds no value per row. Leave it out with fetchDict");
        }
        rowShape = Arrays.copyOfRange(output.shape, 1, output.shape.length);
      }
      boolean scalar = true;
      for (long d : rowShape) {
        scalar &= d == 1;
      }
      long flatRowLength = scalar ? 1 : rowShape.length == 1 && rowShape[0] >= 0 ? rowShape[0] : -1;
      return new Fetch(columnName, outputName, false, elementType, null, scalar ? 0 : rowShape.length, flatRowLength);
    }
  }

  /** A Spark ML (or MLlib) Vector column: a UDT over (type, size, indices, values). */
  static boolean isVector(DataType type) {
    return type instanceof UserDefinedType && type.getClass().getName().endsWith(".linalg.VectorUDT");
  }

  private static String accepted(ElementType elementType, boolean scalarsOnly) {
    String values;
    if (elementType.isFloating()) {
      values = "numeric columns (tinyint to double)";
    } else if (elementType == ElementType.BOOL) {
      values = "boolean columns";
    } else if (elementType == ElementType.STRING) {
      values = "string columns";
    } else {
      values = "integer columns (tinyint, smallint, int, bigint)";
    }
    String containers = elementType.isFloating() ? ", arrays of them (nested for more dimensions), or a Vector"
        : elementType == ElementType.UINT8 || elementType == ElementType.INT8
            ? ", arrays of them (nested for more dimensions), or binary"
            : ", or arrays of them (nested for more dimensions)";
    return elementType.onnxName + " inputs take " + values + (scalarsOnly ? "" : containers);
  }
}
