package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The JVM's side of every JNI wire format ({@link NativeWire}) against the golden examples in
 * {@code native/tests/wire-golden.json}, which {@code cargo test --test wire_golden} holds the
 * native side against: what the JVM writes must encode to each case's wire, what it reads must
 * decode from it to the case's values, and each record's named offsets must be the file's. No
 * Spark session, no native library: it runs in well under a second.
 */
class NativeWireGoldenTest {
  private static JsonNode golden;

  @BeforeAll
  static void readGolden() throws IOException {
    // Tests run from the repository root (ci/test); look upwards from wherever they run.
    File dir = new File(System.getProperty("user.dir")).getAbsoluteFile();
    File file = new File(dir, "native/tests/wire-golden.json");
    while (!file.isFile() && dir.getParentFile() != null) {
      dir = dir.getParentFile();
      file = new File(dir, "native/tests/wire-golden.json");
    }
    golden = new ObjectMapper().readTree(file);
  }

  private static Iterable<JsonNode> cases(String section) {
    return golden.get(section).get("cases");
  }

  /** Each named offset of a section against this side's constant of the same name, {@code prefix + name}. */
  private static void widths(String section, String prefix) throws ReflectiveOperationException {
    Iterator<Map.Entry<String, JsonNode>> fields = golden.get(section).get("widths").fields();
    int checked = 0;
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      int value = NativeWire.class.getDeclaredField(prefix + field.getKey()).getInt(null);
      assertEquals(field.getValue().asInt(), value, section + ": NativeWire." + prefix + field.getKey());
      checked++;
    }
    assertEquals(golden.get(section).get("widths").size(), checked, section);
  }

  private static long[] longs(JsonNode array) {
    long[] out = new long[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asLong();
    }
    return out;
  }

  private static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asInt();
    }
    return out;
  }

  private static String[] strings(JsonNode array) {
    String[] out = new String[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asText();
    }
    return out;
  }

  @Test
  void namedOffsetsAreTheNativeSides() throws ReflectiveOperationException {
    widths("model_file", "MODEL_FILE_");
    widths("open_report", "OPEN_REPORT_");
    widths("model_stats", "STATS_");
    // The run record's own offsets and its inputs' are named RUN_ and INPUT_ on both sides.
    widths("run", "");
    widths("outputs", "OUTPUT_");
    widths("row_layout", "LAYOUT_");
    widths("feeds", "FEED_");
    widths("prediction", "PREDICTION_");
  }

  // ---- What the JVM writes.

  @Test
  void modelFile() {
    for (JsonNode c : cases("model_file")) {
      String key = c.get("key").asText();
      String sha = c.get("onnx_sha256").asText();
      String[] wire = key.isEmpty() ? NativeWire.modelFile(c.get("path").asText(), null, null)
          : NativeWire.modelFile(c.get("path").asText(), key, sha);
      assertArrayEquals(strings(c.get("wire")), wire, c.toString());
    }
    assertThrows(IllegalArgumentException.class, () -> NativeWire.modelFile("/m.onnx", "ab", null),
        "a key without the .onnx file's SHA-256");
  }

  @Test
  void run() {
    for (JsonNode c : cases("run")) {
      JsonNode inputs = c.get("inputs");
      int n = inputs.size();
      String[] names = new String[n];
      String[] columns = new String[n];
      int[] types = new int[n];
      int[] ranks = new int[n];
      for (int i = 0; i < n; i++) {
        JsonNode input = inputs.get(i);
        names[i] = input.get("name").asText();
        columns[i] = input.get("column").asText();
        types[i] = input.get("element_type").asInt();
        ranks[i] = input.get("shape").size();
      }
      NativeWire.RunRecord run = new NativeWire.RunRecord(names, columns, types, ranks, strings(c.get("fetch")));
      for (int i = 0; i < n; i++) {
        JsonNode input = inputs.get(i);
        long[] shape = longs(input.get("shape"));
        for (int d = 0; d < shape.length; d++) {
          run.setDim(i, d, shape[d]);
        }
        run.setBuffers(i, input.get("data_address").asLong(), input.get("data_bytes").asLong(),
            input.get("offsets_address").asLong(), input.get("offsets_bytes").asLong());
      }
      JsonNode wire = c.get("wire");
      assertArrayEquals(strings(wire.get("names")), run.names, "names");
      assertArrayEquals(longs(wire.get("inputs")), run.inputs, "inputs");
    }
  }

  @Test
  void rowLayout() {
    for (JsonNode c : cases("row_layout")) {
      JsonNode arrays = c.get("arrays");
      long[] bytes = new long[arrays.size()];
      long[] elements = new long[arrays.size()];
      for (int p = 0; p < bytes.length; p++) {
        bytes[p] = arrays.get(p).get("bytes").asLong();
        elements[p] = arrays.get(p).get("elements").asLong();
      }
      long[] wire = NativeWire.rowLayout(c.get("input_fields").asInt(), ints(c.get("moved")), bytes, elements);
      assertArrayEquals(longs(c.get("wire")), wire, c.toString());
    }
  }

  @Test
  void feeds() {
    for (JsonNode c : cases("feeds")) {
      JsonNode feeds = c.get("feeds");
      long[] wire = NativeWire.feeds(feeds.size());
      for (int f = 0; f < feeds.size(); f++) {
        JsonNode feed = feeds.get(f);
        NativeWire.setFeedSource(wire, f, feed.get("ordinal").asInt(), feed.get("elements").asLong(),
            feed.get("element_bytes").asInt());
        NativeWire.setFeedBuffer(wire, f, feed.get("address").asLong(), feed.get("bytes").asLong());
      }
      assertArrayEquals(longs(c.get("wire")), wire, c.toString());
    }
  }

  @Test
  void prediction() {
    for (JsonNode c : cases("prediction")) {
      long[] wire = NativeWire.prediction(c.get("ordinal").asInt(), c.get("array_elements").asLong(),
          c.get("value_bytes").asInt(), c.get("boolean").asBoolean(), c.get("address").asLong(),
          c.get("bytes").asLong());
      assertArrayEquals(longs(c.get("wire")), wire, c.toString());
    }
  }

  // ---- What the JVM reads.

  @Test
  void openReport() {
    for (JsonNode c : cases("open_report")) {
      assertEquals(c.get("load_nanos").asLong(), NativeWire.loadNanos(longs(c.get("wire"))));
    }
    assertEquals(NativeWire.OPEN_REPORT_WIDTH, NativeWire.openReport().length);
  }

  @Test
  void modelStats() {
    for (JsonNode c : cases("model_stats")) {
      ModelNode.Stats s = NativeWire.readStats(longs(c.get("wire")));
      assertEquals(c.get("load_nanos").asLong(), s.loadNanos, "load nanos");
      assertEquals(c.get("sessions").asInt(), s.sessions, "sessions");
      assertEquals(c.get("intra_threads").asInt(), s.intraThreads, "intra threads");
      assertEquals(c.get("weight_bytes").asLong(), s.weightBytes, "weight bytes");
      assertEquals(c.get("peak_concurrent_runs").asInt(), s.peakConcurrentRuns, "peak concurrent runs");
      assertEquals(c.get("loads").asLong(), s.loads, "loads");
    }
    assertThrows(SparkOrtException.class, () -> NativeWire.readStats(new long[8]), "eight stats are two too many");
  }

  @Test
  void outputs() {
    for (JsonNode c : cases("outputs")) {
      List<NativeWire.Output> outputs = NativeWire.readOutputs(longs(c.get("wire")));
      JsonNode expected = c.get("outputs");
      assertEquals(expected.size(), outputs.size(), "outputs");
      for (int i = 0; i < outputs.size(); i++) {
        NativeWire.Output o = outputs.get(i);
        JsonNode e = expected.get(i);
        assertEquals(e.get("kind").asInt(), o.kind, "kind");
        assertEquals(e.get("element_type").asInt(), o.elementType, "element type");
        assertEquals(e.get("key_type").asInt(), o.keyType, "key type");
        assertArrayEquals(longs(e.get("shape")), o.dims, "shape");
        JsonNode buffers = e.get("buffers");
        assertEquals(buffers.size(), o.bufferCount(), "buffers");
        for (int b = 0; b < buffers.size(); b++) {
          assertEquals(buffers.get(b).get(0).asLong(), o.address(b), "buffer address");
          assertEquals(buffers.get(b).get(1).asLong(), o.bytes(b), "buffer bytes");
        }
      }
    }
    assertThrows(SparkOrtException.class, () -> NativeWire.readOutputs(new long[] {0, 1, -1, 2, 4}), "dims past the end");
  }

  @Test
  void signature() {
    for (JsonNode c : cases("signature")) {
      ModelSignature s = NativeWire.readSignature(c.get("wire").asText());
      tensors(c.get("inputs"), s.inputs);
      tensors(c.get("outputs"), s.outputs);
    }
  }

  private static void tensors(JsonNode expected, List<ModelSignature.Tensor> tensors) {
    assertEquals(expected.size(), tensors.size(), "tensors");
    for (int i = 0; i < tensors.size(); i++) {
      JsonNode e = expected.get(i);
      ModelSignature.Tensor t = tensors.get(i);
      assertEquals(e.get("name").asText(), t.name, "name");
      assertEquals(e.get("kind").asText(), t.kind, "kind");
      assertEquals(e.get("element_type").asText(), t.elementType, "element type");
      if (e.get("key_type").isNull()) {
        assertNull(t.keyType, "key type");
      } else {
        assertEquals(e.get("key_type").asText(), t.keyType, "key type");
      }
      assertArrayEquals(longs(e.get("shape")), t.shape, "shape");
      assertArrayEquals(strings(e.get("dim_names")), t.dimNames, "dim names");
    }
  }

  @Test
  void externalDataFiles() {
    for (JsonNode c : cases("external_data_files")) {
      List<String> expected = new ArrayList<>();
      c.get("files").forEach(f -> expected.add(f.asText()));
      assertEquals(expected, NativeWire.readFileList(c.get("wire").asText()));
    }
  }

  @Test
  void log() {
    for (JsonNode c : cases("log")) {
      List<NativeWire.LogRecord> records = NativeWire.readLog(c.get("wire").asText());
      JsonNode expected = c.get("records");
      assertEquals(expected.size(), records.size(), "records");
      for (int i = 0; i < records.size(); i++) {
        assertEquals(expected.get(i).get("level").asText(), records.get(i).level, "level");
        assertEquals(expected.get(i).get("message").asText(), records.get(i).message, "message");
      }
    }
  }
}
