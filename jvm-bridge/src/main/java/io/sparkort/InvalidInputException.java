package io.sparkort;

/** The DataFrame does not fit the model: a column, type, shape or null that the message names. */
public class InvalidInputException extends SparkOrtException {
  private static final long serialVersionUID = 1L;

  public InvalidInputException(String message) {
    super(message);
  }

  public InvalidInputException(String message, Throwable cause) {
    super(message, cause);
  }
}
