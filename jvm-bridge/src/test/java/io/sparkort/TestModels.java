package io.sparkort;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** Copies of ci/models.py's models that score the same but differ in content, and other helpers for model node tests. */
final class TestModels {
  private TestModels() {}

  /**
   * A copy of {@code c}'s model (external data too) in a new folder, its bytes made unique by a
   * ModelProto field no ONNX version uses (99, varint {@code tag}), which readers skip: a model no
   * other test has loaded into this JVM's registry.
   */
  static File variant(TestCase c, int tag) {
    try {
      File dir = Files.createTempDirectory("sparkort-variant-").toFile();
      dir.deleteOnExit();
      File source = c.model;
      byte[] bytes = Files.readAllBytes(source.toPath());
      byte[] tagged = new byte[bytes.length + 3];
      System.arraycopy(bytes, 0, tagged, 0, bytes.length);
      tagged[bytes.length] = (byte) 0x98;
      tagged[bytes.length + 1] = 0x06;
      tagged[bytes.length + 2] = (byte) tag;
      File target = new File(dir, source.getName());
      Files.write(target.toPath(), tagged);
      for (String location : ModelNode.externalDataFiles(source.getPath())) {
        File to = new File(dir, location);
        to.getParentFile().mkdirs();
        Files.copy(new File(source.getParentFile(), location).toPath(), to.toPath(), StandardCopyOption.REPLACE_EXISTING);
      }
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The names ({@code comm}) of this process's threads, by thread id. */
  static List<String> threadNames() {
    try (Stream<java.nio.file.Path> tasks = Files.list(new File("/proc/self/task").toPath())) {
      return tasks.map(t -> t.getFileName() + "=" + comm(t)).collect(Collectors.toList());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The name ({@code comm}) of the calling thread. */
  static String currentThreadName() {
    return comm(new File("/proc/thread-self").toPath());
  }

  static long countNamed(List<String> threads, String name) {
    return threads.stream().filter(t -> t.endsWith("=" + name)).count();
  }

  static List<String> added(List<String> before, List<String> after) {
    List<String> added = new ArrayList<>(after);
    added.removeAll(before);
    return added;
  }

  private static String comm(java.nio.file.Path task) {
    try {
      return new String(Files.readAllBytes(task.resolve("comm")), "UTF-8").trim();
    } catch (IOException gone) {
      return "(exited)";
    }
  }
}
