package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/** How an executor's cores and spark.task.cpus become sessions x intra-op threads. */
class ThreadBudgetTest {
  private static String of(SparkConf conf, int processors) {
    return ThreadBudget.of(conf, processors).toString();
  }

  private static SparkConf conf(String master) {
    return new SparkConf(false).set("spark.master", master);
  }

  @Test
  void oneSessionPerTaskSlotWithTaskCpusThreadsEach() {
    assertEquals("8 sessions x 1 threads", of(conf("yarn").set("spark.executor.cores", "8"), 64));
    assertEquals("4 sessions x 2 threads", of(conf("yarn").set("spark.executor.cores", "8").set("spark.task.cpus", "2"), 64));
    assertEquals("2 sessions x 3 threads", of(conf("yarn").set("spark.executor.cores", "7").set("spark.task.cpus", "3"), 64));
  }

  @Test
  void localMastersCountTheirOwnCores() {
    assertEquals("2 sessions x 1 threads", of(conf("local[2]"), 16));
    assertEquals("16 sessions x 1 threads", of(conf("local[*]"), 16));
    assertEquals("1 sessions x 1 threads", of(conf("local"), 16));
    assertEquals("1 sessions x 4 threads", of(conf("local-cluster[2,4,1024]").set("spark.task.cpus", "4"), 16));
    assertEquals("12 sessions x 1 threads", of(conf("k8s://example"), 12), "no executor cores set: the JVM's processors");
  }

  @Test
  void sessionsTimesThreadsNeverExceedTheCores() {
    for (int cores = 1; cores <= 16; cores++) {
      for (int taskCpus = 1; taskCpus <= cores; taskCpus++) {
        ThreadBudget budget = ThreadBudget.of(
            conf("yarn").set("spark.executor.cores", "" + cores).set("spark.task.cpus", "" + taskCpus), 64);
        assertEquals(taskCpus, budget.intraThreads);
        assertEquals(cores / taskCpus, budget.sessions, cores + " cores, " + taskCpus + " per task");
      }
    }
  }

  @Test
  void usersMayOverrideEitherNumber() {
    SparkConf base = conf("yarn").set("spark.executor.cores", "8");
    assertEquals("2 sessions x 1 threads", of(base.clone().set(ThreadBudget.SESSIONS_CONF, "2"), 64));
    assertEquals("8 sessions x 4 threads", of(base.clone().set(ThreadBudget.THREADS_CONF, "4"), 64));
    assertThrows(SparkOrtException.class, () -> ThreadBudget.of(base.clone().set(ThreadBudget.SESSIONS_CONF, "0"), 64));
  }
}
