package io.sparkort;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Comparator;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * An executor's models on local disk, one folder per model key holding the .onnx file (as
 * {@value #MODEL_FILE}) and its external data files at their relative locations, so a model is fetched once per host however
 * many jobs, applications and executor JVMs use it. A folder appears whole (fetched into a temporary
 * folder, checked, then renamed), so a folder that exists is complete. The cache is never pruned;
 * {@value #DIRECTORY_CONF} moves it (default: {@code <java.io.tmpdir>/sparkort-models-<user>}).
 */
final class ModelCache {
  static final String DIRECTORY_CONF = "spark.sparkort.modelCacheDir";

  /** The .onnx file's name in its folder: the same for every model, since two names may hold one content. */
  static final String MODEL_FILE = "model.onnx";
  /** The layout of the folders below; another layout (a later sparkort) lives beside this one. */
  private static final String LAYOUT = "v1";

  private static final ConcurrentHashMap<String, Object> FETCHING = new ConcurrentHashMap<>();

  private ModelCache() {}

  /**
   * The local path of the model's .onnx file, fetched first if this host does not have it.
   *
   * @param fetched receives the bytes this call fetched
   */
  static File localModel(ModelSource source, long[] fetched) {
    File folder = new File(new File(directory(), LAYOUT), source.key);
    File model = new File(folder, MODEL_FILE);
    if (model.isFile()) {
      return model;
    }
    synchronized (FETCHING.computeIfAbsent(source.key, k -> new Object())) {
      if (!model.isFile()) {
        fetched[0] += fetch(source, folder);
      }
    }
    return model;
  }

  private static long fetch(ModelSource source, File folder) {
    File staging = null;
    try {
      Files.createDirectories(folder.getParentFile().toPath());
      staging = Files.createTempDirectory(folder.getParentFile().toPath(), ".fetching-" + source.key).toFile();
      long bytes = 0;
      File onnx = new File(staging, MODEL_FILE);
      String sha256;
      try (InputStream in = open(source, source.shipped ? source.shippedModelName() : null, null)) {
        sha256 = NativeLoader.copyHashing(in, onnx);
      }
      if (!sha256.equals(source.sha256)) {
        throw new ModelLoadException("model " + source.location + " changed after the driver read it (SHA-256 "
            + sha256 + ", the driver read " + source.sha256 + ")");
      }
      bytes += onnx.length();
      for (ModelSource.DataFile data : source.dataFiles) {
        File target = new File(staging, data.location);
        if (!target.getParentFile().isDirectory() && !target.getParentFile().mkdirs()) {
          throw new IOException("cannot create " + target.getParentFile());
        }
        try (InputStream in = open(source, data.shippedName, data.location)) {
          NativeLoader.copyHashing(in, target);
        }
        if (target.length() != data.length) {
          throw new ModelLoadException("external data " + data.location + " of model " + source.location
              + " has " + target.length() + " bytes, the driver saw " + data.length);
        }
        bytes += data.length;
      }
      try {
        Files.move(staging.toPath(), folder.toPath(), StandardCopyOption.ATOMIC_MOVE);
        staging = null;
      } catch (IOException e) {
        // Another executor on this host finished the same model first; its copy is as good.
        if (!new File(folder, MODEL_FILE).isFile()) {
          throw e;
        }
      }
      return bytes;
    } catch (FileNotFoundException e) {
      throw new ModelLoadException("model file not found: " + e.getMessage() + " (model " + source.location + ")", e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot fetch model " + source.location + ": " + e, e);
    } finally {
      if (staging != null) {
        delete(staging);
      }
    }
  }

  /** One of the model's files: shipped by the driver under {@code shippedName}, else read from its URI. */
  private static InputStream open(ModelSource source, String shippedName, String relative) throws IOException {
    if (source.shipped) {
      return Files.newInputStream(Paths.get(SparkShim.addedFile(shippedName)));
    }
    Path onnx = new Path(source.location);
    Path path = relative == null ? onnx : new Path(onnx.getParent(), relative);
    FileSystem fs = path.getFileSystem(source.hadoopConf());
    return fs.open(path);
  }

  static synchronized File directory() {
    String configured = SparkShim.executorConf().get(DIRECTORY_CONF, "");
    File directory = configured.isEmpty()
        ? new File(System.getProperty("java.io.tmpdir"), "sparkort-models-" + System.getProperty("user.name"))
        : new File(configured);
    if (!directory.isDirectory()) {
      try {
        Files.createDirectories(directory.toPath(),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      } catch (UnsupportedOperationException notPosix) {
        directory.mkdirs();
      } catch (IOException e) {
        throw new ModelLoadException("cannot create the model cache " + directory + ": " + e, e);
      }
    }
    return directory;
  }

  private static void delete(File folder) {
    try (Stream<java.nio.file.Path> files = Files.walk(folder.toPath())) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException ignored) {
      // A staging folder left behind costs disk, not correctness.
    }
  }
}
