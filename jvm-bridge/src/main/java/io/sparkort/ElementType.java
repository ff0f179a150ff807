package io.sparkort;

import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;

/**
 * ONNX tensor element types that cross to the native library as fixed-width buffers, with the
 * Spark type each one becomes in an output column. Codes are ONNX's TensorProto.DataType, names
 * those of the signature JSON (native/src/tensor.rs keeps the same table).
 */
enum ElementType {
  FLOAT32(1, "float32", 4, DataTypes.FloatType),
  FLOAT64(11, "float64", 8, DataTypes.DoubleType);

  final int onnxCode;
  final String onnxName;
  final int byteSize;
  final DataType sparkType;

  ElementType(int onnxCode, String onnxName, int byteSize, DataType sparkType) {
    this.onnxCode = onnxCode;
    this.onnxName = onnxName;
    this.byteSize = byteSize;
    this.sparkType = sparkType;
  }

  /** The type named so in the signature, or null when this release cannot exchange it. */
  static ElementType fromName(String name) {
    for (ElementType t : values()) {
      if (t.onnxName.equals(name)) {
        return t;
      }
    }
    return null;
  }

  static ElementType fromCode(long code) {
    for (ElementType t : values()) {
      if (t.onnxCode == code) {
        return t;
      }
    }
    throw new SparkOrtException("native library returned unknown element type code " + code);
  }
}
