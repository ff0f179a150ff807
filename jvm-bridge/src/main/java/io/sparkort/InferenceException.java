package io.sparkort;

/** ONNX Runtime failed while running a batch. */
public class InferenceException extends SparkOrtException {
  private static final long serialVersionUID = 1L;

  public InferenceException(String message) {
    super(message);
  }

  public InferenceException(String message, Throwable cause) {
    super(message, cause);
  }
}
