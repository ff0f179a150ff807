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
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
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
 * <p>A model is known by its key ({@link #contentKey}): the SHA-256 of the .onnx bytes, and for
 * each external data file the SHA-256 of the driver's private copy (shipped files) or its location,
 * length and modification time (a URI: the driver never reads the data to name it). A local file
 * is copied and hashed once per {@link FileVersion}, not on every {@code transform}.
 */
final class ModelSource implements Serializable {
  private static final long serialVersionUID = 1L;
  private static final Set<String> SHIPPED = Collections.synchronizedSet(new HashSet<String>());
  private static final Map<String, ModelSignature> SIGNATURES = new ConcurrentHashMap<>();
  /** The external data files each .onnx content names, by its SHA-256. */
  private static final Map<String, List<String>> DATA_FILE_NAMES = new ConcurrentHashMap<>();
  /** The driver's copies of users' files (.onnx and data), by kind and the user's file's absolute path. */
  private static final Map<String, PrivateCopy> COPIES = new ConcurrentHashMap<>();
  /** Files the driver has read and hashed in this JVM: once per version of each, not per transform. */
  static final AtomicLong FILES_HASHED = new AtomicLong();
  private static File driverDirectory;

  final String location;
  /**
   * Names the model's content: its folder in every executor's cache, and the model in the native
   * registry ({@link ModelNode#open(ModelSource, String[], long[])} passes it to {@code openModel}).
   */
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
    /** The unique name the driver ships it under ({@link SparkShim#addedFile} finds it); null for a URI. */
    final String shippedName;
    /** SHA-256 of the driver's private copy, which is what is shipped; null for a URI (the driver never reads it). */
    final String sha256;

    DataFile(String location, long length, long modified, String shippedName, String sha256) {
      this.location = location;
      this.length = length;
      this.modified = modified;
      this.shippedName = shippedName;
      this.sha256 = sha256;
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
    File copy = null;
    try {
      FileSystem fs = fileSystem(given, hadoopConf);
      Path path = fs.makeQualified(given);
      if (fs.getFileStatus(path).isDirectory()) {
        throw new ModelLoadException("modelLocation " + location + " is a directory, not an .onnx file");
      }
      String sha256;
      if ("file".equals(path.toUri().getScheme())) {
        // A local file: copied and hashed once per version of it, not on every transform.
        File original = new File(path.toUri());
        PrivateCopy onnx = privateCopy(original, "model-", ".onnx");
        if (onnx == null) {
          throw new ModelLoadException("model " + location + " changed while it was being read; try again once it is written");
        }
        sha256 = onnx.sha256;
        copy = onnx.file;
      } else {
        File directory = driverDirectory();
        File download = Files.createTempFile(directory.toPath(), "download-", ".onnx").toFile();
        try {
          try (InputStream in = fs.open(path)) {
            sha256 = NativeLoader.copyHashing(in, download);
          }
          FILES_HASHED.incrementAndGet();
          copy = new File(directory, shippedModelName(sha256));
          // The copy is named by its content, so one that exists already is this same model: keep it.
          // (A plain move with REPLACE_EXISTING deletes the target first, so readers saw no file.)
          if (!copy.isFile()) {
            Files.move(download.toPath(), copy.toPath(), StandardCopyOption.ATOMIC_MOVE);
          }
        } finally {
          Files.deleteIfExists(download.toPath());
        }
      }
      File onnxCopy = copy;
      // The copy is named by its content, so its list of data files is known by its SHA-256 too.
      List<String> locations = DATA_FILE_NAMES.computeIfAbsent(sha256,
          k -> withLocation(onnxCopy, location, () -> ModelNode.externalDataFiles(onnxCopy.getPath())));
      List<FileStatus> statuses = new ArrayList<>();
      List<String> versions = new ArrayList<>();
      for (String relative : locations) {
        Path dataPath = new Path(path.getParent(), relative);
        try {
          statuses.add(fs.getFileStatus(dataPath));
        } catch (FileNotFoundException e) {
          throw new ModelLoadException("model " + location + " keeps weights in " + relative
              + ", which is not beside it (" + dataPath + ")", e);
        }
        FileStatus status = statuses.get(statuses.size() - 1);
        versions.add(relative + "\t" + status.getLen() + "\t" + status.getModificationTime());
      }
      String name = contentKey(sha256, versions);
      List<DataFile> dataFiles = new ArrayList<>();
      for (int i = 0; i < locations.size(); i++) {
        FileStatus status = statuses.get(i);
        dataFiles.add(new DataFile(locations.get(i), status.getLen(), status.getModificationTime(), null, null));
      }
      return new ModelSource(location, name, sha256, dataFiles, shipped, null, copy);
    } catch (FileNotFoundException | java.nio.file.NoSuchFileException e) {
      throw new ModelLoadException("model file not found: " + location, e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot read model " + location + ": " + e.getMessage(), e);
    } catch (IllegalArgumentException e) {
      // Hadoop's answer to a URI it cannot reach (an unknown host, a malformed authority).
      throw new ModelLoadException("cannot read model " + location + ": " + e.getMessage(), e);
    }
  }

  /**
   * Runs {@code read} on a local copy of the user's model; an error naming the copy names the
   * user's {@code location} instead (the copy's name means nothing to the user), with the same class.
   */
  static <T> T withLocation(File copy, String location, java.util.function.Supplier<T> read) {
    try {
      return read.get();
    } catch (SparkOrtException e) {
      throw renamed(e, copy.getPath(), location);
    }
  }

  /** {@code e} with {@code local} replaced by {@code location} in its message (which names it, at the least). */
  static SparkOrtException renamed(SparkOrtException e, String local, String location) {
    String message = String.valueOf(e.getMessage());
    message = message.contains(local) ? message.replace(local, location) : message + " (model " + location + ")";
    if (message.equals(e.getMessage())) {
      return e;
    }
    if (e instanceof ModelLoadException) {
      return new ModelLoadException(message, e);
    } else if (e instanceof InvalidInputException) {
      return new InvalidInputException(message, e);
    } else if (e instanceof InferenceException) {
      return new InferenceException(message, e);
    } else if (e instanceof NativeLibraryException) {
      return new NativeLibraryException(message, e);
    }
    return new SparkOrtException(message, e);
  }

  /**
   * On the driver: the model's signature, read from the .onnx file alone, with {@code outputs}
   * (tensors inside its graph) exposed as extra outputs.
   */
  ModelSignature signature(String[] outputs) {
    String signatureKey = sha256 + "|" + String.join("|", outputs);
    ModelSignature known = SIGNATURES.get(signatureKey);
    if (known == null) {
      known = withLocation(driverCopy, location, () -> ModelNode.readSignature(driverCopy.getPath(), outputs));
      SIGNATURES.put(signatureKey, known);
    }
    return known;
  }

  /**
   * On the driver: makes the model reachable from executors, and returns the source tasks carry.
   * Files without a scheme are registered with {@code addFile} once per application and session
   * (Spark 4 ships files per session). The external data files are copied first into the driver's
   * private directory, hashed, and shipped from there under their content's name: what executors
   * score is what this call saw, whatever happens to the user's files afterwards, and each
   * executor checks the bytes it gets against the hashes. For a URI, the driver's Hadoop
   * configuration is broadcast, and executors check each data file's length and modification time.
   */
  ModelSource shipTo(SparkSession session) {
    SparkContext context = session.sparkContext();
    if (!shipped) {
      Broadcast<HadoopConf> conf =
          JavaSparkContext.fromSparkContext(context).broadcast(new HadoopConf(context.hadoopConfiguration()));
      return new ModelSource(location, key, sha256, dataFiles, false, conf, driverCopy);
    }
    File folder = new File(new Path(location).toUri().getPath()).getAbsoluteFile().getParentFile();
    List<DataFile> privateFiles = new ArrayList<>();
    List<String> contents = new ArrayList<>();
    for (DataFile data : dataFiles) {
      File original = new File(folder, data.location);
      PrivateCopy copy = privateDataCopy(original, data.location);
      privateFiles.add(new DataFile(data.location, copy.length, copy.modified, copy.file.getName(), copy.sha256));
      contents.add(data.location + "\t" + copy.sha256);
    }
    String contentName = contentKey(sha256, contents);
    addFileOnce(session, driverCopy, shippedModelName());
    for (DataFile data : privateFiles) {
      addFileOnce(session, new File(driverCopy.getParentFile(), data.shippedName), data.shippedName);
    }
    return new ModelSource(location, contentName, sha256, privateFiles, true, null, driverCopy);
  }

  /**
   * The model's key, which names its folder in every executor's cache: the SHA-256 (hex) of the
   * .onnx file alone when it has no external data; else the SHA-256 of that and one line per data
   * file, its location and what is known of its content: the hash of the driver's copy for shipped
   * files, the length and modification time for a URI (the driver never reads that data).
   */
  static String contentKey(String onnxSha256, List<String> dataFiles) {
    if (dataFiles.isEmpty()) {
      return onnxSha256;
    }
    MessageDigest key = NativeLoader.sha256();
    key.update(onnxSha256.getBytes(StandardCharsets.UTF_8));
    for (String data : dataFiles) {
      key.update(("\n" + data).getBytes(StandardCharsets.UTF_8));
    }
    return NativeLoader.hex(key.digest());
  }

  /** The driver's private copy of one external data file, made once per version of the file. */
  private PrivateCopy privateDataCopy(File original, String relative) {
    try {
      PrivateCopy copy = privateCopy(original, "data-", ".bin");
      if (copy == null) {
        throw new ModelLoadException("external data " + original + " of model " + location
            + " changed while it was being read; try again once it is written");
      }
      return copy;
    } catch (FileNotFoundException | java.nio.file.NoSuchFileException e) {
      throw new ModelLoadException("external data " + relative + " of model " + location + " is gone ("
          + original + ")", e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot copy " + original + " (external data of " + location + "): " + e, e);
    }
  }

  /**
   * The driver's private copy of a user's file, named {@code prefix + sha256 + suffix}: the one made
   * before when the file's {@link FileVersion} is the same and the copy is still whole, else made
   * (and hashed) now; null when the file changed while it was being read.
   */
  private static PrivateCopy privateCopy(File original, String prefix, String suffix) throws IOException {
    String copyKey = prefix + original.getAbsolutePath();
    String before = FileVersion.of(original.toPath());
    PrivateCopy known = COPIES.get(copyKey);
    if (known != null && known.version.equals(before) && known.file.isFile() && known.file.length() == known.length) {
      return known;
    }
    File directory = driverDirectory();
    File temporary = Files.createTempFile(directory.toPath(), "copying-", suffix).toFile();
    try {
      String sha;
      try (InputStream in = Files.newInputStream(original.toPath())) {
        sha = NativeLoader.copyHashing(in, temporary);
      }
      FILES_HASHED.incrementAndGet();
      if (!FileVersion.of(original.toPath()).equals(before)) {
        return null;
      }
      File named = new File(directory, prefix + sha + suffix);
      // Named by its content, so one that exists already is this same file: keep it. (A plain move
      // with REPLACE_EXISTING deletes the target first, so readers saw no file.)
      if (!named.isFile()) {
        Files.move(temporary.toPath(), named.toPath(), StandardCopyOption.ATOMIC_MOVE);
      }
      PrivateCopy copy = new PrivateCopy(named, sha, named.length(), original.lastModified(), before);
      COPIES.put(copyKey, copy);
      return copy;
    } finally {
      Files.deleteIfExists(temporary.toPath());
    }
  }

  /** A driver-side copy of a user's file: its file, content, and the version of the user's file it was made from. */
  private static final class PrivateCopy {
    final File file;
    final String sha256;
    final long length;
    final long modified;
    final String version;

    PrivateCopy(File file, String sha256, long length, long modified, String version) {
      this.file = file;
      this.sha256 = sha256;
      this.length = length;
      this.modified = modified;
      this.version = version;
    }
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

  /** The driver's private copies: a 0700 folder inside this JVM's natives directory, removed with it. */
  private static synchronized File driverDirectory() throws IOException {
    if (driverDirectory == null) {
      NativeLoader.load();
      File folder = new File(NativeLoader.extractedDirectory(), "driver-models");
      Files.createDirectories(folder.toPath(),
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
      driverDirectory = folder;
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
