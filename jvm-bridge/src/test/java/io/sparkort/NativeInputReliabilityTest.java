package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What a model file can make the native library do, on {@code local[2]} Spark: every hostile model
 * (ci/models.py's {@code hostile/} folder, each the linear model with one thing wrong) fails with
 * its exception class and a message naming the user's model location and the cause, never killing
 * the JVM; and after each, the same JVM scores a valid model exactly as ONNX Runtime's Python API
 * does. Zero-size inputs and outputs score as ONNX Runtime's Python API scores them.
 */
class NativeInputReliabilityTest {
  private static SparkSession spark;

  @BeforeAll
  static void startSpark() {
    spark = TestCase.localSpark("sparkort-native-reliability").getOrCreate();
  }

  @AfterAll
  static void stopSpark() {
    spark.stop();
  }

  /** After every case: the same JVM scores the linear model like ONNX Runtime Python. */
  @AfterEach
  void theJvmStillScoresAValidModel() {
    TestCase c = TestCase.load("linear");
    c.assertMatchesOnnxRuntime(c.onnxModel().transform(c.dataFrame(spark, 1)).collectAsList());
  }

  private static File hostile(String name) {
    return new File(TestCase.load("linear").model.getParentFile(), "hostile/" + name + "/model.onnx");
  }

  /**
   * Scores the linear case's rows with hostile model {@code name}; it must fail with {@code type}
   * (on the driver or in a task), its message naming the model's location and each of {@code parts}.
   */
  private static <T extends Throwable> T assertFails(String name, Class<T> type, String... parts) {
    File model = hostile(name);
    assertTrue(model.isFile(), "run ci/models.py: " + model);
    TestCase c = TestCase.load("linear");
    OnnxModel onnx = new OnnxModel().setModelLocation(model.getAbsolutePath()).setFeedDict(c.feedDict())
        .setFetchDict(Collections.singletonMap("out_score", "score"));
    Throwable thrown = null;
    try {
      onnx.transform(c.dataFrame(spark, 1)).collectAsList();
    } catch (Throwable t) {
      thrown = t;
    }
    assertNotNull(thrown, name + " must fail");
    T found = causeOf(thrown, type);
    assertNotNull(found, name + ": expected a " + type.getSimpleName() + " in " + chain(thrown));
    String message = found.getMessage();
    if (type != InferenceException.class) {
      assertTrue(message.contains(model.getAbsolutePath()), name + " names the user's model location: " + message);
    }
    for (String part : parts) {
      assertTrue(message.contains(part), name + ": '" + part + "' in: " + message);
    }
    return found;
  }

  private static <T extends Throwable> T causeOf(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }

  private static String chain(Throwable t) {
    StringBuilder s = new StringBuilder();
    for (Throwable c = t; c != null; c = c.getCause()) {
      s.append(" <- ").append(c);
    }
    return s.toString();
  }

  @Test
  void anExternalInitializerClaimingOneTebibyteOfA64ByteFile() {
    assertFails("huge_external", ModelLoadException.class, "initializer 'huge'", "1099511627776", "64 bytes");
  }

  @Test
  void anExternalInitializerWhoseDeclaredLengthIsOneTebibyte() {
    assertFails("huge_external_length", ModelLoadException.class, "initializer 'huge'", "1099511627776");
  }

  @Test
  void anExternalOffsetBeyondTheDataFile() {
    assertFails("offset_beyond", ModelLoadException.class, "initializer 'W0'", "offset 4096", "w.bin");
  }

  @Test
  void anExternalLengthRunningPastTheDataFile() {
    assertFails("length_beyond", ModelLoadException.class, "initializer 'W0'", "offset 48", "w.bin");
  }

  @Test
  void anExternalLengthThatDisagreesWithTheShape() {
    assertFails("length_mismatch", ModelLoadException.class, "initializer 'W0'", "16 bytes", "needs 32");
  }

  @Test
  void anExternalOffsetThatOverflows() {
    assertFails("offset_overflow", ModelLoadException.class, "initializer 'W0'", "18446744073709551608");
  }

  @Test
  void aNegativeDimension() {
    assertFails("negative_dim", ModelLoadException.class, "initializer 'neg'", "[-1, 8]");
  }

  @Test
  void dimensionsWhoseProductOverflows() {
    assertFails("overflowing_dims", ModelLoadException.class, "initializer 'wide'");
  }

  @Test
  void truncatedRawData() {
    assertFails("truncated_raw_data", ModelLoadException.class, "initializer 'W0'", "10 bytes", "needs 32");
  }

  @Test
  void typedFieldDataShorterThanAHugeShape() {
    assertFails("typed_data_huge_shape", ModelLoadException.class, "initializer 'typed'", "274877906944 elements",
        "1 values");
  }

  @Test
  void aVarintThatNeverEnds() {
    assertFails("corrupt_varint", ModelLoadException.class, "not a readable ONNX model");
  }

  @Test
  void aFieldClaimingMoreBytesThanTheFileHas() {
    assertFails("huge_field_length", ModelLoadException.class, "not a readable ONNX model");
  }

  @Test
  void aTruncatedModelFile() {
    assertFails("truncated_file", ModelLoadException.class, "not a readable ONNX model");
  }

  @Test
  void aFileThatIsNotOnnx() {
    assertFails("not_onnx", ModelLoadException.class);
  }

  @Test
  void anUnknownInitializerElementType() {
    assertFails("unknown_initializer_type", ModelLoadException.class);
  }

  @Test
  void anUnknownOperatorIsAModelLoadFailureNotARunFailure() {
    assertFails("unknown_operator", ModelLoadException.class, "NoSuchOperator");
  }

  @Test
  void externalDataOutsideTheModelsFolder() {
    assertFails("escaping_location", ModelLoadException.class, "../w.bin");
  }

  @Test
  void aDeclaredOutputShapeThatLiesAboutTheRunTimeShape() {
    assertFails("lying_output_shape", InferenceException.class, "model output 'score'", "8 values per row",
        "signature says 3");
  }

  @Test
  void anOutputOfShapeNByZeroIsAnEmptyArrayPerRow() {
    TestCase c = TestCase.load("zero_output");
    for (int batch : new int[] {7, 1024}) {
      List<Row> rows = c.onnxModel().setBatchSize(batch).transform(c.dataFrame(spark, 2)).collectAsList();
      c.assertMatchesOnnxRuntime(rows);
      for (Row row : rows) {
        assertEquals(0, row.getList(row.fieldIndex("out_empty")).size(), "declared [N, 0]");
        assertEquals(0, row.getList(row.fieldIndex("out_none")).size(), "0 at run time");
      }
    }
  }

  @Test
  void aZeroLengthInputTensorScores() {
    TestCase c = TestCase.load("zero_input");
    Dataset<Row> scored = c.onnxModel().setBatchSize(4).transform(c.dataFrame(spark, 2));
    c.assertMatchesOnnxRuntime(scored.collectAsList());
  }

  /**
   * A bad ONNX Runtime library in {@value NativeLoader#ORT_LIBRARY_CONF} is refused naming the path
   * and the loader's reason. The runtime is loaded once per JVM, so each path is tried in a JVM of
   * its own ({@link LoadRuntime}).
   */
  @Test
  void aBadOnnxRuntimeLibraryNamesThePathAndWhy() throws Exception {
    File text = File.createTempFile("libonnxruntime-", ".so");
    text.deleteOnExit();
    StringBuilder lines = new StringBuilder();
    for (int i = 0; i < 16; i++) {
      lines.append("not a shared library\n");
    }
    Files.write(text.toPath(), lines.toString().getBytes(StandardCharsets.UTF_8));
    String printed = loadRuntimeIn(text.getAbsolutePath());
    assertTrue(printed.startsWith("io.sparkort.NativeLibraryException: ONNX Runtime could not be loaded from "
        + text.getAbsolutePath()), printed);
    assertTrue(printed.endsWith(text.getAbsolutePath() + ": invalid ELF header"), "the loader's reason: " + printed);
    // (Other reasons, a library that is not ONNX Runtime among them: native/tests/runtime_path.rs.)
  }

  private static String loadRuntimeIn(String library) throws IOException, InterruptedException {
    String java = new File(System.getProperty("java.home"), "bin/java").getPath();
    Process child = new ProcessBuilder(Arrays.asList(java, "-D" + NativeLoader.ORT_LIBRARY_CONF + "=" + library,
        "-cp", System.getProperty("java.class.path"), LoadRuntime.class.getName())).redirectErrorStream(true).start();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (InputStream in = child.getInputStream()) {
      byte[] buffer = new byte[8192];
      for (int n = in.read(buffer); n > 0; n = in.read(buffer)) {
        out.write(buffer, 0, n);
      }
    }
    assertEquals(3, child.waitFor(), "the child JVM reports a refused library: " + out);
    String printed = new String(out.toByteArray(), StandardCharsets.UTF_8);
    return printed.substring(printed.indexOf("io.sparkort.")).trim();
  }

  /** Loads the natives with the library its system property names; prints the failure and exits 3. */
  public static final class LoadRuntime {
    public static void main(String[] args) {
      try {
        NativeLoader.load();
        System.out.println("loaded");
      } catch (SparkOrtException e) {
        System.out.println(e);
        System.exit(3);
      }
    }
  }
}
