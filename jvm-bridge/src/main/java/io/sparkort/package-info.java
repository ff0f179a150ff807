/**
 * sparkort's JVM half: ONNX models scoring Spark DataFrames inside the executors, through the
 * native library (Rust, over JNI). One package, its classes in groups; only the first group is API.
 *
 * <h2>What users call</h2>
 * {@link io.sparkort.OnnxModel} (a Spark ML {@code Transformer}, saved and loaded by
 * {@code OnnxModelPersistence}), {@link io.sparkort.ModelSignature}, {@link
 * io.sparkort.ScoringMetrics}, {@link io.sparkort.ModelReservation}, {@link
 * io.sparkort.SparkOrtExtensions} (the {@code spark.sql.extensions} entry point), {@link
 * io.sparkort.StringMapParam}, and the errors: {@link io.sparkort.SparkOrtException} and its
 * subclasses {@link io.sparkort.ModelLoadException}, {@link io.sparkort.InvalidInputException},
 * {@link io.sparkort.InferenceException}, {@link io.sparkort.NativeLibraryException}. {@link
 * io.sparkort.functions} holds the Column functions ({@code onnxPredict}); in SQL the same is
 * {@code onnx_predict}. Every {@code spark.sparkort.*} conf key is in {@code SparkOrtConf}.
 *
 * <h2>Planning, on the driver</h2>
 * {@code ScoringPlan} works out which columns feed which model input and which outputs become which
 * columns, checked against the {@code ModelSignature}; {@code ElementType} and {@code LeafType} are
 * the one type mapping between ONNX and Spark. {@code ScoringRequest} is what a scoring node asks
 * of the model. {@link io.sparkort.OnnxScore} is the logical plan node over the input's plan,
 * {@code OnnxScoreRules} what the optimizer may do with it, {@code OnnxScoreStrategy} plans it as
 * {@link io.sparkort.OnnxScoreExec}. SQL and Column calls reach the same node: {@code
 * PredictFunctions} builds an {@link io.sparkort.OnnxPredict} call (resolved into a {@code
 * PredictCall}) and {@code ExtractOnnxPredict} pulls it out into an {@code OnnxScore} below the
 * operator that holds it. {@code SparkShim} reaches the Spark internals that moved between Spark
 * 3.5 and 4.
 *
 * <h2>Model files</h2>
 * {@code ModelSource} (driver) reads the model's .onnx file, names its content and ships it;
 * {@code ModelCache} (executor) keeps verified copies on local disk, one folder per model key;
 * {@code FileVersion} tells when a file must be hashed again.
 *
 * <h2>The model node, on each executor</h2>
 * {@code ModelNode} is a task's hold on the model as its executor JVM holds it, open once and shared
 * by every task; {@code ThreadBudget} sets its sessions and ONNX Runtime threads.
 *
 * <h2>Batches, on each executor</h2>
 * {@code PartitionScorer} is the one scoring path: a partition in batches, each within the
 * {@code BatchBudget}. {@code BatchRows} keeps a batch's rows: {@code ArenaRows} where every output's
 * size per row is known before the run, else {@code JoinedRows}. {@code BatchWriter} writes the
 * features into one {@code InputBuffer} per model input, {@code BatchReader} reads the outputs back,
 * {@code CopyBySize} copies their bytes. {@code LostExecutorReports} names the model when an
 * executor dies while scoring.
 *
 * <h2>The native boundary</h2>
 * {@code NativeLoader} extracts and loads the native library and ONNX Runtime once per JVM; {@code
 * NativeApi} declares the native functions and nothing else; {@code NativeWire} writes and reads
 * every format that crosses them.
 *
 * <p>docs/ARCHITECTURE.md in the repository walks a batch through these groups.
 */
package io.sparkort;
