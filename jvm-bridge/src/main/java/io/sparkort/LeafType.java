package io.sparkort;

import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * The Spark types of single values the bridge reads and writes: a scalar column's type, the
 * innermost element type of an array column, or an output element's type. {@code bytes} is the
 * element size in Spark's UnsafeArrayData, so a leaf whose layout is an element type's can be
 * copied in bulk.
 */
enum LeafType {
  BOOLEAN(DataTypes.BooleanType, 1),
  BYTE(DataTypes.ByteType, 1),
  SHORT(DataTypes.ShortType, 2),
  INT(DataTypes.IntegerType, 4),
  LONG(DataTypes.LongType, 8),
  FLOAT(DataTypes.FloatType, 4),
  DOUBLE(DataTypes.DoubleType, 8),
  STRING(DataTypes.StringType, 0);

  final DataType sparkType;
  final int bytes;

  LeafType(DataType sparkType, int bytes) {
    this.sparkType = sparkType;
    this.bytes = bytes;
  }

  boolean isIntegral() {
    return this == BYTE || this == SHORT || this == INT || this == LONG;
  }

  boolean isNumeric() {
    return isIntegral() || this == FLOAT || this == DOUBLE;
  }

  /** Whether a column of this leaf type can feed a model input of {@code element} type. */
  boolean canFeed(ElementType element) {
    if (element.isFloating()) {
      return isNumeric();
    }
    if (element == ElementType.BOOL) {
      return this == BOOLEAN;
    }
    if (element == ElementType.STRING) {
      return this == STRING;
    }
    return isIntegral();
  }

  /** Whether values of this leaf type already are {@code element}'s input layout (a bulk copy). */
  boolean isLayoutOf(ElementType element) {
    switch (element) {
      case FLOAT32:
      case FLOAT16:
      case BFLOAT16:
        return this == FLOAT; // half types travel as float32
      case FLOAT64:
        return this == DOUBLE;
      case INT8:
        return this == BYTE;
      case INT16:
        return this == SHORT;
      case INT32:
        return this == INT;
      case INT64:
        return this == LONG;
      case BOOL:
        return this == BOOLEAN;
      default:
        return false; // unsigned types need a range check, strings are not fixed-width
    }
  }

  /** The leaf type of {@code type}, or null when it holds no single value. */
  static LeafType of(DataType type) {
    for (LeafType t : values()) {
      if (t.sparkType.equals(type)) {
        return t;
      }
    }
    return null;
  }
}
