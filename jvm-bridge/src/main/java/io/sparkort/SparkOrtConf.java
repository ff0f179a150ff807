package io.sparkort;

import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Every Spark conf key of sparkort, with its default and what it does, in one place: the classes
 * that read a key name it from here, and the README's conf table is these entries, one row each
 * ({@code SparkOrtConfTest} fails when the two differ, or when a {@code spark.sparkort.*} key
 * appears in the sources or the README without an entry here).
 */
final class SparkOrtConf {
  static final String SESSIONS = "spark.sparkort.sessions";
  static final String INTRA_OP_THREADS = "spark.sparkort.intraOpThreads";
  static final String MODEL_MEMORY = "spark.sparkort.modelMemory";
  static final String MODEL_CACHE_DIR = "spark.sparkort.modelCacheDir";
  static final String MODEL_CACHE_BYTES = "spark.sparkort.modelCacheBytes";
  static final String ORT_LIBRARY = "spark.sparkort.onnxruntime.library";
  static final String BATCH_BYTES = "spark.sparkort.batchBytes";
  static final String COLUMNAR = "spark.sparkort.columnar";

  /** {@value #MODEL_CACHE_BYTES}'s default. */
  static final String DEFAULT_MODEL_CACHE_BYTES = "10g";
  /** {@value #BATCH_BYTES}'s default. */
  static final String DEFAULT_BATCH_BYTES = "64m";

  /** One key: its name, its default as the README shows it (Markdown), and what it sets. */
  static final class Entry {
    final String key;
    final String defaultText;
    final String doc;

    Entry(String key, String defaultText, String doc) {
      this.key = key;
      this.defaultText = defaultText;
      this.doc = doc;
    }

    /** The entry's row in the README's conf table. */
    String markdownRow() {
      return "| `" + key + "` | " + defaultText + " | " + doc + " |";
    }
  }

  /** Every key, in the README's order. */
  static final List<Entry> ALL = Collections.unmodifiableList(Arrays.asList(
      new Entry(SESSIONS, "task slots", "sessions per model per executor"),
      new Entry(INTRA_OP_THREADS, "`spark.task.cpus`", "ONNX Runtime intra-op threads per session"),
      new Entry(MODEL_MEMORY, "unlimited",
          "bytes of models (on disk) an executor keeps open before closing idle ones"),
      new Entry(MODEL_CACHE_DIR, "`<java.io.tmpdir>/sparkort-models-<user>`", "where executors keep fetched models"),
      new Entry(MODEL_CACHE_BYTES, "`" + DEFAULT_MODEL_CACHE_BYTES + "`",
          "most bytes of fetched models an executor's cache keeps on disk (least recently used removed first,"
              + " never one in use)"),
      new Entry(ORT_LIBRARY, "the jar's", "the ONNX Runtime shared library to load"),
      new Entry(BATCH_BYTES, "`" + DEFAULT_BATCH_BYTES + "`",
          "bytes a batch may take (1k to 2g), beside `batchSize` rows; also settable in a session (see Batches"
              + " and memory)"),
      new Entry(COLUMNAR, "`true`",
          "score column batches straight from a columnar input (Parquet, ORC, the cache) where the model's inputs"
              + " and outputs allow; `false` builds rows first (settable in a session)")));

  private SparkOrtConf() {}

  /** The README's conf table: its header, then one row per key. */
  static String markdownTable() {
    StringBuilder table = new StringBuilder("| Spark conf | default | what |\n|---|---|---|\n");
    for (Entry entry : ALL) {
      table.append(entry.markdownRow()).append('\n');
    }
    return table.toString();
  }
}
