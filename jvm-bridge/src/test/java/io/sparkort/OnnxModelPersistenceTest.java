package io.sparkort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.feature.SQLTransformer;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An OnnxModel saved alone or in a PipelineModel, loaded in a new SparkSession after the model file
 * it was built from is gone, scores exactly as before.
 */
class OnnxModelPersistenceTest {
  @TempDir
  File tmp;

  private static SparkSession newSession() {
    return TestCase.localSpark("sparkort-persistence-test").getOrCreate();
  }

  /** A copy of the case's model that the test may delete. */
  private File copyOfModel(TestCase c) throws IOException {
    File copy = new File(tmp, "doomed-" + c.name + ".onnx");
    Files.copy(c.model.toPath(), copy.toPath());
    return copy;
  }

  @Test
  void savedStageKeepsParamsAndModelBytes() throws IOException {
    TestCase c = TestCase.load("two_inputs");
    File model = copyOfModel(c);
    String path = new File(tmp, "stage").getPath();
    SparkSession spark = newSession();
    OnnxModel saved = c.onnxModel().setModelLocation(model.getPath()).setBatchSize(5);
    List<Row> before;
    try {
      before = saved.transform(c.dataFrame(spark, 2)).orderBy("id").collectAsList();
      saved.save(path);
    } finally {
      spark.stop();
    }
    assertTrue(model.delete());

    spark = newSession();
    try {
      OnnxModel loaded = OnnxModel.load(path);
      assertEquals(saved.uid(), loaded.uid());
      assertEquals(new ArrayList<>(saved.getFeedDict().entrySet()), new ArrayList<>(loaded.getFeedDict().entrySet()));
      assertEquals(new ArrayList<>(saved.getFetchDict().entrySet()), new ArrayList<>(loaded.getFetchDict().entrySet()),
          "fetchDict keeps its order, which is the output columns' order");
      assertEquals(5, loaded.getBatchSize());
      File copy = new File(loaded.getModelLocation());
      assertEquals(model.getName(), copy.getName(), "the loaded stage reads a copy of the saved model");
      assertTrue(copy.isFile() && !copy.getPath().startsWith(tmp.getPath()), copy.getPath());
      List<Row> after = loaded.transform(c.dataFrame(spark, 3)).orderBy("id").collectAsList();
      assertEquals(before, after);
      c.assertMatchesOnnxRuntime(after);
    } finally {
      spark.stop();
    }
  }

  @Test
  void savedStageKeepsTheModelsExternalData() throws IOException {
    TestCase c = TestCase.load("external_mlp");
    File folder = new File(tmp, "doomed-model");
    File data = new File(folder, "external_mlp_data");
    assertTrue(data.mkdirs());
    Files.copy(c.model.toPath(), new File(folder, c.model.getName()).toPath());
    for (File weights : new File(c.model.getParentFile(), "external_mlp_data").listFiles()) {
      Files.copy(weights.toPath(), new File(data, weights.getName()).toPath());
    }
    String path = new File(tmp, "stage").getPath();
    SparkSession spark = newSession();
    try {
      c.onnxModel().setModelLocation(new File(folder, c.model.getName()).getPath()).save(path);
    } finally {
      spark.stop();
    }
    deleteTree(folder);
    assertTrue(!folder.exists());

    spark = newSession();
    try {
      OnnxModel loaded = OnnxModel.load(path);
      c.assertMatchesOnnxRuntime(loaded.transform(c.dataFrame(spark, 2)).collectAsList());
    } finally {
      spark.stop();
    }
  }

  private static void deleteTree(File file) {
    File[] children = file.listFiles();
    for (File child : children == null ? new File[0] : children) {
      deleteTree(child);
    }
    assertTrue(file.delete(), file.getPath());
  }

  @Test
  void pipelineModelSavesAndLoadsWithTheStage() throws IOException {
    TestCase c = TestCase.load("linear");
    File model = copyOfModel(c);
    String path = new File(tmp, "pipeline").getPath();
    // The features arrive as eight scalar columns, as in a table; a SQL stage assembles the array.
    String[] columns = new String[9];
    columns[0] = "id";
    StringBuilder array = new StringBuilder();
    for (int i = 0; i < 8; i++) {
      columns[i + 1] = "col_features[" + i + "] AS f" + i;
      array.append(i == 0 ? "" : ", ").append('f').append(i);
    }
    SQLTransformer assemble = new SQLTransformer()
        .setStatement("SELECT id, array(" + array + ") AS col_features FROM __THIS__");
    Pipeline pipeline = new Pipeline().setStages(new PipelineStage[] {
        assemble, c.onnxModel().setModelLocation(model.getPath())});

    SparkSession spark = newSession();
    List<Row> before;
    try {
      Dataset<Row> table = c.dataFrame(spark, 2).selectExpr(columns);
      PipelineModel fitted = pipeline.fit(table);
      before = fitted.transform(table).orderBy("id").collectAsList();
      fitted.write().overwrite().save(path);
    } finally {
      spark.stop();
    }
    assertTrue(model.delete());

    spark = newSession();
    try {
      PipelineModel loaded = PipelineModel.load(path);
      assertTrue(loaded.stages()[1] instanceof OnnxModel, loaded.stages()[1].getClass().getName());
      Dataset<Row> table = c.dataFrame(spark, 3).selectExpr(columns);
      List<Row> after = loaded.transform(table).orderBy("id").collectAsList();
      assertEquals(before, after);
      c.assertMatchesOnnxRuntime(after);

      // Saved over the directory it was loaded from (Spark deletes that first), it still loads and scores.
      loaded.write().overwrite().save(path);
      assertEquals(before, PipelineModel.load(path).transform(table).orderBy("id").collectAsList());
    } finally {
      spark.stop();
    }
  }

  @Test
  void savingAModelThatIsGoneNamesItsLocation() {
    SparkSession spark = newSession();
    try {
      OnnxModel model = TestCase.load("mlp").onnxModel().setModelLocation(new File(tmp, "gone.onnx").getPath());
      ModelLoadException e = assertThrows(ModelLoadException.class, () -> model.save(new File(tmp, "s").getPath()));
      assertTrue(e.getMessage().contains("model file not found: " + new File(tmp, "gone.onnx").getPath()), e.getMessage());
    } finally {
      spark.stop();
    }
  }

  @Test
  void loadingWhereNothingWasSavedNamesThePath() {
    SparkSession spark = newSession();
    try {
      String path = new File(tmp, "nothing-here").getPath();
      ModelLoadException e = assertThrows(ModelLoadException.class, () -> OnnxModel.load(path));
      assertTrue(e.getMessage().contains("no saved OnnxModel at " + path), e.getMessage());
    } finally {
      spark.stop();
    }
  }
}
