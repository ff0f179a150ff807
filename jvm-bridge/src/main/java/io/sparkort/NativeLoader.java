package io.sparkort;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.MessageDigest;
import java.util.Comparator;
import java.util.Locale;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * Loads sparkort's native library and ONNX Runtime once per JVM. Both live in the jar under
 * {@code /native/<os>-<arch>/}, listed with their SHA-256 in {@code natives.properties}. Each JVM
 * extracts them into its own new 0700 directory ({@value #DIRECTORY_PREFIX}..., in the temp dir), so
 * executors sharing a host never touch each other's files, and checks the digests before loading
 * anything. The JVM holds a lock on the directory's {@value #LOCK_FILE} for as long as it lives and
 * deletes the directory when it exits; the directories of JVMs that died without exiting (kill -9,
 * the OOM killer) are removed by the next JVM that loads the natives on that host.
 *
 * <p>A user may load another ONNX Runtime build (a GPU one, say) by naming its shared library in the
 * Spark conf {@value #ORT_LIBRARY_CONF} (or a JVM system property of that name).
 */
public final class NativeLoader {
  public static final String ORT_LIBRARY_CONF = SparkOrtConf.ORT_LIBRARY;

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

  /** Prefix of the per-JVM directories; {@link #reclaimStaleDirectories} removes those of dead JVMs. */
  static final String DIRECTORY_PREFIX = "sparkort-natives-";
  /** Prefix of a directory not yet locked and named: reclaimed only once older than {@link #STAGING_GRACE_MS}. */
  static final String STAGING_PREFIX = ".sparkort-natives-staging-";
  /** The lock file in each directory, locked by its JVM for as long as it lives. */
  static final String LOCK_FILE = "jvm.lock";
  private static final long STAGING_GRACE_MS = 60_000;
  /** Held for the JVM's life: another JVM that can lock the file knows this one is gone. */
  private static FileChannel lockChannel;
  private static FileLock lock;
  /**
   * This JVM's own directory, never opened by {@link #reclaimStaleDirectories}: on Linux, closing any
   * channel to a file releases every lock this process holds on it, the one held for life included.
   */
  private static volatile File ownDirectory;

  /**
   * A new 0700 directory in the temp dir, locked for this JVM's life, after removing the
   * directories of JVMs that died without cleaning up (a kill -9 leaves its natives behind). The
   * lock is taken before the directory gets its final name, so no other JVM ever sees it unlocked.
   */
  private static File privateDirectory() throws IOException {
    File tmp = new File(System.getProperty("java.io.tmpdir"));
    reclaimStaleDirectories(tmp);
    Path staging;
    try {
      staging = Files.createTempDirectory(tmp.toPath(), STAGING_PREFIX,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    } catch (UnsupportedOperationException notPosix) {
      staging = Files.createTempDirectory(tmp.toPath(), STAGING_PREFIX);
    }
    FileChannel channel = FileChannel.open(staging.resolve(LOCK_FILE), StandardOpenOption.CREATE_NEW,
        StandardOpenOption.WRITE);
    FileLock held = channel.lock();
    Path directory = tmp.toPath().resolve(DIRECTORY_PREFIX + staging.getFileName().toString().substring(STAGING_PREFIX.length()));
    Files.move(staging, directory, StandardCopyOption.ATOMIC_MOVE);
    lockChannel = channel;
    lock = held;
    final File done = directory.toFile();
    ownDirectory = done.getAbsoluteFile();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(done), "sparkort-natives-cleanup"));
    return done;
  }

  /**
   * Removes the natives directories in {@code tmp} whose JVM is gone: those whose lock file nobody
   * holds (a live JVM holds its own for its whole life), and staging directories older than a
   * minute that nobody holds. Only directories this user owns are touched.
   *
   * @return the directories removed
   */
  static int reclaimStaleDirectories(File tmp) {
    File[] candidates = tmp.listFiles((dir, name) -> name.startsWith(DIRECTORY_PREFIX) || name.startsWith(STAGING_PREFIX));
    int removed = 0;
    for (File candidate : candidates == null ? new File[0] : candidates) {
      try {
        if (candidate.getAbsoluteFile().equals(ownDirectory)
            || !Files.isDirectory(candidate.toPath(), LinkOption.NOFOLLOW_LINKS) || !ownedByMe(candidate.toPath())) {
          continue;
        }
        boolean staging = candidate.getName().startsWith(STAGING_PREFIX);
        if (staging && System.currentTimeMillis() - candidate.lastModified() < STAGING_GRACE_MS) {
          continue;
        }
        File lockFile = new File(candidate, LOCK_FILE);
        if (!lockFile.isFile()) {
          // Every directory gets its lock file before its name; one without is a staging leftover.
          if (staging) {
            deleteTree(candidate);
            removed++;
          }
          continue;
        }
        try (FileChannel channel = FileChannel.open(lockFile.toPath(), StandardOpenOption.WRITE);
            FileLock free = channel.tryLock()) {
          if (free == null) {
            continue; // its JVM is alive
          }
          deleteTree(candidate);
          removed++;
        } catch (OverlappingFileLockException thisJvm) {
          // held by this JVM
        }
      } catch (IOException e) {
        // Unreadable or gone already: not ours to worry about.
      }
    }
    return removed;
  }

  /** Whether {@code path} (not followed if a link) belongs to the user this JVM runs as. */
  static boolean ownedByMe(Path path) throws IOException {
    try {
      UserPrincipal me = path.getFileSystem().getUserPrincipalLookupService()
          .lookupPrincipalByName(System.getProperty("user.name"));
      return me.equals(Files.getOwner(path, LinkOption.NOFOLLOW_LINKS));
    } catch (UnsupportedOperationException notPosix) {
      return true;
    }
  }

  /** Deletes a directory tree, not following links; what cannot be deleted stays. */
  static void deleteTree(File root) {
    try (Stream<Path> files = Files.walk(root.toPath())) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | java.io.UncheckedIOException ignored) {
      // Gone already, or not ours to delete.
    }
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
