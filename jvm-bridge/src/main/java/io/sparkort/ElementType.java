package io.sparkort;

import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * ONNX tensor element types, by ONNX's TensorProto.DataType code and the signature JSON's name
 * (native/src/tensor/mod.rs keeps the same table). As a model input, the bridge writes each
 * element in {@code inputBytes} bytes of its own type, except float16 and bfloat16, which it
 * writes as float32 for the native side to narrow. As an output, each becomes {@code sparkType}:
 * the native side widens unsigned and half types to a Spark type that holds every value.
 */
enum ElementType {
  FLOAT32(1, "float32", 4, DataTypes.FloatType, Long.MIN_VALUE, Long.MAX_VALUE),
  UINT8(2, "uint8", 1, DataTypes.ShortType, 0, 255),
  INT8(3, "int8", 1, DataTypes.ByteType, Byte.MIN_VALUE, Byte.MAX_VALUE),
  UINT16(4, "uint16", 2, DataTypes.IntegerType, 0, 65535),
  INT16(5, "int16", 2, DataTypes.ShortType, Short.MIN_VALUE, Short.MAX_VALUE),
  INT32(6, "int32", 4, DataTypes.IntegerType, Integer.MIN_VALUE, Integer.MAX_VALUE),
  INT64(7, "int64", 8, DataTypes.LongType, Long.MIN_VALUE, Long.MAX_VALUE),
  STRING(8, "string", 0, DataTypes.StringType, 0, 0),
  BOOL(9, "bool", 1, DataTypes.BooleanType, 0, 1),
  FLOAT16(10, "float16", 4, DataTypes.FloatType, Long.MIN_VALUE, Long.MAX_VALUE),
  FLOAT64(11, "float64", 8, DataTypes.DoubleType, Long.MIN_VALUE, Long.MAX_VALUE),
  UINT32(12, "uint32", 4, DataTypes.LongType, 0, 4294967295L),
  UINT64(13, "uint64", 8, DataTypes.LongType, 0, Long.MAX_VALUE),
  BFLOAT16(16, "bfloat16", 4, DataTypes.FloatType, Long.MIN_VALUE, Long.MAX_VALUE);

  final int onnxCode;
  final String onnxName;
  /** Bytes per element in an input buffer; 0 for strings (offsets and bytes). */
  final int inputBytes;
  /** The Spark type of an output element (and the layout the native side hands it over in). */
  final DataType sparkType;
  /** The integers an input of this type can take from an integer column. */
  final long min;
  final long max;

  ElementType(int onnxCode, String onnxName, int inputBytes, DataType sparkType, long min, long max) {
    this.onnxCode = onnxCode;
    this.onnxName = onnxName;
    this.inputBytes = inputBytes;
    this.sparkType = sparkType;
    this.min = min;
    this.max = max;
  }

  boolean isFloating() {
    return this == FLOAT32 || this == FLOAT64 || this == FLOAT16 || this == BFLOAT16;
  }

  /** The type named so in the signature, or null when sparkort cannot exchange it. */
  static ElementType fromName(String name) {
    for (ElementType t : values()) {
      if (t.onnxName.equals(name)) {
        return t;
      }
    }
    return null;
  }
}
