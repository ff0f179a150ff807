package io.sparkort;

import java.io.BufferedWriter;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkConf;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An executor's models on local disk, one folder per model key, so a model is fetched once per
 * host however many jobs, applications and executor JVMs use it. A folder holds {@value
 * #MANIFEST} (the SHA-256 and length of each file) and {@code model/}: the .onnx file (as {@value
 * #MODEL_FILE}) and its external data files at their relative locations. A folder appears whole
 * (fetched into a temporary folder, checked, then renamed).
 *
 * <p>Nothing found on disk is trusted. The cache directory ({@value #DIRECTORY_CONF}, default
 * {@code <java.io.tmpdir>/sparkort-models-<user>}) is used only if it is a real directory owned by
 * this user and writable by no one else; otherwise the executor logs why and keeps a private cache
 * inside its natives directory. Before a JVM first uses an entry (and whenever a file's
 * {@link FileVersion} changes), every file is hashed against the manifest, and the manifest against the model's key;
 * an entry that does not match (truncated, flipped, half-deleted) is discarded and fetched again.
 *
 * <p>The cache holds at most {@value #BYTES_CONF} bytes (default {@value #DEFAULT_BYTES}): after a
 * fetch, the least recently used entries go first. An entry in use (from the task that opens it
 * until it closes the model, in any JVM: each holds a shared lock on the entry's manifest) is never
 * removed; if the entries in use alone are over the bound, they stay and a warning says so.
 */
final class ModelCache {
  static final String DIRECTORY_CONF = SparkOrtConf.MODEL_CACHE_DIR;
  static final String BYTES_CONF = SparkOrtConf.MODEL_CACHE_BYTES;
  static final String DEFAULT_BYTES = SparkOrtConf.DEFAULT_MODEL_CACHE_BYTES;

  /** The .onnx file's name in its folder: the same for every model, since two names may hold one content. */
  static final String MODEL_FILE = "model.onnx";
  static final String MANIFEST = "files.sha256";
  private static final String MODEL_FOLDER = "model";
  /** The layout of the folders below; another layout (a later sparkort) lives beside this one. */
  static final String LAYOUT = "v2";

  private static final Logger LOG = LoggerFactory.getLogger(ModelCache.class);
  private static final ConcurrentHashMap<String, Object> FETCHING = new ConcurrentHashMap<>();
  /** Entries this JVM has hashed, with the {@link FileVersion}s of their files then: unchanged files are not hashed again. */
  private static final ConcurrentHashMap<String, String> VERIFIED = new ConcurrentHashMap<>();
  /** Entries this JVM holds (a lock per JVM, a count of holders within it), by folder. */
  private static final Map<String, Holder> HELD = new HashMap<>();
  /** The directory each configured value resolved to in this JVM. */
  private static final Map<String, File> DIRECTORIES = new HashMap<>();

  private ModelCache() {}

  /** A task's hold on a cached model: while it is open, no JVM evicts the entry. */
  static final class Lease implements AutoCloseable {
    final File model;
    private final String folder;
    private boolean closed;

    private Lease(File model, String folder) {
      this.model = model;
      this.folder = folder;
    }

    @Override
    public synchronized void close() {
      if (!closed) {
        closed = true;
        release(folder);
      }
    }
  }

  /** The local path of the model's .onnx file, fetched first if needed; nothing holds it afterwards. */
  static File localModel(ModelSource source, long[] fetched) {
    try (Lease lease = open(source, fetched)) {
      return lease.model;
    }
  }

  /**
   * The model's .onnx file in this host's cache, verified, fetched first if this host has no good
   * copy; held until the lease is closed.
   *
   * @param fetched receives the bytes this call fetched
   */
  static Lease open(ModelSource source, long[] fetched) {
    File layout = new File(directory(), LAYOUT);
    File folder = new File(layout, source.key);
    synchronized (FETCHING.computeIfAbsent(folder.getPath(), k -> new Object())) {
      for (int attempt = 0; ; attempt++) {
        if (folder.isDirectory()) {
          Lease lease = acquire(folder);
          if (lease != null) {
            String wrong = verify(folder, source);
            if (wrong == null) {
              touch(folder);
              return lease;
            }
            lease.close();
            LOG.warn("sparkort: the cached copy of model {} in {} is not the model ({}); fetching it again",
                source.location, folder, wrong);
            discard(folder);
          }
        }
        if (attempt == 2) {
          throw new ModelLoadException("cannot keep a verified copy of model " + source.location + " in the cache "
              + folder + ": it changed under this executor twice");
        }
        if (fetch(source, folder, fetched)) {
          evict(layout, folder, bound(SparkShim.executorConf()));
        }
      }
    }
  }

  /** A reason the entry is not the model {@code source} names, or null when every byte matches. */
  static String verify(File folder, ModelSource source) {
    File manifest = new File(folder, MANIFEST);
    try {
      List<String[]> lines = new ArrayList<>();
      for (String line : Files.readAllLines(manifest.toPath(), StandardCharsets.UTF_8)) {
        String[] parts = line.split("\t", 3);
        if (parts.length != 3) {
          return MANIFEST + " is malformed";
        }
        lines.add(parts);
      }
      if (lines.size() != source.dataFiles.size() + 1 || !lines.get(0)[2].equals(MODEL_FILE)
          || !lines.get(0)[0].equals(source.sha256)) {
        return MANIFEST + " does not list the model's files";
      }
      for (int i = 0; i < source.dataFiles.size(); i++) {
        ModelSource.DataFile data = source.dataFiles.get(i);
        String[] line = lines.get(i + 1);
        if (!line[2].equals(data.location) || !line[1].equals(Long.toString(data.length))
            || (data.sha256 != null && !data.sha256.equals(line[0]))) {
          return MANIFEST + " does not list " + data.location + " as the driver resolved it";
        }
      }
      StringBuilder versions = new StringBuilder(FileVersion.of(manifest.toPath()));
      for (String[] line : lines) {
        versions.append('\n').append(FileVersion.of(new File(new File(folder, MODEL_FOLDER), line[2]).toPath()));
      }
      String known = VERIFIED.get(folder.getPath());
      if (versions.toString().equals(known)) {
        return null;
      }
      for (String[] line : lines) {
        File file = new File(new File(folder, MODEL_FOLDER), line[2]);
        if (file.length() != Long.parseLong(line[1])) {
          return line[2] + " has " + file.length() + " bytes, not " + line[1];
        }
        String actual = sha256(file);
        if (!actual.equals(line[0])) {
          return line[2] + " has SHA-256 " + actual + ", not " + line[0];
        }
      }
      VERIFIED.put(folder.getPath(), versions.toString());
      return null;
    } catch (NoSuchFileException | FileNotFoundException e) {
      return "missing " + e.getMessage();
    } catch (IOException | NumberFormatException e) {
      return "unreadable: " + e;
    }
  }

  /**
   * Fetches the model into a new staging folder, hashing every byte (checked against what the driver
   * resolved), writes the manifest and renames the folder into place.
   *
   * @return whether this call put the entry in place (false: another JVM did first)
   */
  private static boolean fetch(ModelSource source, File folder, long[] fetched) {
    File staging = null;
    try {
      Files.createDirectories(folder.getParentFile().toPath());
      staging = Files.createTempDirectory(folder.getParentFile().toPath(), ".fetching-" + source.key).toFile();
      File files = new File(staging, MODEL_FOLDER);
      Files.createDirectory(files.toPath());
      long bytes = 0;
      File onnx = new File(files, MODEL_FILE);
      StringBuilder manifest = new StringBuilder();
      String sha256;
      try (InputStream in = open(source, source.shipped ? source.shippedModelName() : null, null)) {
        sha256 = NativeLoader.copyHashing(in, onnx);
      }
      if (!sha256.equals(source.sha256)) {
        throw new ModelLoadException("model " + source.location + " changed after the driver read it (SHA-256 "
            + sha256 + ", the driver read " + source.sha256 + ")");
      }
      manifest.append(sha256).append('\t').append(onnx.length()).append('\t').append(MODEL_FILE).append('\n');
      bytes += onnx.length();
      for (ModelSource.DataFile data : source.dataFiles) {
        File target = new File(files, data.location);
        if (!target.getParentFile().isDirectory() && !target.getParentFile().mkdirs()) {
          throw new IOException("cannot create " + target.getParentFile());
        }
        if (!source.shipped) {
          checkUnchanged(source, data);
        }
        String dataSha;
        try (InputStream in = open(source, data.shippedName, data.location)) {
          dataSha = NativeLoader.copyHashing(in, target);
        }
        if (target.length() != data.length) {
          throw new ModelLoadException("external data " + data.location + " of model " + source.location
              + " has " + target.length() + " bytes, the driver saw " + data.length + " when the model was resolved");
        }
        if (data.sha256 != null && !data.sha256.equals(dataSha)) {
          throw new ModelLoadException("external data " + data.location + " of model " + source.location
              + " reached this executor with SHA-256 " + dataSha + ", the driver shipped " + data.sha256);
        }
        manifest.append(dataSha).append('\t').append(data.length).append('\t').append(data.location).append('\n');
        bytes += data.length;
      }
      try (BufferedWriter out = Files.newBufferedWriter(new File(staging, MANIFEST).toPath(), StandardCharsets.UTF_8)) {
        out.write(manifest.toString());
      }
      try {
        Files.move(staging.toPath(), folder.toPath(), StandardCopyOption.ATOMIC_MOVE);
        staging = null;
      } catch (IOException e) {
        // Another executor on this host finished the same model first; it is verified before use.
        if (!folder.isDirectory()) {
          throw e;
        }
        return false;
      }
      fetched[0] += bytes;
      return true;
    } catch (FileNotFoundException | NoSuchFileException e) {
      throw new ModelLoadException("model file not found: " + e.getMessage() + " (model " + source.location + ")", e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot fetch model " + source.location + ": " + e, e);
    } finally {
      if (staging != null) {
        NativeLoader.deleteTree(staging);
      }
    }
  }

  /** A data file read from a URI must be the one the driver named (length and modification time). */
  private static void checkUnchanged(ModelSource source, ModelSource.DataFile data) throws IOException {
    Path path = new Path(new Path(source.location).getParent(), data.location);
    org.apache.hadoop.fs.FileStatus status = path.getFileSystem(source.hadoopConf()).getFileStatus(path);
    if (status.getLen() != data.length || status.getModificationTime() != data.modified) {
      throw new ModelLoadException("external data " + path + " of model " + source.location
          + " changed after transform resolved the model (" + data.length + " bytes, modified " + data.modified
          + "; now " + status.getLen() + " bytes, modified " + status.getModificationTime()
          + "): transform the DataFrame again to score with the new weights");
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

  /** The cache directory for this executor's conf: the configured (or default) one if it is private, else this JVM's own. */
  static File directory() {
    String configured = SparkShim.executorConf().get(DIRECTORY_CONF, "");
    synchronized (DIRECTORIES) {
      File known = DIRECTORIES.get(configured);
      if (known != null && known.isDirectory()) {
        return known;
      }
      File directory = configured.isEmpty()
          ? new File(System.getProperty("java.io.tmpdir"), "sparkort-models-" + System.getProperty("user.name"))
          : new File(configured);
      String refused;
      try {
        if (!Files.exists(directory.toPath(), LinkOption.NOFOLLOW_LINKS)) {
          createPrivate(directory);
        }
        refused = notPrivate(directory);
        File layout = new File(directory, LAYOUT);
        if (refused == null && Files.exists(layout.toPath(), LinkOption.NOFOLLOW_LINKS)) {
          refused = notPrivate(layout);
        }
      } catch (IOException e) {
        refused = "it cannot be created: " + e;
      }
      if (refused != null) {
        NativeLoader.load();
        File own = new File(NativeLoader.extractedDirectory(), "model-cache");
        LOG.warn("sparkort: not using the model cache {} ({}{}); this executor keeps its models in {} instead",
            directory, refused, configured.isEmpty() ? "" : ", from " + DIRECTORY_CONF, own);
        try {
          createPrivate(own);
        } catch (IOException e) {
          throw new ModelLoadException("cannot create a model cache: " + own + ": " + e, e);
        }
        directory = own;
      }
      DIRECTORIES.put(configured, directory);
      return directory;
    }
  }

  private static void createPrivate(File directory) throws IOException {
    try {
      Files.createDirectories(directory.toPath(),
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (UnsupportedOperationException notPosix) {
      Files.createDirectories(directory.toPath());
    }
  }

  /**
   * Why {@code directory} is not a safe place for this user's models (null when it is): a link, not a
   * directory, owned by another user, or writable by its group or others (anyone who can write there
   * could put weights under a model's key).
   */
  static String notPrivate(File directory) throws IOException {
    java.nio.file.Path path = directory.toPath();
    if (Files.isSymbolicLink(path)) {
      return "it is a symbolic link";
    }
    if (!Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
      return "it is not a directory";
    }
    if (!NativeLoader.ownedByMe(path)) {
      return "it is owned by " + Files.getOwner(path, LinkOption.NOFOLLOW_LINKS).getName() + ", not by "
          + System.getProperty("user.name");
    }
    try {
      Set<PosixFilePermission> mode = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
      if (mode.contains(PosixFilePermission.GROUP_WRITE) || mode.contains(PosixFilePermission.OTHERS_WRITE)) {
        return "others may write to it (mode " + PosixFilePermissions.toString(mode) + ")";
      }
    } catch (UnsupportedOperationException notPosix) {
      return null;
    }
    return null;
  }

  /** The cache's bound in bytes ({@value #BYTES_CONF}). */
  static long bound(SparkConf conf) {
    return BatchBudget.sizeConf(conf.contains(BYTES_CONF) ? conf.get(BYTES_CONF) : DEFAULT_BYTES, BYTES_CONF, 0);
  }

  /**
   * Removes the least recently used entries of {@code layout} not in use, until the entries take at
   * most {@code bound} bytes; {@code keep} (just fetched) stays whatever its size.
   *
   * @return the entries removed
   */
  static int evict(File layout, File keep, long bound) {
    File[] entries = layout.listFiles(f -> f.isDirectory() && !f.getName().startsWith("."));
    if (entries == null) {
      return 0;
    }
    long total = 0;
    Map<File, Long> sizes = new HashMap<>();
    Map<File, Long> used = new HashMap<>();
    for (File entry : entries) {
      long size = size(entry);
      sizes.put(entry, size);
      used.put(entry, entry.lastModified());
      total += size;
    }
    List<File> oldestFirst = new ArrayList<>(sizes.keySet());
    oldestFirst.sort((a, b) -> Long.compare(used.get(a), used.get(b)));
    int removed = 0;
    for (File entry : oldestFirst) {
      if (total <= bound) {
        break;
      }
      if (entry.equals(keep) || !removeIfUnused(entry)) {
        continue;
      }
      total -= sizes.get(entry);
      removed++;
      LOG.info("sparkort: removed the least recently used model {} ({} bytes) from the model cache ({} = {})",
          entry.getName(), sizes.get(entry), BYTES_CONF, bound);
    }
    if (total > bound) {
      LOG.warn("sparkort: the model cache {} holds {} bytes in models in use, more than {} = {}",
          layout, total, BYTES_CONF, bound);
    }
    return removed;
  }

  /** Removes the entry if no task of any JVM holds it (it can then take the manifest's exclusive lock). */
  private static boolean removeIfUnused(File entry) {
    synchronized (HELD) {
      if (HELD.containsKey(entry.getPath())) {
        return false;
      }
      File manifest = new File(entry, MANIFEST);
      File aside = new File(entry.getParentFile(), ".evicted-" + entry.getName() + "-" + System.nanoTime());
      try (FileChannel channel = FileChannel.open(manifest.toPath(), StandardOpenOption.WRITE);
          FileLock exclusive = channel.tryLock()) {
        if (exclusive == null) {
          return false;
        }
        Files.move(entry.toPath(), aside.toPath(), StandardCopyOption.ATOMIC_MOVE);
      } catch (OverlappingFileLockException | IOException e) {
        return false;
      }
      NativeLoader.deleteTree(aside);
      VERIFIED.remove(entry.getPath());
      return true;
    }
  }

  /** Takes this JVM's shared lock on the entry (once for all its holders); null when it is being removed. */
  private static Lease acquire(File folder) {
    synchronized (HELD) {
      Holder holder = HELD.get(folder.getPath());
      if (holder == null) {
        java.nio.file.Path manifest = new File(folder, MANIFEST).toPath();
        FileChannel channel = null;
        try {
          Object before = identity(manifest);
          channel = FileChannel.open(manifest, StandardOpenOption.READ);
          FileLock lock = channel.tryLock(0, Long.MAX_VALUE, true);
          // Locked, but maybe after an evictor renamed the folder away: then the lock is on the old one.
          if (lock == null || before == null || !before.equals(identity(manifest))) {
            channel.close();
            return null;
          }
          holder = new Holder(channel, lock);
          HELD.put(folder.getPath(), holder);
        } catch (IOException | OverlappingFileLockException e) {
          closeQuietly(channel);
          // No manifest (a half-deleted entry): a lease anyway, so that verification says what is wrong.
          holder = new Holder(null, null);
          HELD.put(folder.getPath(), holder);
        }
      }
      holder.count++;
      return new Lease(new File(new File(folder, MODEL_FOLDER), MODEL_FILE), folder.getPath());
    }
  }

  /** The file's identity (device and inode), or null when it is gone. */
  private static Object identity(java.nio.file.Path path) {
    try {
      return Files.readAttributes(path, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
    } catch (IOException gone) {
      return null;
    }
  }

  private static void release(String folder) {
    synchronized (HELD) {
      Holder holder = HELD.get(folder);
      if (holder != null && --holder.count == 0) {
        HELD.remove(folder);
        closeQuietly(holder.channel);
      }
    }
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException ignored) {
        // Closing releases the lock; a failure here leaves nothing to undo.
      }
    }
  }

  private static final class Holder {
    final FileChannel channel;
    final FileLock lock;
    int count;

    Holder(FileChannel channel, FileLock lock) {
      this.channel = channel;
      this.lock = lock;
    }
  }

  /** Marks the entry used now: eviction takes the least recently used first. */
  private static void touch(File folder) {
    try {
      Files.setLastModifiedTime(folder.toPath(), FileTime.fromMillis(System.currentTimeMillis()));
    } catch (IOException ignored) {
      // Only the eviction order suffers.
    }
  }

  /** Moves a bad entry aside (atomically, so no JVM sees it half-deleted) and deletes it. */
  private static void discard(File folder) {
    File aside = new File(folder.getParentFile(), ".discarded-" + folder.getName() + "-" + System.nanoTime());
    try {
      Files.move(folder.toPath(), aside.toPath(), StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      LOG.warn("sparkort: cannot move the bad cache entry {} aside: {}", folder, e.toString());
      NativeLoader.deleteTree(folder);
      return;
    } finally {
      VERIFIED.remove(folder.getPath());
    }
    NativeLoader.deleteTree(aside);
  }

  private static long size(File entry) {
    try (Stream<java.nio.file.Path> files = Files.walk(entry.toPath())) {
      return files.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).mapToLong(p -> p.toFile().length()).sum();
    } catch (IOException | java.io.UncheckedIOException e) {
      return 0;
    }
  }

  private static String sha256(File file) throws IOException {
    MessageDigest digest = NativeLoader.sha256();
    byte[] buffer = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file.toPath())) {
      for (int n = in.read(buffer); n > 0; n = in.read(buffer)) {
        digest.update(buffer, 0, n);
      }
    }
    return NativeLoader.hex(digest.digest());
  }
}
