package io.sparkort;

import org.apache.spark.TaskContext;
import org.apache.spark.util.TaskCompletionListener;

/**
 * What a task holds while it scores, for either way its rows come ({@link PartitionScorer} for
 * rows, {@link ColumnarScorer} for column batches): the model node, the input tensors' writer and
 * the batch budget, taken on the task's first row, and released by the task's completion listener
 * (after {@code atEnd}, which hands the last counts to the SQL tab's metrics). Each run is timed
 * into the request's metrics and the node's.
 */
final class ScoringTask {
  final TaskContext task;
  final ModelNode node;
  final BatchWriter writer;
  /** The batch's bytes ({@link BatchBudget}). */
  final long budget;
  /** "partition N", for messages. */
  final String partition;
  private final ScoringMetrics metrics;
  private final OnnxScoreExec.NodeMetrics nodeMetrics;

  ScoringTask(ScoringPlan plan, ModelSource source, int batchRows, ScoringMetrics metrics,
      OnnxScoreExec.NodeMetrics nodeMetrics, Runnable atEnd) {
    this.task = TaskContext.get();
    this.metrics = metrics;
    this.nodeMetrics = nodeMetrics;
    long[] fetched = new long[1];
    this.node = ModelNode.open(source, plan.extraOutputs, fetched);
    metrics.opened(fetched[0], node);
    BatchWriter opened = null;
    try {
      this.budget = BatchBudget.forThisTask();
      this.partition = "partition " + task.partitionId();
      opened = new BatchWriter(plan, batchRows, budget, "task " + task.taskAttemptId(), partition);
    } catch (RuntimeException | Error e) {
      node.close();
      throw e;
    }
    this.writer = opened;
    task.addTaskCompletionListener(
        new TaskCompletionListener() {
          @Override
          public void onTaskCompletion(TaskContext context) {
            try {
              atEnd.run();
            } finally {
              try {
                writer.close();
              } finally {
                try {
                  node.close();
                } finally {
                  metrics.logTask(context);
                }
              }
            }
          }
        });
  }

  /** Runs the model over the first {@code scored} rows the writer holds; returns the result's handle. */
  long run(int scored) {
    long started = System.nanoTime();
    long result = node.run(writer.runRecord(scored));
    long nanos = System.nanoTime() - started;
    metrics.batch(scored, nanos);
    nodeMetrics.scoredRows.add(scored);
    nodeMetrics.batches.add(1);
    nodeMetrics.modelTime.add(nanos);
    return result;
  }
}
