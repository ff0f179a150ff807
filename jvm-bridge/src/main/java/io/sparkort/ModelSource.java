package io.sparkort;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

/**
 * Where a model's files are, and how executors get them. A {@code modelLocation} without a scheme
 * is a file on the driver: the driver reads it and ships it with {@code SparkContext.addFile}. A URI
 * ({@code file:}, {@code hdfs:}, {@code s3a:}, {@code dbfs:}, any Hadoop file system) is read by the
 * executors themselves; the driver reads only the .onnx file (for the signature), never its
 * external data files. Either way executors keep the files in their {@link ModelCache}.
 *
 * <p>A model is known by its key: the SHA-256 of the .onnx bytes, and for each external data file
 * its location, length and modification time (so the driver need not read the data to name it).
 */
final class ModelSource implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Set<String> SHIPPED = Collections.synchronizedSet(new HashSet<String>());
  private static final Map<String, ModelSignature> SIGNATURES = new ConcurrentHashMap<>();
  private static File driverDirectory;

  final String location;
  /** Names the model's content: its folder in every executor's cache. */
  final String key;
  /** SHA-256 of the .onnx file, checked on executors after each fetch. */
  final String sha256;
  final List<DataFile> dataFiles;
  /** Whether the driver ships the files ({@code addFile}); else executors read {@link #location}. */
  final boolean shipped;
  /** For a URI: the driver's Hadoop configuration (credentials and all), for executors to read with. */
  private final Broadcast<HadoopConf> hadoopConf;
  /** The driver's copy of the .onnx file; not sent to executors. */
  private final transient File driverCopy;

  /** An external data file of the model, relative to its .onnx file. */
  static final class DataFile implements Serializable {
    private static final long serialVersionUID = 1L;
    final String location;
    final long length;
    final long modified;
    /** The unique name the driver ships it under ({@link SparkShim#addedFile} finds it). */
    final String shippedName;

    DataFile(String location, long length, long modified, String shippedName) {
      this.location = location;
      this.length = length;
      this.modified = modified;
      this.shippedName = shippedName;
    }
  }

  private ModelSource(String location, String key, String sha256, List<DataFile> dataFiles, boolean shipped,
      Broadcast<HadoopConf> hadoopConf, File driverCopy) {
    this.location = location;
    this.key = key;
    this.sha256 = sha256;
    this.dataFiles = Collections.unmodifiableList(dataFiles);
    this.shipped = shipped;
    this.hadoopConf = hadoopConf;
    this.driverCopy = driverCopy;
  }

  /** The driver's copy of the .onnx file. */
  File driverCopy() {
    return driverCopy;
  }

  /** Where a modelLocation is read from: a path without a scheme is a file on the driver. */
  static FileSystem fileSystem(Path location, Configuration hadoopConf) throws IOException {
    return location.toUri().getScheme() == null ? FileSystem.getLocal(hadoopConf) : location.getFileSystem(hadoopConf);
  }

  /** On the driver: reads the .onnx file at {@code location} and names the model's files. */
  static ModelSource resolve(String location, Configuration hadoopConf) {
    if (location == null || location.isEmpty()) {
      throw new ModelLoadException("modelLocation is not set");
    }
    Path given = new Path(location);
    boolean shipped = given.toUri().getScheme() == null;
    try {
      FileSystem fs = fileSystem(given, hadoopConf);
      Path path = fs.makeQualified(given);
      File directory = driverDirectory();
      File download = File.createTempFile("download-", ".onnx", directory);
      String sha256;
      try (InputStream in = fs.open(path)) {
        sha256 = NativeLoader.copyHashing(in, download);
      }
      File copy = new File(directory, shippedModelName(sha256));
      Files.move(download.toPath(), copy.toPath(), StandardCopyOption.REPLACE_EXISTING);
      copy.deleteOnExit();
      List<String> locations;
      try {
        locations = ModelNode.externalDataFiles(copy.getPath());
      } catch (SparkOrtException e) {
        copy.delete();
        throw ModelNode.naming(e, copy.getPath(), location);
      }
      List<FileStatus> statuses = new ArrayList<>();
      MessageDigest key = NativeLoader.sha256();
      key.update(sha256.getBytes(StandardCharsets.UTF_8));
      for (String relative : locations) {
        Path dataPath = new Path(path.getParent(), relative);
        try {
          statuses.add(fs.getFileStatus(dataPath));
        } catch (FileNotFoundException e) {
          throw new ModelLoadException("model " + path + " keeps weights in " + relative
              + ", which is not beside it (" + dataPath + ")", e);
        }
        FileStatus status = statuses.get(statuses.size() - 1);
        key.update(("\n" + relative + "\t" + status.getLen() + "\t" + status.getModificationTime())
            .getBytes(StandardCharsets.UTF_8));
      }
      String name = locations.isEmpty() ? sha256 : NativeLoader.hex(key.digest());
      List<DataFile> dataFiles = new ArrayList<>();
      for (int i = 0; i < locations.size(); i++) {
        FileStatus status = statuses.get(i);
        String shippedName = shipped ? "model-" + name + ".data" + i : null;
        dataFiles.add(new DataFile(locations.get(i), status.getLen(), status.getModificationTime(), shippedName));
      }
      return new ModelSource(location, name, sha256, dataFiles, shipped, null, copy);
    } catch (FileNotFoundException e) {
      throw new ModelLoadException("model file not found: " + location, e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot read model " + location + ": " + e.getMessage(), e);
    }
  }

  /**
   * On the driver: the model's signature, read from the .onnx file alone, with {@code outputs}
   * (tensors inside its graph) exposed as extra outputs.
   */
  ModelSignature signature(String[] outputs) {
    String signatureKey = key + "|" + String.join("|", outputs);
    ModelSignature known = SIGNATURES.get(signatureKey);
    if (known == null) {
      try {
        known = ModelNode.describe(driverCopy.getPath(), outputs);
      } catch (SparkOrtException e) {
        throw ModelNode.naming(e, driverCopy.getPath(), location);
      }
      SIGNATURES.put(signatureKey, known);
    }
    return known;
  }

  /**
   * On the driver: makes the model reachable from executors, and returns the source tasks carry.
   * Files without a scheme are registered with {@code addFile} once per application and session
   * (Spark 4 ships files per session), the data files through links named after the model, so two
   * models' {@code weights.bin} never meet; for a URI, the driver's Hadoop configuration is broadcast.
   */
  ModelSource shipTo(SparkSession session) {
    SparkContext context = session.sparkContext();
    if (!shipped) {
      Broadcast<HadoopConf> conf =
          JavaSparkContext.fromSparkContext(context).broadcast(new HadoopConf(context.hadoopConfiguration()));
      return new ModelSource(location, key, sha256, dataFiles, false, conf, driverCopy);
    }
    addFileOnce(session, driverCopy, shippedModelName());
    File folder = new File(new Path(location).toUri().getPath()).getAbsoluteFile().getParentFile();
    for (DataFile data : dataFiles) {
      File original = new File(folder, data.location);
      File named = new File(driverCopy.getParentFile(), data.shippedName);
      // Spark ships a file under its own name (a symbolic link under its target's), so each data file
      // gets a name of its own: a hard link where the file system allows, else a copy.
      try {
        if (!named.isFile()) {
          try {
            Files.createLink(named.toPath(), original.toPath());
          } catch (IOException | UnsupportedOperationException e) {
            Files.copy(original.toPath(), named.toPath());
          }
          named.deleteOnExit();
        }
      } catch (IOException e) {
        throw new ModelLoadException("cannot ship " + original + " (external data of " + location + "): " + e, e);
      }
      addFileOnce(session, named, data.shippedName);
    }
    return this;
  }

  private static void addFileOnce(SparkSession session, File file, String name) {
    if (SHIPPED.add(session.sparkContext().applicationId() + "/" + SparkShim.artifactScope(session) + "/" + name)) {
      SparkShim.addFile(session, file.getAbsolutePath());
    }
  }

  /** On an executor: the Hadoop configuration to read {@link #location} with. */
  Configuration hadoopConf() {
    return hadoopConf.value().conf;
  }

  /** The name under which the driver ships the .onnx file: its driver copy's name. */
  String shippedModelName() {
    return shippedModelName(sha256);
  }

  private static String shippedModelName(String sha256) {
    return "model-" + sha256 + ".onnx";
  }

  private static synchronized File driverDirectory() throws IOException {
    if (driverDirectory == null) {
      driverDirectory = Files.createTempDirectory("sparkort-models-").toFile();
      driverDirectory.deleteOnExit();
    }
    return driverDirectory;
  }

  /** A Hadoop configuration that can travel in a broadcast. */
  static final class HadoopConf implements Serializable {
    private static final long serialVersionUID = 1L;
    transient Configuration conf;

    HadoopConf(Configuration conf) {
      this.conf = conf;
    }

    private void writeObject(ObjectOutputStream out) throws IOException {
      out.defaultWriteObject();
      conf.write(new DataOutputStream(out));
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
      in.defaultReadObject();
      conf = new Configuration(false);
      conf.readFields(new DataInputStream(in));
    }
  }
}
