package io.sparkort;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;

/**
 * Every format crossing the JNI boundary, on the JVM's side, each once: the named offsets and
 * widths of the {@code long[]} records the JVM sends to {@link NativeApi} (written here) and of
 * those it gets back (read and checked here), and the JSON and text it gets back. Their twin is
 * {@code native/src/jni/wire.rs}; {@code native/tests/wire-golden.json} holds an example of each,
 * which {@code NativeWireGoldenTest} and {@code cargo test --test wire_golden} both check, so a
 * format changed on one side only fails a unit test. A format changes here and in wire.rs only.
 *
 * <table>
 *   <caption>The formats</caption>
 *   <tr><th>Call</th><th>Direction</th><th>Format</th></tr>
 *   <tr><td>openModel</td><td>sent</td><td>{@link #modelFile}</td></tr>
 *   <tr><td>openModel</td><td>back</td><td>{@link #openReport()} / {@link #loadNanos}</td></tr>
 *   <tr><td>modelStats</td><td>back</td><td>{@link #readStats}</td></tr>
 *   <tr><td>run</td><td>sent</td><td>{@link RunRecord}</td></tr>
 *   <tr><td>resultOutputs</td><td>back</td><td>{@link #readOutputs}</td></tr>
 *   <tr><td>layRows, gatherFeeds, fillRows, rowGrowth</td><td>sent</td><td>{@link #rowLayout}</td></tr>
 *   <tr><td>layRows, gatherFeeds</td><td>sent</td><td>{@link #feeds}, {@link #setFeedSource}, {@link #setFeedBuffer}</td></tr>
 *   <tr><td>fillRows</td><td>sent</td><td>{@link #prediction}</td></tr>
 *   <tr><td>modelSignature</td><td>back</td><td>{@link #readSignature}</td></tr>
 *   <tr><td>externalDataFiles</td><td>back</td><td>{@link #readFileList}</td></tr>
 *   <tr><td>drainLog</td><td>back</td><td>{@link #readLog}</td></tr>
 * </table>
 *
 * <p>Row boundaries ({@code int[] starts}, {@code rows + 1} of them) and tensor slots ({@code
 * int[] slots}, one per row, negative for none) are plain arrays.
 */
final class NativeWire {
  private NativeWire() {}

  // ---- openModel's model: the file to open, and the content key the JVM knows it by.

  static final int MODEL_FILE_WIDTH = 3;
  /** The local path of the .onnx file. */
  static final int MODEL_FILE_PATH = 0;
  /** {@link ModelSource#key}, 64 hex digits; "" for a model opened by path alone. */
  static final int MODEL_FILE_KEY = 1;
  /** The SHA-256 of the .onnx file ({@link ModelSource#sha256}), which the bytes loaded must have; "" with no key. */
  static final int MODEL_FILE_ONNX_SHA256 = 2;

  /**
   * The model for {@link NativeApi#openModel}: the file at {@code path}, known by {@code key} whose
   * .onnx file has SHA-256 {@code onnxSha256} (the native registry keeps one model per key, from
   * whatever path); with both null, by path alone, and the native library hashes the files itself.
   */
  static String[] modelFile(String path, String key, String onnxSha256) {
    if ((key == null) != (onnxSha256 == null)) {
      throw new IllegalArgumentException("a model's key and its .onnx file's SHA-256 go together");
    }
    String[] w = new String[MODEL_FILE_WIDTH];
    w[MODEL_FILE_PATH] = path;
    w[MODEL_FILE_KEY] = key == null ? "" : key;
    w[MODEL_FILE_ONNX_SHA256] = onnxSha256 == null ? "" : onnxSha256;
    return w;
  }

  // ---- openModel's report array: what the call reports back.

  static final int OPEN_REPORT_WIDTH = 1;
  /** Nanoseconds the call spent loading the model; 0 when it was open already. */
  static final int OPEN_REPORT_LOAD_NANOS = 0;

  /** An array for {@link NativeApi#openModel} to report into. */
  static long[] openReport() {
    return new long[OPEN_REPORT_WIDTH];
  }

  static long loadNanos(long[] report) {
    check(report.length == OPEN_REPORT_WIDTH, "open report", report);
    return report[OPEN_REPORT_LOAD_NANOS];
  }

  // ---- modelStats.

  static final int STATS_WIDTH = 6;
  static final int STATS_LOAD_NANOS = 0;
  static final int STATS_SESSIONS = 1;
  static final int STATS_INTRA_THREADS = 2;
  static final int STATS_WEIGHT_BYTES = 3;
  static final int STATS_PEAK_CONCURRENT_RUNS = 4;
  static final int STATS_LOADS = 5;

  static ModelNode.Stats readStats(long[] s) {
    check(s.length == STATS_WIDTH, "model stats", s);
    return new ModelNode.Stats(s[STATS_LOAD_NANOS], (int) s[STATS_SESSIONS], (int) s[STATS_INTRA_THREADS],
        s[STATS_WEIGHT_BYTES], (int) s[STATS_PEAK_CONCURRENT_RUNS], s[STATS_LOADS]);
  }

  // ---- run: the batch, one record in two arrays ({@link RunRecord}).

  static final int RUN_INPUT_COUNT = 0;
  static final int RUN_FETCH_COUNT = 1;
  /** Values before the first input's record in {@link RunRecord#inputs}. */
  static final int RUN_HEADER = 2;
  /** An input's ONNX element type code. */
  static final int INPUT_ELEMENT_TYPE = 0;
  static final int INPUT_RANK = 1;
  /** Values of an input before its dims. */
  static final int INPUT_HEADER = 2;
  /** After the dims: the data's address and bytes. */
  static final int INPUT_DATA_ADDRESS = 0;
  static final int INPUT_DATA_BYTES = 1;
  /** For strings (else 0): int32 offsets, one per element plus one. */
  static final int INPUT_OFFSETS_ADDRESS = 2;
  static final int INPUT_OFFSETS_BYTES = 3;
  /** Values of an input after its dims. */
  static final int INPUT_BUFFERS_WIDTH = 4;

  /**
   * A batch as {@link NativeApi#run} takes it, in two arrays since a Java array holds one type:
   * {@code names} holds the inputs' names, then the columns each is fed from (named in errors), then
   * the outputs to fetch; {@code inputs} holds the input and fetch counts ({@link #RUN_HEADER}
   * values), then per input its element type code and rank ({@link #INPUT_HEADER} values), its dims
   * (batch first for batched models) and its memory ({@link #INPUT_BUFFERS_WIDTH} values). Names,
   * types and ranks are fixed for a plan; dims and memory are set for each batch.
   */
  static final class RunRecord {
    final String[] names;
    final long[] inputs;
    private final int[] ranks;
    /** Where each input's record starts in {@code inputs}. */
    private final int[] inputAt;

    RunRecord(String[] inputNames, String[] columns, int[] elementTypes, int[] ranks, String[] fetch) {
      int n = inputNames.length;
      if (columns.length != n || elementTypes.length != n || ranks.length != n) {
        throw new IllegalArgumentException("run record: arrays disagree on the number of inputs");
      }
      this.names = new String[2 * n + fetch.length];
      System.arraycopy(inputNames, 0, names, 0, n);
      System.arraycopy(columns, 0, names, n, n);
      System.arraycopy(fetch, 0, names, 2 * n, fetch.length);
      this.ranks = ranks.clone();
      this.inputAt = new int[n];
      int at = RUN_HEADER;
      for (int i = 0; i < n; i++) {
        inputAt[i] = at;
        at += INPUT_HEADER + ranks[i] + INPUT_BUFFERS_WIDTH;
      }
      this.inputs = new long[at];
      inputs[RUN_INPUT_COUNT] = n;
      inputs[RUN_FETCH_COUNT] = fetch.length;
      for (int i = 0; i < n; i++) {
        inputs[inputAt[i] + INPUT_ELEMENT_TYPE] = elementTypes[i];
        inputs[inputAt[i] + INPUT_RANK] = ranks[i];
      }
    }

    /** Sets dimension {@code d} of input {@code i}'s shape. */
    void setDim(int i, int d, long value) {
      if (d < 0 || d >= ranks[i]) {
        throw new IndexOutOfBoundsException("dim " + d + " of input " + i + " of rank " + ranks[i]);
      }
      inputs[inputAt[i] + INPUT_HEADER + d] = value;
    }

    /** Sets input {@code i}'s memory; offsets 0, 0 but for strings. */
    void setBuffers(int i, long dataAddress, long dataBytes, long offsetsAddress, long offsetsBytes) {
      int at = inputAt[i] + INPUT_HEADER + ranks[i];
      inputs[at + INPUT_DATA_ADDRESS] = dataAddress;
      inputs[at + INPUT_DATA_BYTES] = dataBytes;
      inputs[at + INPUT_OFFSETS_ADDRESS] = offsetsAddress;
      inputs[at + INPUT_OFFSETS_BYTES] = offsetsBytes;
    }
  }

  // ---- resultOutputs: a run's outputs, one after another.

  static final int OUTPUT_KIND = 0;
  static final int OUTPUT_ELEMENT_TYPE = 1;
  static final int OUTPUT_KEY_TYPE = 2;
  static final int OUTPUT_RANK = 3;
  /** Values before the dims; then the buffer count, then (address, bytes) per buffer. */
  static final int OUTPUT_HEADER = 4;
  static final int OUTPUT_BUFFER_WIDTH = 2;
  static final int KIND_TENSOR = 0;
  static final int KIND_MAPS = 1;

  /**
   * One fetched output of a run, its memory still the native library's (valid until {@link
   * NativeApi#closeResult}). A tensor's buffers: its values; for strings, int32 offsets (count + 1)
   * then UTF-8 bytes. A sequence of maps': int32 map offsets (count + 1), the keys (values; or
   * offsets and bytes for string keys), the values.
   */
  static final class Output {
    /** {@link #KIND_TENSOR} or {@link #KIND_MAPS}. */
    final int kind;
    /** ONNX code of the tensor's (or the maps' values') element type, already widened to its Spark type. */
    final int elementType;
    /** ONNX code of the maps' key type; -1 for none. */
    final int keyType;
    final LeafType leaf;
    final LeafType keyLeaf;
    final long[] dims;
    /** (address, bytes) per buffer. */
    private final long[] buffers;

    Output(int kind, int elementType, int keyType, long[] dims, long[] buffers) {
      this.kind = kind;
      this.elementType = elementType;
      this.keyType = keyType;
      this.leaf = wireLeaf(elementType);
      this.keyLeaf = keyType < 0 ? null : wireLeaf(keyType);
      this.dims = dims;
      this.buffers = buffers;
    }

    int bufferCount() {
      return buffers.length / OUTPUT_BUFFER_WIDTH;
    }

    long address(int buffer) {
      return buffers[OUTPUT_BUFFER_WIDTH * buffer];
    }

    long bytes(int buffer) {
      return buffers[OUTPUT_BUFFER_WIDTH * buffer + 1];
    }
  }

  /** A run's outputs, in the order they were fetched. */
  static List<Output> readOutputs(long[] d) {
    List<Output> outputs = new ArrayList<>();
    int at = 0;
    while (at < d.length) {
      check(at + OUTPUT_HEADER <= d.length && d[at + OUTPUT_RANK] >= 0
          && d[at + OUTPUT_RANK] < d.length - at - OUTPUT_HEADER, "result description", d);
      int rank = (int) d[at + OUTPUT_RANK];
      int dims = at + OUTPUT_HEADER;
      long count = d[dims + rank];
      int first = dims + rank + 1;
      check(count >= 0 && count <= (d.length - first) / OUTPUT_BUFFER_WIDTH, "result description", d);
      int end = first + OUTPUT_BUFFER_WIDTH * (int) count;
      outputs.add(new Output((int) d[at + OUTPUT_KIND], (int) d[at + OUTPUT_ELEMENT_TYPE], (int) d[at + OUTPUT_KEY_TYPE],
          Arrays.copyOfRange(d, dims, dims + rank), Arrays.copyOfRange(d, first, end)));
      at = end;
    }
    return outputs;
  }

  /** The Spark leaf type of a wire element type code: what the native side widened the output to. */
  private static LeafType wireLeaf(long code) {
    for (ElementType t : ElementType.values()) {
      if (t.onnxCode == code) {
        return LeafType.of(t.sparkType);
      }
    }
    throw new SparkOrtException("native library returned unknown element type code " + code);
  }

  // ---- The row layout of laid-out rows (native/src/unsafe_rows.rs).

  static final int LAYOUT_INPUT_BITSET_BYTES = 0;
  static final int LAYOUT_BITSET_BYTES = 1;
  static final int LAYOUT_INPUT_FIELDS = 2;
  /** The moved fields' count; the counted lists follow one another from here. */
  static final int LAYOUT_MOVED_COUNT = 3;
  /** Values per prediction after the prediction count: its reserved array's bytes and elements. */
  static final int LAYOUT_ARRAY_WIDTH = 2;

  /**
   * The layout of output rows made of an input row of {@code inputFields} fields, of which those in
   * {@code moved} are variable-length (their offsets move), and one field per prediction: {@code
   * arrayBytes[p]} and {@code arrayElements[p]} of the UnsafeArrayData reserved for prediction
   * {@code p}, or 0 and 0 for one value in its slot. {@link NativeApi#rowGrowth} says how much
   * longer such a row is than its input row.
   */
  static long[] rowLayout(int inputFields, int[] moved, long[] arrayBytes, long[] arrayElements) {
    int predictions = arrayBytes.length;
    if (arrayElements.length != predictions) {
      throw new IllegalArgumentException("row layout: bytes and elements disagree on the number of predictions");
    }
    long[] w = new long[LAYOUT_MOVED_COUNT + 1 + moved.length + 1 + LAYOUT_ARRAY_WIDTH * predictions];
    w[LAYOUT_INPUT_BITSET_BYTES] = UnsafeRow.calculateBitSetWidthInBytes(inputFields);
    w[LAYOUT_BITSET_BYTES] = UnsafeRow.calculateBitSetWidthInBytes(inputFields + predictions);
    w[LAYOUT_INPUT_FIELDS] = inputFields;
    int at = LAYOUT_MOVED_COUNT;
    w[at++] = moved.length;
    for (int m : moved) {
      w[at++] = m;
    }
    w[at++] = predictions;
    for (int p = 0; p < predictions; p++) {
      w[at + LAYOUT_ARRAY_WIDTH * p] = arrayBytes[p];
      w[at + LAYOUT_ARRAY_WIDTH * p + 1] = arrayElements[p];
    }
    return w;
  }

  // ---- layRows' and gatherFeeds' feeds: per model input, where its features come from and go.

  static final int FEED_WIDTH = 5;
  /** The array field the input is copied from. */
  static final int FEED_ORDINAL = 0;
  static final int FEED_ELEMENTS = 1;
  static final int FEED_ELEMENT_BYTES = 2;
  /** The tensor buffer's address (non-zero) and bytes. */
  static final int FEED_ADDRESS = 3;
  static final int FEED_BYTES = 4;

  /** A feeds record for {@code inputs} model inputs, to fill with {@link #setFeedSource} and {@link #setFeedBuffer}. */
  static long[] feeds(int inputs) {
    return new long[FEED_WIDTH * inputs];
  }

  /** Sets input {@code f}'s source: {@code elements} values a row of {@code elementBytes} each, in field {@code ordinal}. */
  static void setFeedSource(long[] feeds, int f, int ordinal, long elements, int elementBytes) {
    feeds[FEED_WIDTH * f + FEED_ORDINAL] = ordinal;
    feeds[FEED_WIDTH * f + FEED_ELEMENTS] = elements;
    feeds[FEED_WIDTH * f + FEED_ELEMENT_BYTES] = elementBytes;
  }

  /** Sets input {@code f}'s tensor buffer, where it is now. */
  static void setFeedBuffer(long[] feeds, int f, long address, long bytes) {
    feeds[FEED_WIDTH * f + FEED_ADDRESS] = address;
    feeds[FEED_WIDTH * f + FEED_BYTES] = bytes;
  }

  // ---- fillRows' prediction: one fetched output written into laid rows.

  static final int PREDICTION_WIDTH = 6;
  static final int PREDICTION_ORDINAL = 0;
  /** Values per row: 0 for one value in the field's slot, else its reserved array's length. */
  static final int PREDICTION_ARRAY_ELEMENTS = 1;
  static final int PREDICTION_VALUE_BYTES = 2;
  /** 1 for booleans (stored as 0 or 1), else 0. */
  static final int PREDICTION_BOOLEAN = 3;
  /** The output tensor's address (0 only when it is empty) and bytes. */
  static final int PREDICTION_ADDRESS = 4;
  static final int PREDICTION_BYTES = 5;

  static long[] prediction(int ordinal, long arrayElements, int valueBytes, boolean bool, long address, long bytes) {
    long[] w = new long[PREDICTION_WIDTH];
    w[PREDICTION_ORDINAL] = ordinal;
    w[PREDICTION_ARRAY_ELEMENTS] = arrayElements;
    w[PREDICTION_VALUE_BYTES] = valueBytes;
    w[PREDICTION_BOOLEAN] = bool ? 1 : 0;
    w[PREDICTION_ADDRESS] = address;
    w[PREDICTION_BYTES] = bytes;
    return w;
  }

  // ---- modelSignature: {"inputs": [..], "outputs": [..]}, each {"name", "kind", "type", "key", "shape", "dims"}.

  static ModelSignature readSignature(String json) {
    try {
      JsonNode root = new ObjectMapper().readTree(json);
      return new ModelSignature(tensors(root.get("inputs")), tensors(root.get("outputs")));
    } catch (IOException | RuntimeException e) {
      throw new SparkOrtException("native library returned an unreadable signature: " + json, e);
    }
  }

  private static List<ModelSignature.Tensor> tensors(JsonNode list) {
    List<ModelSignature.Tensor> out = new ArrayList<>();
    for (JsonNode t : list) {
      JsonNode shapeNode = t.get("shape");
      long[] shape = new long[shapeNode.size()];
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shapeNode.get(i).asLong();
      }
      JsonNode dimsNode = t.get("dims");
      String[] dims = new String[dimsNode.size()];
      for (int i = 0; i < dims.length; i++) {
        dims[i] = dimsNode.get(i).asText();
      }
      JsonNode key = t.get("key");
      out.add(new ModelSignature.Tensor(t.get("name").asText(), t.get("kind").asText(), t.get("type").asText(),
          key == null || key.isNull() ? null : key.asText(), shape, dims));
    }
    return out;
  }

  // ---- externalDataFiles: a JSON array of paths relative to the model's folder.

  static List<String> readFileList(String json) {
    List<String> files = new ArrayList<>();
    try {
      for (JsonNode file : new ObjectMapper().readTree(json)) {
        files.add(file.asText());
      }
    } catch (IOException e) {
      throw new SparkOrtException("unreadable list of external data files: " + e.getMessage(), e);
    }
    return files;
  }

  // ---- drainLog: one record a line, "LEVEL message".

  /** One of the native library's log records. */
  static final class LogRecord {
    /** "ERROR", "WARN" or "INFO". */
    final String level;
    final String message;

    LogRecord(String level, String message) {
      this.level = level;
      this.message = message;
    }
  }

  static List<LogRecord> readLog(String text) {
    if (text.isEmpty()) {
      return Collections.emptyList();
    }
    List<LogRecord> records = new ArrayList<>();
    for (String line : text.split("\n")) {
      int space = line.indexOf(' ');
      if (!line.isEmpty()) {
        records.add(new LogRecord(space < 0 ? "" : line.substring(0, space), line.substring(space + 1)));
      }
    }
    return records;
  }

  private static void check(boolean ok, String what, long[] wire) {
    if (!ok) {
      throw new SparkOrtException("native library returned a malformed " + what + ": " + Arrays.toString(wire));
    }
  }
}
