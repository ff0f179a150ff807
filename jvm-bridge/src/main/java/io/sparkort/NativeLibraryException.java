package io.sparkort;

/** The native libraries could not be extracted or loaded. */
public class NativeLibraryException extends SparkOrtException {
  private static final long serialVersionUID = 1L;

  public NativeLibraryException(String message) {
    super(message);
  }

  public NativeLibraryException(String message, Throwable cause) {
    super(message, cause);
  }
}
