package io.sparkort;

import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.Collections;
import java.util.HashSet;
import java.util.Set;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;

/**
 * Where a model's bytes are. On the driver, the user's {@code modelLocation} (a local path or any
 * Hadoop-FS URI) is read once into a local copy named by its SHA-256; Spark's {@code addFile}
 * ships that copy to executors, which find it with {@link SparkShim#addedFile}. Naming by content keeps two
 * models called {@code model.onnx} apart, and a model that changes on disk is shipped anew.
 */
final class ModelSource implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Set<String> SHIPPED = Collections.synchronizedSet(new HashSet<String>());
  private static File cacheDirectory;

  final String location;
  final String sha256;
  /** The name executors look the file up by. */
  final String fileName;
  /** The driver's local copy; not shipped with tasks. */
  private final transient File localCopy;

  private ModelSource(String location, String sha256, File localCopy) {
    this.location = location;
    this.sha256 = sha256;
    this.fileName = localCopy.getName();
    this.localCopy = localCopy;
  }

  /** Reads the model at {@code location} into the driver's cache. */
  static ModelSource resolve(String location, Configuration hadoopConf) {
    if (location == null || location.isEmpty()) {
      throw new ModelLoadException("modelLocation is not set");
    }
    Path path = new Path(location);
    try {
      File directory = cacheDirectory();
      File download = File.createTempFile("download-", ".onnx", directory);
      MessageDigest sha256 = NativeLoader.sha256();
      try (InputStream in = path.getFileSystem(hadoopConf).open(path);
          OutputStream out = Files.newOutputStream(download.toPath())) {
        byte[] buffer = new byte[1 << 16];
        for (int n = in.read(buffer); n > 0; n = in.read(buffer)) {
          sha256.update(buffer, 0, n);
          out.write(buffer, 0, n);
        }
      }
      String digest = NativeLoader.hex(sha256.digest());
      File named = new File(directory, "model-" + digest + ".onnx");
      Files.move(download.toPath(), named.toPath(), StandardCopyOption.REPLACE_EXISTING);
      named.deleteOnExit();
      return new ModelSource(location, digest, named);
    } catch (FileNotFoundException e) {
      throw new ModelLoadException("model file not found: " + location, e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot read model " + location + ": " + e.getMessage(), e);
    }
  }

  /** The driver's local copy, for reading the signature without any executor. */
  File localCopy() {
    return localCopy;
  }

  /** Registers the model with {@code addFile} once per application and session (Spark 4 ships files per session). */
  void shipTo(SparkSession session) {
    if (SHIPPED.add(session.sparkContext().applicationId() + "/" + SparkShim.artifactScope(session) + "/" + fileName)) {
      SparkShim.addFile(session, localCopy.getAbsolutePath());
    }
  }

  /** On an executor: the local path Spark fetched the model to. */
  String executorPath() {
    return SparkShim.addedFile(fileName);
  }

  private static synchronized File cacheDirectory() throws IOException {
    if (cacheDirectory == null) {
      cacheDirectory = Files.createTempDirectory("sparkort-models-").toFile();
      cacheDirectory.deleteOnExit();
    }
    return cacheDirectory;
  }
}
