package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Spark-free: {@link SparkOrtConf} and the README say the same, and no {@code spark.sparkort.*} key
 * is named anywhere (Java, Rust, Python, README) without an entry there.
 */
class SparkOrtConfTest {
  private static final Pattern KEY = Pattern.compile("spark\\.sparkort\\.[A-Za-z][A-Za-z.]*[A-Za-z]");

  private static File repo() {
    for (File dir = new File("").getAbsoluteFile(); dir != null; dir = dir.getParentFile()) {
      if (new File(dir, "README.md").isFile() && new File(dir, "jvm-bridge").isDirectory()) {
        return dir;
      }
    }
    throw new IllegalStateException("run from the repository: no README.md beside jvm-bridge/ above " + new File("").getAbsolutePath());
  }

  private static String read(Path file) {
    try {
      return new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void theReadmesConfTableIsTheListOfKeys() throws IOException {
    List<String> rows = new ArrayList<>();
    String header = null;
    List<String> lines = Files.readAllLines(new File(repo(), "README.md").toPath(), StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith("| Spark conf |")) {
        header = lines.get(i) + "\n" + lines.get(i + 1) + "\n";
        for (int j = i + 2; j < lines.size() && lines.get(j).startsWith("|"); j++) {
          rows.add(lines.get(j));
        }
        break;
      }
    }
    StringBuilder readme = new StringBuilder(String.valueOf(header));
    rows.forEach(row -> readme.append(row).append('\n'));
    assertEquals(SparkOrtConf.markdownTable(), readme.toString(),
        "the README's conf table must be SparkOrtConf.markdownTable(), one row per key");
  }

  @Test
  void everyKeyNamedAnywhereHasAnEntry() throws IOException {
    Set<String> known = SparkOrtConf.ALL.stream().map(e -> e.key).collect(Collectors.toCollection(TreeSet::new));
    File repo = repo();
    List<Path> files = new ArrayList<>();
    files.add(new File(repo, "README.md").toPath());
    for (String tree : new String[] {"jvm-bridge/src/main/java", "native/src", "python/sparkort", "ci"}) {
      try (Stream<Path> walk = Files.walk(new File(repo, tree).toPath())) {
        walk.filter(p -> p.toString().matches(".*\\.(java|rs|py)$")).forEach(files::add);
      }
    }
    Set<String> unknown = new TreeSet<>();
    for (Path file : files) {
      Matcher m = KEY.matcher(read(file));
      while (m.find()) {
        if (!known.contains(m.group())) {
          unknown.add(m.group() + " (" + repo.toPath().relativize(file) + ")");
        }
      }
    }
    assertTrue(unknown.isEmpty(), "keys without a SparkOrtConf entry: " + unknown);
  }

  @Test
  void javaReadsKeysFromSparkOrtConfOnly() throws IOException {
    Set<String> spelled = new TreeSet<>();
    try (Stream<Path> walk = Files.walk(new File(repo(), "jvm-bridge/src/main/java").toPath())) {
      walk.filter(p -> p.toString().endsWith(".java") && !p.getFileName().toString().equals("SparkOrtConf.java"))
          .forEach(p -> {
            if (read(p).contains("\"spark.sparkort.")) {
              spelled.add(p.getFileName().toString());
            }
          });
    }
    assertTrue(spelled.isEmpty(), "spell keys as SparkOrtConf constants, not string literals: " + spelled);
  }
}
