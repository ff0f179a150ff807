"""`make bench`: sparkort against predict_batch_udf, mapInArrow and ONNX Runtime alone (ci/bench)."""
