package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.SparkException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.opentest4j.AssertionFailedError;

/**
 * What is on disk cannot substitute a model, poison the session or pile up: the executor model
 * cache, the driver's copies, the users' files changing under a transformed DataFrame, the natives
 * directories of dead JVMs. The session's configured cache directory is planted beforehand by
 * another user (mode 0777, other weights under the victim model's key), as an attacker on a shared
 * host would; every case here runs with the private cache the executor falls back to. Each case
 * asserts the error (class and message) where one is due, and that this JVM then scores a valid
 * model as ONNX Runtime's Python API does. Tests run as root, which reads any file whatever its
 * mode: permission cases assert on the ownership and mode checks, not on EACCES.
 */
@Timeout(300)
class ModelFilesReliabilityTest {
  private static SparkSession spark;
  private static File work;
  private static File planted;
  private static File victim;
  private static int variants = 40;

  @BeforeAll
  static void plantAndStart() throws Exception {
    work = Files.createTempDirectory("sparkort-files-test-").toFile();
    // The victim's model, and a cache directory another user made before any executor ran: world
    // writable, holding the linear model's signature with other weights under the victim's key, in
    // every layout (an attacker who read the code forges the manifest too).
    victim = TestModels.variant(TestCase.load("linear"), 1);
    String victimSha = NativeLoader.hex(NativeLoader.sha256().digest(Files.readAllBytes(victim.toPath())));
    byte[] other = Files.readAllBytes(TestCase.load("linear_other").model.toPath());
    String otherSha = NativeLoader.hex(NativeLoader.sha256().digest(other));
    planted = new File(work, "planted-cache");
    for (String layout : new String[] {"v1/" + victimSha, "v2/" + victimSha + "/model"}) {
      File folder = new File(planted, layout);
      assertTrue(folder.mkdirs());
      Files.write(new File(folder, "model.onnx").toPath(), other);
    }
    Files.write(new File(planted, "v2/" + victimSha + "/files.sha256").toPath(),
        (victimSha + "\t" + other.length + "\tmodel.onnx\n").getBytes("UTF-8"));
    assertNotEquals(victimSha, otherSha);
    try (Stream<java.nio.file.Path> files = Files.walk(planted.toPath())) {
      for (java.nio.file.Path p : files.collect(Collectors.toList())) {
        Files.setOwner(p, nobody());
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxrwxrwx" : "rw-rw-rw-"));
      }
    }
    spark = TestCase.localSpark("sparkort-model-files-test")
        .config(ModelCache.DIRECTORY_CONF, planted.getPath())
        .config(ModelCache.BYTES_CONF, "1g")
        .getOrCreate();
  }

  @AfterAll
  static void stop() {
    spark.stop();
    NativeLoader.deleteTree(work);
  }

  /** The driver reads and hashes a model's file once per version of it, not on every transform. */
  @Test
  void theDriverHashesAnUnchangedModelFileOncePerVersion() throws Exception {
    TestCase c = TestCase.load("linear");
    File onnx = TestModels.variant(c, 41);
    OnnxModel model = c.onnxModel().setModelLocation(onnx.getPath());
    model.transform(c.dataFrame(spark, 1));
    long hashed = ModelSource.FILES_HASHED.get();
    for (int i = 0; i < 3; i++) {
      model.transform(c.dataFrame(spark, 1));
      model.signature();
    }
    assertEquals(hashed, ModelSource.FILES_HASHED.get(), "an unchanged file is not hashed again");
    // Rewritten in place with the same bytes: another version, hashed once more (and scoring alike).
    Files.write(onnx.toPath(), Files.readAllBytes(onnx.toPath()));
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    model.transform(c.dataFrame(spark, 1));
    assertEquals(hashed + 1, ModelSource.FILES_HASHED.get(), "a rewritten file is hashed once");
  }

  @Test
  void aPlantedWorldWritableCacheOfAnotherUserIsNotUsed() throws Exception {
    TestCase c = TestCase.load("linear");
    c.assertMatchesOnnxRuntime(c.onnxModel().setModelLocation(victim.getPath()).transform(c.dataFrame(spark, 2))
        .collectAsList());
    File used = ModelCache.directory();
    assertNotEquals(planted.getCanonicalFile(), used.getCanonicalFile(), "the planted directory was refused");
    assertTrue(used.getPath().startsWith(NativeLoader.extractedDirectory().getPath()),
        "the executor's own private cache instead: " + used);
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(used.toPath())));
    String why = ModelCache.notPrivate(planted);
    assertTrue(why != null && why.contains("owned by nobody"), why);
    assertValidModelScores();
  }

  @Test
  void aCacheDirectoryIsPrivateOnlyIfOwnedAndWritableByThisUserAlone() throws Exception {
    File mine = directory("mine", "rwx------");
    assertNull(ModelCache.notPrivate(mine));
    assertNull(ModelCache.notPrivate(directory("readable", "rwxr-xr-x")), "others may read, not write");
    assertEquals("others may write to it (mode rwxrwxrwx)", ModelCache.notPrivate(directory("open", "rwxrwxrwx")));
    assertEquals("others may write to it (mode rwxrwx---)", ModelCache.notPrivate(directory("group", "rwxrwx---")));
    File theirs = directory("theirs", "rwx------");
    Files.setOwner(theirs.toPath(), nobody());
    assertEquals("it is owned by nobody, not by " + System.getProperty("user.name"), ModelCache.notPrivate(theirs));
    File link = new File(work, "link");
    Files.createSymbolicLink(link.toPath(), mine.toPath());
    assertEquals("it is a symbolic link", ModelCache.notPrivate(link));
    File file = new File(work, "plain-file");
    assertTrue(file.createNewFile());
    assertEquals("it is not a directory", ModelCache.notPrivate(file));
    assertValidModelScores();
  }

  @Test
  void aTruncatedCacheEntryIsFetchedAgain() throws Exception {
    TestCase c = TestCase.load("mlp");
    OnnxModel model = c.onnxModel().setModelLocation(variant(c).getPath());
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    File cached = cachedFile(model, "model.onnx");
    long length = cached.length();
    try (RandomAccessFile file = new RandomAccessFile(cached, "rw")) {
      file.setLength(length / 2);
    }
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    assertEquals(length, cachedFile(model, "model.onnx").length(), "the entry was fetched whole again");
    assertValidModelScores();
  }

  @Test
  void aFlippedByteInACacheEntryIsFetchedAgainEvenWithItsTimeSetBack() throws Exception {
    TestCase c = TestCase.load("mlp");
    OnnxModel model = c.onnxModel().setModelLocation(variant(c).getPath());
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    File cached = cachedFile(model, "model.onnx");
    byte[] good = Files.readAllBytes(cached.toPath());
    long modified = cached.lastModified();
    try (RandomAccessFile file = new RandomAccessFile(cached, "rw")) {
      file.seek(good.length - 100);
      file.write(good[good.length - 100] ^ 0x40);
    }
    assertTrue(cached.setLastModified(modified));
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 3)).collectAsList());
    assertTrue(java.util.Arrays.equals(good, Files.readAllBytes(cachedFile(model, "model.onnx").toPath())));
    assertValidModelScores();
  }

  @Test
  void truncatedOrMissingExternalDataInTheCacheIsFetchedAgain() throws Exception {
    TestCase c = TestCase.load("external_mlp");
    OnnxModel model = c.onnxModel().setModelLocation(variant(c).getPath());
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    File data = cachedFile(model, "weights.bin");
    long length = data.length();
    try (RandomAccessFile file = new RandomAccessFile(data, "rw")) {
      file.setLength(length - 7);
    }
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    assertEquals(length, cachedFile(model, "weights.bin").length());
    assertTrue(cachedFile(model, "weights.bin").delete());
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    assertTrue(new File(cachedFile(model, "model.onnx").getParentFile(), "../" + ModelCache.MANIFEST).delete());
    c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
    assertEquals(length, cachedFile(model, "weights.bin").length());
    assertValidModelScores();
  }

  @Test
  void aDataFileRewrittenAfterTransformNeitherPoisonsTheSessionNorReachesTheDataFrame() throws Exception {
    TestCase c = TestCase.load("external_mlp");
    File onnx = variant(c);
    Dataset<Row> scored = c.onnxModel().setModelLocation(onnx.getPath()).transform(c.dataFrame(spark, 3));
    File data = new File(onnx.getParentFile(), "external_mlp_data/weights.bin");
    long inode = (Long) Files.getAttribute(data.toPath(), "unix:ino");
    try (RandomAccessFile file = new RandomAccessFile(data, "rw")) {
      file.write(new byte[(int) file.length()]); // in place: the same file, zeros for weights
    }
    assertEquals(inode, (Long) Files.getAttribute(data.toPath(), "unix:ino"));
    c.assertMatchesOnnxRuntime(scored.collectAsList());
    assertEquals(499500L, (long) spark.range(1000).as(Encoders.LONG()).javaRDD().reduce(Long::sum),
        "the session is not poisoned");
    // A new transform scores the new weights: nothing stale either.
    Dataset<Row> rescored = c.onnxModel().setModelLocation(onnx.getPath()).transform(c.dataFrame(spark, 3));
    assertThrows(AssertionFailedError.class, () -> c.assertMatchesOnnxRuntime(rescored.collectAsList()));
    c.assertMatchesOnnxRuntime(scored.collectAsList());
    assertValidModelScores();
  }

  @Test
  void aDataFileDeletedAfterTransformStillScoresAndANewTransformNamesIt() throws Exception {
    TestCase c = TestCase.load("external_mlp");
    File onnx = variant(c);
    Dataset<Row> scored = c.onnxModel().setModelLocation(onnx.getPath()).transform(c.dataFrame(spark, 2));
    File data = new File(onnx.getParentFile(), "external_mlp_data/weights.bin");
    assertTrue(data.delete());
    c.assertMatchesOnnxRuntime(scored.collectAsList());
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> c.onnxModel().setModelLocation(onnx.getPath()).transform(c.dataFrame(spark, 2)));
    assertTrue(e.getMessage().contains("model " + onnx.getPath() + " keeps weights in external_mlp_data/weights.bin, "
        + "which is not beside it"), e.getMessage());
    assertValidModelScores();
  }

  @Test
  void aUriModelsDataChangedAfterTransformIsRefusedNamingTheUsersFile() throws Exception {
    TestCase c = TestCase.load("external_mlp");
    File onnx = variant(c);
    Dataset<Row> scored = c.onnxModel().setModelLocation(onnx.toURI().toString()).transform(c.dataFrame(spark, 2));
    File data = new File(onnx.getParentFile(), "external_mlp_data/weights.bin");
    assertTrue(data.setLastModified(data.lastModified() + 60_000));
    SparkException e = assertThrows(SparkException.class, scored::collectAsList);
    String message = causes(e);
    assertTrue(message.contains("io.sparkort.ModelLoadException") && message.contains("weights.bin of model "
        + onnx.toURI()) && message.contains("changed after transform resolved the model"), message);
    assertValidModelScores();
  }

  @Test
  void aModelFileReplacedAfterTransformDoesNotReachTheDataFrame() throws Exception {
    TestCase c = TestCase.load("linear");
    File onnx = variant(c);
    Dataset<Row> scored = c.onnxModel().setModelLocation(onnx.getPath()).transform(c.dataFrame(spark, 2));
    Files.copy(TestCase.load("linear_other").model.toPath(), onnx.toPath(), StandardCopyOption.REPLACE_EXISTING);
    c.assertMatchesOnnxRuntime(scored.collectAsList());
    Dataset<Row> rescored = c.onnxModel().setModelLocation(onnx.getPath()).transform(c.dataFrame(spark, 2));
    assertThrows(AssertionFailedError.class, () -> c.assertMatchesOnnxRuntime(rescored.collectAsList()),
        "a new transform scores the new file");
    // Read by the executors from a URI, a replaced .onnx file is refused by its hash.
    File uriModel = variant(c);
    Dataset<Row> fromUri = c.onnxModel().setModelLocation(uriModel.toURI().toString()).transform(c.dataFrame(spark, 2));
    Files.copy(TestCase.load("linear_other").model.toPath(), uriModel.toPath(), StandardCopyOption.REPLACE_EXISTING);
    String message = causes(assertThrows(SparkException.class, fromUri::collectAsList));
    assertTrue(message.contains("io.sparkort.ModelLoadException: model " + uriModel.toURI()
        + " changed after the driver read it"), message);
    assertValidModelScores();
  }

  @Test
  void eightThreadsTransformingOneModelNeverFail() throws Exception {
    TestCase c = TestCase.load("linear");
    OnnxModel model = c.onnxModel().setModelLocation(variant(c).getPath());
    Dataset<Row> input = c.dataFrame(spark, 2);
    ExecutorService threads = Executors.newFixedThreadPool(8);
    AtomicInteger calls = new AtomicInteger();
    List<Future<Dataset<Row>>> results = new ArrayList<>();
    try {
      for (int t = 0; t < 8; t++) {
        final int thread = t;
        results.add(threads.submit(() -> {
          Dataset<Row> last = null;
          for (int i = 0; i < 40; i++) {
            if (i == 0 && thread < 2) {
              assertEquals(1, model.reserve(spark).size());
            } else if (i % 2 == 0) {
              assertEquals(input.schema().size() + 1, model.transformSchema(input.schema()).size());
            } else {
              last = model.transform(input);
            }
            calls.incrementAndGet();
          }
          return last;
        }));
      }
      for (Future<Dataset<Row>> result : results) {
        assertEquals(c.rows, result.get().count());
      }
      c.assertMatchesOnnxRuntime(results.get(0).get().collectAsList());
    } finally {
      threads.shutdownNow();
    }
    assertEquals(320, calls.get());
    assertValidModelScores();
  }

  @Test
  void aMissingPathFailsNamingItAndLeavesNoFiles() throws Exception {
    File missing = new File(work, "no-such-model.onnx");
    TestCase c = TestCase.load("linear");
    for (int i = 0; i < 3; i++) {
      ModelLoadException e = assertThrows(ModelLoadException.class,
          () -> c.onnxModel().setModelLocation(missing.getPath()).transform(c.dataFrame(spark, 1)));
      assertEquals("model file not found: " + missing.getPath(), e.getMessage());
    }
    // A model whose data file is missing, too: the .onnx copy is kept (content-named), nothing half-written.
    File onnx = variant(TestCase.load("external_mlp"));
    assertTrue(new File(onnx.getParentFile(), "external_mlp_data/weights.bin").delete());
    assertThrows(ModelLoadException.class, () -> new OnnxModel().setModelLocation(onnx.getPath()).signature());
    File driver = new File(NativeLoader.extractedDirectory(), "driver-models");
    String[] names = driver.list();
    List<String> left = new ArrayList<>();
    for (String name : names == null ? new String[0] : names) {
      if (!name.matches("model-[0-9a-f]{64}\\.onnx|data-[0-9a-f]{64}\\.bin")) {
        left.add(name);
      }
    }
    assertEquals(Collections.emptyList(), left, "only complete, content-named copies in " + driver);
    assertValidModelScores();
  }

  @Test
  void aCorruptModelFailsNamingTheUsersFileNotTheDriversCopy() throws Exception {
    File corrupt = new File(work, "corrupt.onnx");
    Files.write(corrupt.toPath(), "this is not an ONNX model".getBytes("UTF-8"));
    TestCase c = TestCase.load("linear");
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> c.onnxModel().setModelLocation(corrupt.getPath()).transform(c.dataFrame(spark, 1)));
    assertTrue(e.getMessage().contains(corrupt.getPath()), e.getMessage());
    assertFalse(e.getMessage().contains("driver-models") || e.getMessage().contains("model-"), e.getMessage());
    // An unknown fetch name on a valid model: the user's path, the same class.
    File onnx = variant(c);
    InvalidInputException unknown = assertThrows(InvalidInputException.class,
        () -> c.onnxModel().setModelLocation(onnx.getPath())
            .setFetchDict(Collections.singletonMap("x", "no_such_tensor")).transform(c.dataFrame(spark, 1)));
    assertTrue(unknown.getMessage().contains("neither an output of model " + onnx.getPath()), unknown.getMessage());
    assertValidModelScores();
  }

  @Test
  void aDirectoryAsModelLocationIsRefused() {
    TestCase c = TestCase.load("linear");
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> c.onnxModel().setModelLocation(work.getPath()).transform(c.dataFrame(spark, 1)));
    assertEquals("modelLocation " + work.getPath() + " is a directory, not an .onnx file", e.getMessage());
    e = assertThrows(ModelLoadException.class,
        () -> c.onnxModel().setModelLocation(work.toURI().toString()).transformSchema(c.dataFrame(spark, 1).schema()));
    assertTrue(e.getMessage().contains("is a directory, not an .onnx file"), e.getMessage());
    assertValidModelScores();
  }

  @Test
  void aSymlinkedModelPathScoresAndADanglingOneIsNotFound() throws Exception {
    TestCase c = TestCase.load("mlp");
    File link = new File(work, "linked-mlp.onnx");
    Files.createSymbolicLink(link.toPath(), variant(c).toPath());
    c.assertMatchesOnnxRuntime(c.onnxModel().setModelLocation(link.getPath()).transform(c.dataFrame(spark, 2))
        .collectAsList());
    // External data is looked up beside the path given, as ONNX Runtime does.
    File externalLink = new File(work, "linked-external.onnx");
    Files.createSymbolicLink(externalLink.toPath(), variant(TestCase.load("external_mlp")).toPath());
    ModelLoadException e = assertThrows(ModelLoadException.class,
        () -> new OnnxModel().setModelLocation(externalLink.getPath()).signature());
    assertTrue(e.getMessage().contains("keeps weights in external_mlp_data/weights.bin, which is not beside it"),
        e.getMessage());
    File dangling = new File(work, "dangling.onnx");
    Files.createSymbolicLink(dangling.toPath(), new File(work, "gone.onnx").toPath());
    e = assertThrows(ModelLoadException.class, () -> new OnnxModel().setModelLocation(dangling.getPath()).signature());
    assertEquals("model file not found: " + dangling.getPath(), e.getMessage());
    assertValidModelScores();
  }

  @Test
  void anUnreadableModelFileGivesAPrivateCopyOrANamedError() throws Exception {
    TestCase c = TestCase.load("linear");
    File onnx = variant(c);
    Files.setPosixFilePermissions(onnx.toPath(), PosixFilePermissions.fromString("---------"));
    OnnxModel model = c.onnxModel().setModelLocation(onnx.getPath());
    if ("root".equals(System.getProperty("user.name"))) {
      // Root reads any file: what matters is that the copies made from it are private, whatever its mode.
      c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 2)).collectAsList());
      File driver = new File(NativeLoader.extractedDirectory(), "driver-models");
      for (File copy : driver.listFiles()) {
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(copy.toPath())),
            copy.toString());
      }
      assertEquals("rwx------", PosixFilePermissions.toString(
          Files.getPosixFilePermissions(NativeLoader.extractedDirectory().toPath())));
    } else {
      ModelLoadException e = assertThrows(ModelLoadException.class, () -> model.transform(c.dataFrame(spark, 2)));
      assertTrue(e.getMessage().startsWith("cannot read model " + onnx.getPath()), e.getMessage());
    }
    assertValidModelScores();
  }

  @Test
  void theCacheKeepsItsBoundRemovingTheLeastRecentlyUsedButNeverOneInUse() throws Exception {
    assertEquals(1L << 30, ModelCache.bound(SparkShim.executorConf()), ModelCache.BYTES_CONF + " is read");
    TestCase c = TestCase.load("mlp");
    List<OnnxModel> models = new ArrayList<>();
    List<File> entries = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      OnnxModel model = c.onnxModel().setModelLocation(variant(c).getPath());
      c.assertMatchesOnnxRuntime(model.transform(c.dataFrame(spark, 1)).collectAsList());
      models.add(model);
      File entry = cachedFile(model, "model.onnx").getParentFile().getParentFile();
      assertTrue(entry.setLastModified(1_000_000_000_000L + i * 1000L), "used at distinct times, oldest first");
      entries.add(entry);
    }
    File layout = entries.get(0).getParentFile();
    long entrySize = entries.get(0).length() + cachedFile(models.get(0), "model.onnx").length()
        + new File(entries.get(0), ModelCache.MANIFEST).length();
    ModelSource oldest = ModelSource.resolve(models.get(0).getModelLocation(), spark.sparkContext().hadoopConfiguration())
        .shipTo(spark);
    try (ModelCache.Lease inUse = ModelCache.open(oldest, new long[1])) {
      assertTrue(entries.get(0).setLastModified(1_000_000_000_000L), "still the least recently used");
      // Room for two entries: the one in use and the one just fetched stay, every other goes.
      ModelCache.evict(layout, entries.get(2), 2 * entrySize + 2 * (1 << 16));
      assertTrue(entries.get(0).isDirectory(), "in use, so kept although least recently used");
      assertFalse(entries.get(1).exists(), "least recently used among the free ones");
      assertTrue(entries.get(2).isDirectory(), "just fetched");
      assertTrue(inUse.model.isFile());
    }
    // Released, it goes at the next eviction; the evicted model is fetched again when it is used.
    ModelCache.evict(layout, entries.get(2), 1);
    assertFalse(entries.get(0).exists());
    long fetchedBefore = models.get(1).metrics().modelBytesFetched();
    c.assertMatchesOnnxRuntime(models.get(1).transform(c.dataFrame(spark, 1)).collectAsList());
    assertTrue(models.get(1).metrics().modelBytesFetched() > fetchedBefore, "fetched again");
    assertValidModelScores();
  }

  @Test
  void theNativesDirectoriesOfDeadJvmsAreReclaimed() throws Exception {
    NativeLoader.load();
    File tmp = new File(System.getProperty("java.io.tmpdir"));
    File dead = new File(tmp, NativeLoader.DIRECTORY_PREFIX + "test-dead-" + System.nanoTime());
    assertTrue(new File(dead, "models").mkdirs());
    assertTrue(new File(dead, NativeLoader.LOCK_FILE).createNewFile());
    Files.write(new File(dead, "libsparkort.so").toPath(), new byte[1 << 20]);
    File young = new File(tmp, NativeLoader.STAGING_PREFIX + "test-young-" + System.nanoTime());
    File old = new File(tmp, NativeLoader.STAGING_PREFIX + "test-old-" + System.nanoTime());
    assertTrue(young.mkdir() && old.mkdir() && old.setLastModified(System.currentTimeMillis() - 120_000));
    File theirs = new File(tmp, NativeLoader.DIRECTORY_PREFIX + "test-theirs-" + System.nanoTime());
    assertTrue(theirs.mkdir() && new File(theirs, NativeLoader.LOCK_FILE).createNewFile());
    Files.setOwner(theirs.toPath(), nobody());
    // One held by a live JVM (this one, through another channel, as a second JVM would hold it).
    File alive = new File(tmp, NativeLoader.DIRECTORY_PREFIX + "test-alive-" + System.nanoTime());
    assertTrue(alive.mkdir());
    try (FileChannel channel = FileChannel.open(new File(alive, NativeLoader.LOCK_FILE).toPath(),
        StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE); FileLock held = channel.lock()) {
      assertTrue(held.isValid());
      assertTrue(NativeLoader.reclaimStaleDirectories(tmp) >= 2);
      assertFalse(dead.exists(), "no JVM holds its lock: reclaimed");
      assertFalse(old.exists(), "a staging directory left over a minute: reclaimed");
      assertTrue(young.isDirectory(), "a staging directory may be another JVM's, just made");
      assertTrue(alive.isDirectory(), "its JVM is alive");
      assertTrue(theirs.isDirectory(), "another user's");
      assertTrue(NativeLoader.extractedDirectory().isDirectory(), "this JVM's own");
      File own = new File(NativeLoader.extractedDirectory(), NativeLoader.LOCK_FILE);
      assertTrue(LockProbe.heldByAnotherProcess(own), "this JVM still holds its own lock after the sweep");
    } finally {
      NativeLoader.deleteTree(young);
      NativeLoader.deleteTree(alive);
      NativeLoader.deleteTree(theirs);
    }
    assertValidModelScores();
  }

  /** The linear model's own file (not a variant) scores as ONNX Runtime Python does. */
  private static void assertValidModelScores() {
    TestCase c = TestCase.load("linear");
    c.assertMatchesOnnxRuntime(c.onnxModel().transform(c.dataFrame(spark, 2)).collectAsList());
  }

  /** A copy of {@code c}'s model no other test has used. */
  private static File variant(TestCase c) {
    return TestModels.variant(c, variants++);
  }

  private static File directory(String name, String mode) throws IOException {
    File d = new File(work, name);
    assertTrue(d.mkdir());
    Files.setPosixFilePermissions(d.toPath(), PosixFilePermissions.fromString(mode));
    return d;
  }

  /** A file named {@code name} in the executor cache's entry of the model, whatever the layout. */
  private static File cachedFile(OnnxModel model, String name) throws IOException {
    String key = ModelSource.resolve(model.getModelLocation(), spark.sparkContext().hadoopConfiguration())
        .shipTo(spark).key;
    try (Stream<java.nio.file.Path> files = Files.walk(ModelCache.directory().toPath())) {
      List<java.nio.file.Path> found = files.filter(p -> p.getFileName().toString().equals(name)
          && p.toString().contains("/" + key + "/")).collect(Collectors.toList());
      assertEquals(1, found.size(), "one cached " + name + " for " + key + ": " + found);
      return found.get(0).toFile();
    }
  }

  private static UserPrincipal nobody() throws IOException {
    return work.toPath().getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
  }

  /** The messages of {@code e} and its causes. */
  private static String causes(Throwable e) {
    StringBuilder all = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      all.append(t).append('\n');
    }
    return all.toString();
  }
}
