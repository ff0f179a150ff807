package io.sparkort;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.Locale;
import java.util.Properties;

/**
 * Loads sparkort's native library and ONNX Runtime once per JVM. Both live in the jar under
 * {@code /native/<os>-<arch>/}, listed with their SHA-256 in {@code natives.properties}. Each JVM
 * extracts them into its own new 0700 directory, so executors sharing a host never touch each
 * other's files, and checks the digests before loading anything.
 *
 * <p>A user may load another ONNX Runtime build (a GPU one, say) by naming its shared library in the
 * Spark conf {@code spark.sparkort.onnxruntime.library} (or a JVM system property of that name).
 */
public final class NativeLoader {
  public static final String ORT_LIBRARY_CONF = "spark.sparkort.onnxruntime.library";

  private static volatile boolean loaded;
  private static NativeLibraryException failure;
  private static File extractedDirectory;
  private static File onnxRuntimeLibrary;

  private NativeLoader() {}

  /** Loads the natives if this JVM has not yet; rethrows the first failure on every later call. */
  public static void load() {
    if (loaded) {
      return;
    }
    synchronized (NativeLoader.class) {
      if (loaded) {
        return;
      }
      if (failure != null) {
        throw failure;
      }
      try {
        String folder = "/native/" + platform() + "/";
        Properties natives = new Properties();
        try (InputStream in = NativeLoader.class.getResourceAsStream(folder + "natives.properties")) {
          if (in == null) {
            throw new NativeLibraryException(
                "this sparkort jar has no native libraries for " + platform());
          }
          natives.load(in);
        }
        File directory = privateDirectory();
        File sparkort = extract(folder, natives.getProperty("sparkort"), natives, directory);
        File bundledOrt = extract(folder, natives.getProperty("onnxruntime"), natives, directory);
        File ort = chooseOnnxRuntime(bundledOrt);
        System.load(sparkort.getAbsolutePath());
        NativeApi.initRuntime(ort.getAbsolutePath());
        extractedDirectory = directory;
        onnxRuntimeLibrary = ort;
        loaded = true;
      } catch (NativeLibraryException e) {
        failure = e;
        throw e;
      } catch (IOException | RuntimeException | UnsatisfiedLinkError e) {
        failure = new NativeLibraryException("cannot load sparkort's native libraries: " + e, e);
        throw failure;
      }
    }
  }

  /** The directory this JVM extracted its natives into, or null before {@link #load()}. */
  public static synchronized File extractedDirectory() {
    return extractedDirectory;
  }

  /** The ONNX Runtime library this JVM loaded, or null before {@link #load()}. */
  public static synchronized File onnxRuntimeLibrary() {
    return onnxRuntimeLibrary;
  }

  static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    String osName = os.contains("linux") ? "linux" : os.contains("mac") ? "darwin" : os;
    String archName =
        arch.equals("amd64") || arch.equals("x86_64")
            ? "x86_64"
            : arch.equals("aarch64") || arch.equals("arm64") ? "aarch64" : arch;
    return osName + "-" + archName;
  }

  private static File chooseOnnxRuntime(File bundled) {
    String override = SparkShim.executorConf().get(ORT_LIBRARY_CONF, "");
    if (override.isEmpty()) {
      return bundled;
    }
    File file = new File(override);
    if (!file.isFile()) {
      throw new NativeLibraryException(
          "ONNX Runtime library " + override + " (from " + ORT_LIBRARY_CONF + ") does not exist");
    }
    return file;
  }

  private static File privateDirectory() throws IOException {
    Path directory;
    try {
      directory =
          Files.createTempDirectory(
              "sparkort-", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (UnsupportedOperationException notPosix) {
      directory = Files.createTempDirectory("sparkort-");
    }
    directory.toFile().deleteOnExit();
    return directory.toFile();
  }

  private static File extract(String folder, String name, Properties natives, File directory)
      throws IOException {
    if (name == null) {
      throw new NativeLibraryException("natives.properties in the sparkort jar is incomplete");
    }
    File target = new File(directory, name);
    String actual;
    try (InputStream in = NativeLoader.class.getResourceAsStream(folder + name)) {
      if (in == null) {
        throw new NativeLibraryException("the sparkort jar lacks " + folder + name);
      }
      actual = copyHashing(in, target);
    }
    target.deleteOnExit();
    String expected = natives.getProperty(name + ".sha256");
    if (!actual.equals(expected)) {
      throw new NativeLibraryException(
          "extracted " + target + " has SHA-256 " + actual + ", the jar lists " + expected);
    }
    return target;
  }

  /** Copies {@code in} to {@code target}, returning the SHA-256 (hex) of what was copied. */
  static String copyHashing(InputStream in, File target) throws IOException {
    MessageDigest sha256 = sha256();
    try (OutputStream out = Files.newOutputStream(target.toPath())) {
      byte[] buffer = new byte[1 << 16];
      for (int n = in.read(buffer); n > 0; n = in.read(buffer)) {
        sha256.update(buffer, 0, n);
        out.write(buffer, 0, n);
      }
    }
    return hex(sha256.digest());
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  static String hex(byte[] bytes) {
    StringBuilder s = new StringBuilder(bytes.length * 2);
    for (byte b : bytes) {
      s.append(String.format("%02x", b));
    }
    return s.toString();
  }
}
