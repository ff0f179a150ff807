package io.sparkort;

import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeProjection;
import org.apache.spark.sql.catalyst.expressions.UnsafeRow;
import org.apache.spark.sql.catalyst.expressions.codegen.GenerateUnsafeRowJoiner;
import org.apache.spark.sql.catalyst.expressions.codegen.UnsafeRowJoiner;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The body of the one scoring path: scores a partition in batches of {@code batchSize} rows and
 * yields each input row joined with its predictions, as UnsafeRows ({@link ScoredScanExec} passes
 * them on as they are). Every surface (Java, Python) ends here.
 */
final class PartitionScorer implements FlatMapFunction<Iterator<InternalRow>, InternalRow> {
  private static final long serialVersionUID = 1L;

  private final ScoringPlan plan;
  private final ModelSource source;
  /** Rows per native call: batchSize, or 1 for a model without a batch dimension. */
  private final int batchRows;
  private final ScoringMetrics metrics;

  PartitionScorer(ScoringPlan plan, ModelSource source, int batchSize, ScoringMetrics metrics) {
    this.plan = plan;
    this.source = source;
    this.batchRows = plan.batched ? batchSize : 1;
    this.metrics = metrics;
  }

  @Override
  public Iterator<InternalRow> call(Iterator<InternalRow> rows) {
    return new ScoredRows(rows);
  }

  private final class ScoredRows implements Iterator<InternalRow> {
    private final Iterator<InternalRow> input;
    private final UnsafeRow[] batch = new UnsafeRow[batchRows];
    /** Each batch row's slot in the tensors, or -1 for a row with a null input kept with null outputs. */
    private final int[] slots = new int[batchRows];
    /** Output rows written once (see OutputRows), or null: then each input row is kept as a copy and
     * joined with a row of its predictions. */
    private OutputRows layout;
    // Spark's row iterators may hand out the same row object again and again (a consumer that
    // keeps a row copies it), so the joined rows out are allocated once per task: one prediction
    // row per batch slot, overwritten each batch, and the projection's and joiner's reused rows.
    private final Object[][] predictions = new Object[batchRows][];
    private final GenericInternalRow[] predictionRows = new GenericInternalRow[batchRows];
    private final GenericInternalRow nullPredictions;
    private UnsafeProjection unsafeInput;
    private UnsafeProjection unsafePredictions;
    private UnsafeRowJoiner joiner;
    private final String[] fetch = plan.fetchNames();
    private ModelNode node;
    private ScoringMetrics.Task recorder;
    private BatchWriter writer;
    private int size;
    private int next;
    private long rowIndex;

    ScoredRows(Iterator<InternalRow> input) {
      this.input = input;
      for (int slot = 0; slot < batchRows; slot++) {
        predictions[slot] = new Object[plan.fetches.size()];
        predictionRows[slot] = new GenericInternalRow(predictions[slot]);
      }
      nullPredictions = new GenericInternalRow(new Object[plan.fetches.size()]);
    }

    @Override
    public boolean hasNext() {
      while (next >= size) {
        if (!input.hasNext()) {
          return false;
        }
        scoreNextBatch();
      }
      return true;
    }

    @Override
    public InternalRow next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      UnsafeRow out = layout != null ? batch[next]
          : joiner.join(batch[next], unsafePredictions.apply(slots[next] >= 0 ? predictionRows[slots[next]] : nullPredictions));
      batch[next] = null;
      next++;
      return out;
    }

    private void scoreNextBatch() {
      if (writer == null) {
        open();
      }
      size = 0;
      next = 0;
      if (layout != null) {
        layout.startBatch();
      }
      int written = 0;
      while (size < batchRows && input.hasNext()) {
        // Spark reuses the row object it hands out; the batch must keep its own copy until scored.
        InternalRow in = input.next();
        UnsafeRow unsafe = in instanceof UnsafeRow ? (UnsafeRow) in : unsafeInput.apply(in);
        UnsafeRow row = layout != null ? layout.lay(size, unsafe) : unsafe.copy();
        boolean scored = writer.write(written, row, rowIndex++);
        slots[size] = scored ? written++ : -1;
        if (!scored && layout != null) {
          layout.setNull(row);
        }
        batch[size] = row;
        size++;
      }
      if (written == 0) {
        return;
      }
      long started = System.nanoTime();
      long result = node.run(writer.nativeArguments(written), fetch);
      recorder.batch(written, System.nanoTime() - started);
      try {
        long[] described = NativeApi.describeResult(result);
        if (layout != null) {
          layout.fill(described, plan.batched, batch, slots, size, written);
        } else {
          BatchReader.read(described, plan.fetches, plan.batched, written, predictions);
        }
      } finally {
        NativeApi.closeResult(result);
      }
    }

    /** Model and buffers are taken on the first row, so an empty partition costs nothing. */
    private void open() {
      TaskContext task = TaskContext.get();
      long[] fetched = new long[1];
      node = ModelNode.open(source, plan.extraOutputs, fetched);
      recorder = metrics.startTask(fetched[0], node);
      task.addTaskCompletionListener(
          new TaskCompletionListener() {
            @Override
            public void onTaskCompletion(TaskContext context) {
              try {
                if (writer != null) {
                  writer.close();
                }
              } finally {
                try {
                  node.close();
                } finally {
                  recorder.finish(context);
                }
              }
            }
          });
      StructField[] fields = plan.outputSchema.fields();
      int inputs = fields.length - plan.fetches.size();
      StructType inputSchema = new StructType(Arrays.copyOfRange(fields, 0, inputs));
      StructType predictionSchema = new StructType(Arrays.copyOfRange(fields, inputs, fields.length));
      unsafeInput = UnsafeProjection.create(inputSchema);
      unsafePredictions = UnsafeProjection.create(predictionSchema);
      joiner = GenerateUnsafeRowJoiner.create(inputSchema, predictionSchema);
      layout = OutputRows.of(plan, inputSchema, batchRows);
      writer = new BatchWriter(plan, batchRows, "task " + task.taskAttemptId(), "partition " + task.partitionId());
    }
  }
}
