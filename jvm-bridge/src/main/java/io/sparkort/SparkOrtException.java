package io.sparkort;

/**
 * Base of every error sparkort raises. Unchecked, so it passes through Spark's iterators and
 * reaches the driver inside the job's failure with its message intact. The native library throws
 * the subclasses by name: keep their (String) constructors.
 */
public class SparkOrtException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public SparkOrtException(String message) {
    super(message);
  }

  public SparkOrtException(String message, Throwable cause) {
    super(message, cause);
  }
}
