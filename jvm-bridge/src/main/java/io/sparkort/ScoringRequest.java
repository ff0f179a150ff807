package io.sparkort;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.catalyst.expressions.Attribute;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * What a scoring node asks of the model, fixed when {@code transform} resolved it: the shipped model,
 * the feed and fetch mappings and the batch size. The columns it reads and adds are the node's
 * attributes; the {@link ScoringPlan} that says where they sit in a row is worked out again for
 * whatever child the optimizer leaves under the node ({@link #planFor}).
 */
final class ScoringRequest implements Serializable {
  private static final long serialVersionUID = 1L;

  /** The model's location as the user gave it, for plans and messages. */
  final String modelLocation;
  final ModelSource source;
  final Map<String, String> feedDict;
  final Map<String, String> fetchDict;
  final int batchSize;
  final boolean keepNulls;
  final String[] extraOutputs;
  final ScoringMetrics metrics;

  ScoringRequest(String modelLocation, ModelSource source, Map<String, String> feedDict, Map<String, String> fetchDict,
      int batchSize, boolean keepNulls, String[] extraOutputs, ScoringMetrics metrics) {
    this.modelLocation = modelLocation;
    this.source = source;
    this.feedDict = new LinkedHashMap<>(feedDict);
    this.fetchDict = new LinkedHashMap<>(fetchDict);
    this.batchSize = batchSize;
    this.keepNulls = keepNulls;
    this.extraOutputs = extraOutputs.clone();
    this.metrics = metrics;
  }

  /** The scoring plan over rows of {@code input}, the child's output; the model's signature is cached. */
  ScoringPlan planFor(List<Attribute> input) {
    return planFor(schemaOf(input));
  }

  ScoringPlan planFor(StructType input) {
    return ScoringPlan.create(input, source.signature(extraOutputs), extraOutputs, feedDict, fetchDict, keepNulls);
  }

  static StructType schemaOf(List<Attribute> attributes) {
    List<StructField> fields = new ArrayList<>();
    for (Attribute a : attributes) {
      fields.add(new StructField(a.name(), a.dataType(), a.nullable(), a.metadata()));
    }
    return new StructType(fields.toArray(new StructField[0]));
  }

  /** The fetched outputs as {@code column=output} pairs, for plans. */
  String fetchPairs() {
    List<String> pairs = new ArrayList<>();
    for (Map.Entry<String, String> e : fetchDict.entrySet()) {
      pairs.add(e.getKey().equals(e.getValue()) ? e.getKey() : e.getKey() + "=" + e.getValue());
    }
    return pairs.isEmpty() ? "every output" : String.join(", ", pairs);
  }

  /** The batch size as plans show it: the rows, or "auto" where sparkort chooses ({@link ScoringPlan#rowsPerRun}). */
  String batchSizeText() {
    return batchSize == ScoringPlan.AUTO_BATCH ? "auto" : String.valueOf(batchSize);
  }
}
