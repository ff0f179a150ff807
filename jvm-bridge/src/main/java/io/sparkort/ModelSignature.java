package io.sparkort;

import java.io.Serializable;
import java.util.Collections;
import java.util.List;

/** A model's inputs and outputs, as the native library reads them from the model. */
public final class ModelSignature implements Serializable {
  private static final long serialVersionUID = 1L;

  /** One input or output. Shapes hold -1 for symbolic dimensions, named in {@code dimNames}. */
  public static final class Tensor implements Serializable {
    private static final long serialVersionUID = 1L;
    public final String name;
    /** "tensor"; "maps" for a sequence of maps (one per row, scikit-learn's ZipMap); "other". */
    public final String kind;
    /** Element type name ("float32", ...) of the tensor or the maps' values; a description otherwise. */
    public final String elementType;
    /** The maps' key type name, else null. */
    public final String keyType;
    public final long[] shape;
    public final String[] dimNames;

    Tensor(String name, String kind, String elementType, String keyType, long[] shape, String[] dimNames) {
      this.name = name;
      this.kind = kind;
      this.elementType = elementType;
      this.keyType = keyType;
      this.shape = shape;
      this.dimNames = dimNames;
    }

    boolean isTensor() {
      return "tensor".equals(kind);
    }

    boolean isMaps() {
      return "maps".equals(kind);
    }

    /** The shape as a reader expects to see it: {@code [N, 64]}, symbolic dims by name. */
    public String describeShape() {
      StringBuilder s = new StringBuilder("[");
      for (int i = 0; i < shape.length; i++) {
        if (i > 0) {
          s.append(", ");
        }
        boolean named = i < dimNames.length && !dimNames[i].isEmpty();
        s.append(shape[i] >= 0 ? Long.toString(shape[i]) : named ? dimNames[i] : "?");
      }
      return s.append(']').toString();
    }

    @Override
    public String toString() {
      if (isMaps()) {
        return name + ": sequence of map(" + keyType + ", " + elementType + ")";
      }
      return name + ": " + (isTensor() ? elementType + " " + describeShape() : elementType);
    }
  }

  public final List<Tensor> inputs;
  public final List<Tensor> outputs;

  /** The signature the native library read ({@link NativeWire#readSignature}). */
  ModelSignature(List<Tensor> inputs, List<Tensor> outputs) {
    this.inputs = Collections.unmodifiableList(inputs);
    this.outputs = Collections.unmodifiableList(outputs);
  }

  public Tensor input(String name) {
    return find(inputs, name);
  }

  public Tensor output(String name) {
    return find(outputs, name);
  }

  private static Tensor find(List<Tensor> tensors, String name) {
    for (Tensor t : tensors) {
      if (t.name.equals(name)) {
        return t;
      }
    }
    return null;
  }

  static String names(List<Tensor> tensors) {
    StringBuilder s = new StringBuilder();
    for (Tensor t : tensors) {
      s.append(s.length() == 0 ? "" : ", ").append(t);
    }
    return s.toString();
  }

  @Override
  public String toString() {
    return "inputs: " + names(inputs) + "; outputs: " + names(outputs);
  }
}
