package io.sparkort;

import java.util.concurrent.ConcurrentHashMap;

/**
 * A model as one executor JVM holds it: opened once, shared by every task that scores with it,
 * with the sessions and threads of its {@link ThreadBudget}. The native side keys open models by
 * content hash and options, so two paths to the same bytes still share one load.
 */
public final class ModelNode {
  private static final ConcurrentHashMap<String, ModelNode> NODES = new ConcurrentHashMap<>();

  private final long handle;
  private final ModelSignature signature;

  private ModelNode(long handle) {
    this.handle = handle;
    this.signature = ModelSignature.fromJson(NativeApi.modelSignature(handle));
  }

  /** The node for the model file at {@code localPath}, opened on first use in this JVM. */
  static ModelNode forModel(String localPath, ThreadBudget budget) {
    NativeLoader.load();
    return NODES.computeIfAbsent(
        localPath + "|" + budget,
        key -> new ModelNode(NativeApi.openModel(localPath, budget.sessions, budget.intraThreads)));
  }

  ModelSignature signature() {
    return signature;
  }

  /** Runs one batch described by {@link BatchWriter#nativeArguments}; see {@link NativeApi#run}. */
  long run(BatchWriter.NativeArguments in, String[] fetch) {
    return NativeApi.run(
        handle, in.inputNames, in.columns, in.elementTypes, in.shapes, in.ranks, in.buffers, fetch);
  }
}
