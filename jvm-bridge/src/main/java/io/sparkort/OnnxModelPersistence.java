package io.sparkort;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.nio.file.Files;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.FileUtil;
import org.apache.hadoop.fs.Path;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWriter;
import scala.Option;

/**
 * Saves and loads an {@link OnnxModel} as a Spark ML stage, so a {@code PipelineModel} holding one
 * saves and loads in Java and Python. A saved stage is a directory:
 *
 * <pre>
 * metadata/part-00000   one line of JSON in Spark's DefaultParamsWriter format, plus "modelFile"
 * model/NAME.onnx       the model's bytes, copied from modelLocation when the stage was saved
 * model/...             its external data files, at the same places relative to it
 * </pre>
 *
 * <p>The metadata is written here rather than by {@code DefaultParamsWriter}, whose Scala
 * signatures differ between Spark 3.5 and 4.x; the format is the same, so Spark's own readers (the
 * {@code PipelineModel} loader looks up a stage's class there) read it on both lines.
 *
 * <p>Loading copies the saved model into a private directory on the driver and points the stage's
 * {@code modelLocation} there: like Spark's own models, which hold their data in memory, a loaded
 * stage depends neither on the original file nor on the saved directory, so it can be saved over
 * the directory it came from (Spark deletes that directory before writing).
 */
final class OnnxModelPersistence {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String METADATA = "metadata";
  private static final String MODEL_FILE = "modelFile";
  private static final String MODEL_FOLDER = "model";

  private OnnxModelPersistence() {}

  static final class Writer extends MLWriter {
    private final OnnxModel model;

    Writer(OnnxModel model) {
      this.model = model;
    }

    @Override
    public void saveImpl(String path) {
      SparkContext sc = sc();
      ObjectNode metadata = JSON.createObjectNode();
      metadata.put("class", model.getClass().getName());
      metadata.put("timestamp", System.currentTimeMillis());
      metadata.put("sparkVersion", sc.version());
      metadata.put("uid", model.uid());
      metadata.set("paramMap", params(model, true));
      metadata.set("defaultParamMap", params(model, false));
      if (model.isDefined(model.modelLocation())) {
        metadata.put(MODEL_FILE, copyModel(model.getModelLocation(), path, sc.hadoopConfiguration()));
      }
      // Written last: a stage directory with metadata is complete.
      JavaSparkContext.fromSparkContext(sc).parallelize(Collections.singletonList(metadata.toString()), 1)
          .saveAsTextFile(new Path(path, METADATA).toString());
    }
  }

  static final class Reader extends MLReader<OnnxModel> {
    @Override
    public OnnxModel load(String path) {
      Configuration conf = sc().hadoopConfiguration();
      JsonNode metadata = readMetadata(path, conf);
      String className = metadata.path("class").asText();
      if (!OnnxModel.class.getName().equals(className)) {
        throw new ModelLoadException(path + " holds a saved " + className + ", not an " + OnnxModel.class.getName());
      }
      OnnxModel model = new OnnxModel(metadata.path("uid").asText());
      setParams(model, metadata.path("defaultParamMap"), true);
      setParams(model, metadata.path("paramMap"), false);
      if (metadata.hasNonNull(MODEL_FILE)) {
        model.setModelLocation(localCopy(path, metadata.get(MODEL_FILE).asText(), conf));
      }
      return model;
    }

    private JsonNode readMetadata(String path, Configuration conf) {
      Path metadataPath = new Path(path, METADATA);
      try {
        if (!metadataPath.getFileSystem(conf).exists(metadataPath)) {
          throw new ModelLoadException("no saved OnnxModel at " + path + ": " + metadataPath + " does not exist");
        }
        String line = JavaSparkContext.fromSparkContext(sc()).textFile(metadataPath.toString(), 1).first();
        return JSON.readTree(line);
      } catch (IOException e) {
        throw new ModelLoadException("cannot read the saved OnnxModel at " + path + ": " + e.getMessage(), e);
      }
    }
  }

  /** The params set on {@code model} ({@code explicit}) or its defaults, each as its param's own JSON. */
  private static ObjectNode params(OnnxModel model, boolean explicit) {
    ObjectNode out = JSON.createObjectNode();
    for (Param<?> p : model.params()) {
      @SuppressWarnings("unchecked")
      Param<Object> param = (Param<Object>) p;
      Option<Object> value = explicit ? model.get(param) : model.getDefault(param);
      if (value.isDefined()) {
        try {
          out.set(param.name(), JSON.readTree(param.jsonEncode(value.get())));
        } catch (IOException e) {
          throw new SparkOrtException("cannot encode param " + param.name() + ": " + e.getMessage(), e);
        }
      }
    }
    return out;
  }

  /**
   * Sets each param in {@code json} on {@code model}. A saved default this version no longer has is
   * skipped (the current default stands); an explicitly set param it does not know is an error,
   * since dropping it would score differently from the saved stage.
   */
  private static void setParams(OnnxModel model, JsonNode json, boolean defaults) {
    for (Iterator<Map.Entry<String, JsonNode>> it = json.fields(); it.hasNext();) {
      Map.Entry<String, JsonNode> entry = it.next();
      if (!model.hasParam(entry.getKey())) {
        if (defaults) {
          continue;
        }
        throw new ModelLoadException("the saved OnnxModel sets param " + entry.getKey()
            + ", which this sparkort version does not have");
      }
      Param<Object> param = model.getParam(entry.getKey());
      Object value = param.jsonDecode(entry.getValue().toString());
      if (defaults) {
        model.setDefault(param, value);
      } else {
        model.set(param, value);
      }
    }
  }

  /**
   * Copies the model's .onnx file, and its external data files beside it, into
   * {@code stagePath/model/}; returns the .onnx file relative to the stage.
   */
  private static String copyModel(String location, String stagePath, Configuration conf) {
    Path source = new Path(location);
    String relative = MODEL_FOLDER + "/" + source.getName(); // only "/" has no name, and a directory is refused below
    try {
      FileSystem sourceFs = ModelSource.fileSystem(source, conf);
      if (sourceFs.getFileStatus(source).isDirectory()) {
        throw new ModelLoadException("cannot save the OnnxModel: modelLocation " + location + " is a directory");
      }
      // resolve reads the .onnx file once, into the driver's copy, and finds its data files (checked to
      // lie inside the model's folder); the stage takes the .onnx file from that copy.
      ModelSource model = ModelSource.resolve(location, conf);
      copy(FileSystem.getLocal(conf), new Path(model.driverCopy().toURI()), new Path(stagePath, relative), conf);
      for (ModelSource.DataFile data : model.dataFiles) {
        copy(sourceFs, new Path(source.getParent(), data.location),
            new Path(new Path(stagePath, MODEL_FOLDER), data.location), conf);
      }
    } catch (FileNotFoundException e) {
      throw new ModelLoadException("cannot save the OnnxModel: model file not found: " + location, e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot save the OnnxModel: cannot read " + location + ": " + e.getMessage(), e);
    }
    return relative;
  }

  private static void copy(FileSystem sourceFs, Path source, Path target, Configuration conf) {
    try {
      FileUtil.copy(sourceFs, source, target.getFileSystem(conf), target, false, conf);
    } catch (FileNotFoundException e) {
      throw new ModelLoadException("cannot save the OnnxModel: " + source + " not found", e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot save the OnnxModel: copying " + source + " to " + target + " failed: "
          + e.getMessage(), e);
    }
  }

  /**
   * Copies a saved stage's model folder (the .onnx file and its data files) into a new private
   * directory on this machine; returns the path of the copy of {@code modelFile}.
   */
  private static String localCopy(String stagePath, String modelFile, Configuration conf) {
    Path saved = new Path(stagePath, modelFile);
    try {
      File folder = new File(Files.createTempDirectory("sparkort-loaded-").toFile(), saved.getParent().getName());
      FileUtil.copy(saved.getFileSystem(conf), saved.getParent(), folder, false, conf);
      deleteOnExit(folder.getParentFile());
      File copy = new File(folder, saved.getName());
      if (!copy.isFile()) {
        throw new FileNotFoundException(saved.toString());
      }
      return copy.getAbsolutePath();
    } catch (FileNotFoundException e) {
      throw new ModelLoadException("the saved OnnxModel has no model file: " + saved + " does not exist", e);
    } catch (IOException e) {
      throw new ModelLoadException("cannot copy the saved model " + saved + ": " + e.getMessage(), e);
    }
  }

  /** Deletes a directory tree when the JVM exits (files first: the JVM deletes in reverse order). */
  private static void deleteOnExit(File file) {
    file.deleteOnExit();
    File[] children = file.listFiles();
    for (File child : children == null ? new File[0] : children) {
      deleteOnExit(child);
    }
  }
}
