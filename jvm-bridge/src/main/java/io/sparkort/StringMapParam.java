package io.sparkort;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.util.Identifiable;

/** A param holding a {@code java.util.Map<String, String>}, kept in insertion order, JSON-encoded for persistence. */
public class StringMapParam extends Param<Map<String, String>> {
  private static final long serialVersionUID = 1L;
  private static final ObjectMapper JSON = new ObjectMapper();

  public StringMapParam(Identifiable parent, String name, String doc) {
    super(parent, name, doc);
  }

  @Override
  public String jsonEncode(Map<String, String> value) {
    try {
      return JSON.writeValueAsString(value);
    } catch (IOException e) {
      throw new SparkOrtException("cannot encode param " + name() + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Map<String, String> jsonDecode(String json) {
    try {
      return JSON.readValue(json, new TypeReference<LinkedHashMap<String, String>>() {});
    } catch (IOException e) {
      throw new SparkOrtException("cannot decode param " + name() + " from " + json, e);
    }
  }
}
