package io.sparkort;

/**
 * Declarations of the native library's functions (native/src/jni_api.rs), and nothing else.
 * Call {@link NativeLoader#load()} before any of them. Every failure arrives as a
 * {@link SparkOrtException} subclass.
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
   * Opens a model, or finds the one this process already has open with the same content and options.
   * The model's weights are read once and shared by all its sessions, which are all built here.
   *
   * @param path local file path of the .onnx model (its external data files beside it)
   * @param maxSessions most sessions (concurrent runs) kept for this model in this process
   * @param intraThreads ONNX Runtime intra-op threads per session
   * @param outputs tensors computed inside the graph to expose as extra outputs (the model is cut to
   *     fetch them); a model opened with other outputs is another model
   * @param loadNanos receives in element 0 the nanoseconds this call spent loading the model, 0 when
   *     it was open already
   * @return a handle to pass to {@link #closeModel(long)} exactly once
   */
  static native long openModel(String path, int maxSessions, int intraThreads, String[] outputs, long[] loadNanos);

  /**
   * @param path local file path of the .onnx model; its external data files are not read
   * @param outputs tensors inside the graph to expose as extra outputs, as {@link #openModel} does
   * @return the model's inputs and outputs as JSON (see {@link ModelSignature})
   */
  static native String describeModel(String path, String[] outputs);

  /**
   * @param path local file path of the .onnx model
   * @return the external data files its initializers name, relative to its folder, as a JSON array
   * @throws ModelLoadException when a location is not a relative path inside that folder
   */
  static native String externalDataFiles(String path);

  /**
   * @param model handle from {@link #openModel}
   * @return load nanos, sessions, intra-op threads, weight bytes, peak concurrent runs, loads of
   *     this content in this process
   */
  static native long[] modelStats(long model);

  /**
   * @param bytes what open models may hold, counted by their size on disk, before idle ones are
   *     closed (least recently used first) to load another
   */
  static native void setModelMemoryBudget(long bytes);

  /** @return the native library's log records since the last call, one per line as "LEVEL message" */
  static native String drainLog();

  /** @param model handle from {@link #openModel}; invalid afterwards */
  static native void closeModel(long model);

  /** @return run results not yet passed to {@link #closeResult}: 0 whenever no batch is in flight */
  static native long openResultCount();

  /**
   * Runs one batch. Input {@code i} is {@code inputNames[i]} fed from {@code columns[i]} (named in
   * errors), of ONNX element type {@code elementTypes[i]}, with shape {@code ranks[i]} consecutive
   * values of {@code shapes} (batch first for batched models), and memory {@code buffers[4i]} (data
   * address), {@code buffers[4i+1]} (data bytes), {@code buffers[4i+2]} and {@code buffers[4i+3]}
   * (for strings: address and bytes of int32 offsets, one per element plus one; else 0), row-major,
   * in the layout {@link InputBuffer} writes. The buffers must stay allocated and unchanged until
   * this call returns.
   *
   * @param model handle from {@link #openModel}
   * @param fetch names of the model outputs to return, in order
   * @return a result handle for {@link #describeResult} and {@link #closeResult}
   */
  static native long run(
      long model,
      String[] inputNames,
      String[] columns,
      int[] elementTypes,
      long[] shapes,
      int[] ranks,
      long[] buffers,
      String[] fetch);

  /**
   * @param result handle from {@link #run}
   * @return per fetched output: kind (0 tensor, 1 sequence of maps), element type code (of the
   *     tensor or the maps' values, already widened to its Spark type), key type code (-1 if none),
   *     rank, the dims, the number of buffers, then address and bytes of each (see {@link
   *     BatchReader}); addresses stay valid until {@link #closeResult}
   */
  static native long[] describeResult(long result);

  /** @param result handle from {@link #run}; its addresses are invalid afterwards */
  static native void closeResult(long result);

  /**
   * Lays out rows {@code 0..rows} of {@code arena} in place as output rows: each one's input
   * UnsafeRow bytes sit at the start of its span, {@code starts[r]} to {@code starts[r + 1]}, and it
   * becomes the input's fields followed by the predictions' (null-free, zero) fields and reserved
   * arrays. {@code layout}: input bitset bytes, output bitset bytes, input fields, the count and
   * ordinals of the input's variable-length fields, the count of predictions and per prediction its
   * reserved array's bytes and elements (0, 0 for one value a row). With {@code feeds} (else null),
   * copies the rows' features into tensor slots {@code 0..} in the same pass, up to the first row
   * that is not as {@code feeds} says (a null array, another length, a null element). {@code feeds},
   * per model input: field ordinal, elements per row, bytes per element, buffer address, buffer bytes.
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
   * {@code prediction}: field ordinal, values per row (0 for one value in the field's slot), bytes
   * per value, 1 for booleans else 0, the tensor's address and bytes.
   */
  static native void fillRows(byte[] arena, int[] starts, int[] slots, int rows, long[] layout, long[] prediction);
}
