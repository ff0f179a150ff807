package io.sparkort;

/** The model file cannot be read, or ONNX Runtime cannot load it. */
public class ModelLoadException extends SparkOrtException {
  private static final long serialVersionUID = 1L;

  public ModelLoadException(String message) {
    super(message);
  }

  public ModelLoadException(String message, Throwable cause) {
    super(message, cause);
  }
}
