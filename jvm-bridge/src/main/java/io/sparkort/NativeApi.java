package io.sparkort;

/**
 * Declarations of the native library's functions (native/src/jni/exports.rs), and nothing else.
 * The {@code long[]} records, JSON and text they take and return are written and read by {@link
 * NativeWire} (its twin: native/src/jni/wire.rs). Call {@link NativeLoader#load()} before any of
 * them. Every failure arrives as a {@link SparkOrtException} subclass.
 */
final class NativeApi {
  private NativeApi() {}

  /**
   * Loads ONNX Runtime and creates the process-wide environment; later calls do nothing.
   *
   * @param libraryPath absolute path of the ONNX Runtime shared library to load
   */
  static native void initRuntime(String libraryPath);

  /**
   * Opens a model, or finds the one this process already has open with the same key, options and
   * outputs (from whatever path it was loaded: the key names the content). The model's weights are
   * read once and shared by all its sessions, which are all built here. The files are read only to
   * load the model, and then the .onnx file must have the SHA-256 the key comes with.
   *
   * @param model the model to open: its local .onnx path (its external data files beside it) and
   *     the key it is known by, {@link NativeWire#modelFile}; with no key the native library hashes
   *     the files for one
   * @param maxSessions most sessions (concurrent runs) kept for this model in this process
   * @param intraThreads ONNX Runtime intra-op threads per session
   * @param outputs tensors computed inside the graph to expose as extra outputs (the model is cut to
   *     fetch them); a model opened with other outputs is another model
   * @param report receives what the call did: {@link NativeWire#openReport()}, read with {@link
   *     NativeWire#loadNanos}
   * @return a handle to pass to {@link #closeModel(long)} exactly once
   */
  static native long openModel(String[] model, int maxSessions, int intraThreads, String[] outputs, long[] report);

  /**
   * @param path local file path of the .onnx model; its external data files are not read
   * @param outputs tensors inside the graph to expose as extra outputs, as {@link #openModel} does
   * @return the model's inputs and outputs as JSON, read by {@link NativeWire#readSignature}
   */
  static native String modelSignature(String path, String[] outputs);

  /**
   * @param path local file path of the .onnx model
   * @return the external data files its initializers name, relative to its folder, as a JSON array
   *     ({@link NativeWire#readFileList})
   * @throws ModelLoadException when a location is not a relative path inside that folder
   */
  static native String externalDataFiles(String path);

  /**
   * @param model handle from {@link #openModel}
   * @return load nanos, sessions, intra-op threads, weight bytes, peak concurrent runs, loads of
   *     this content in this process, read by {@link NativeWire#readStats}
   */
  static native long[] modelStats(long model);

  /**
   * @param bytes what open models may hold, counted by their size on disk, before idle ones are
   *     closed (least recently used first) to load another
   */
  static native void setModelMemoryBudget(long bytes);

  /** @return the native library's log records since the last call, read by {@link NativeWire#readLog} */
  static native String drainLog();

  /** @param model handle from {@link #openModel}; invalid afterwards */
  static native void closeModel(long model);

  /** @return run results not yet passed to {@link #closeResult}: 0 whenever no batch is in flight */
  static native long openResultCount();

  /**
   * Runs one batch, a {@link NativeWire.RunRecord}: its inputs, their memory row-major in the layout
   * {@link InputBuffer} writes, and the outputs to fetch. The buffers must stay allocated and
   * unchanged until this call returns.
   *
   * @param model handle from {@link #openModel}
   * @param names the record's names ({@link NativeWire.RunRecord#names})
   * @param inputs the record's numbers ({@link NativeWire.RunRecord#inputs})
   * @return a result handle for {@link #resultOutputs} and {@link #closeResult}
   */
  static native long run(long model, String[] names, long[] inputs);

  /**
   * @param result handle from {@link #run}
   * @return the fetched outputs, read by {@link NativeWire#readOutputs}; addresses stay valid until
   *     {@link #closeResult}
   */
  static native long[] resultOutputs(long result);

  /** @param result handle from {@link #run}; its addresses are invalid afterwards */
  static native void closeResult(long result);

  /**
   * @param layout a row layout, {@link NativeWire#rowLayout}
   * @return how many bytes longer a laid row of {@code layout} is than its input row: the room to
   *     leave after each input row copied into an arena
   * @throws SparkOrtException when the layout is not UnsafeRow's
   */
  static native int rowGrowth(long[] layout);

  /**
   * Lays out rows {@code 0..rows} of {@code arena} in place as output rows: each one's input
   * UnsafeRow bytes sit at the start of its span, {@code starts[r]} to {@code starts[r + 1]}, and it
   * becomes the input's fields followed by the predictions' (null-free, zero) fields and reserved
   * arrays, as {@code layout} ({@link NativeWire#rowLayout}) says. With {@code feeds} (else null;
   * {@link NativeWire#feeds}), copies the rows' features into tensor slots {@code 0..} in the same
   * pass, up to the first row that is not as {@code feeds} says (a null array, another length, a
   * null element).
   *
   * @return the first row whose features were not copied: {@code rows} when all were, 0 without feeds
   */
  static native int layRows(byte[] arena, int[] starts, int rows, long[] layout, long[] feeds);

  /**
   * Goes on copying features, as {@link #layRows} does, for laid rows {@code from..to}, row {@code
   * from} at tensor slot {@code firstSlot}.
   *
   * @return the first row not copied; {@code to} when all were
   */
  static native int gatherFeeds(byte[] arena, int[] starts, int from, int to, int firstSlot, long[] layout,
      long[] feeds);

  /**
   * Writes one fetched output of a run into laid rows {@code 0..rows}; {@code slots[r]} is row
   * {@code r}'s place in the tensor, negative for none. {@code layout} as for {@link #layRows};
   * {@code prediction} as {@link NativeWire#prediction} writes it.
   */
  static native void fillRows(byte[] arena, int[] starts, int[] slots, int rows, long[] layout, long[] prediction);
}
