//! The native library against the real ONNX Runtime: models and expected outputs come from
//! ci/models.py (ONNX Runtime's Python API). `ci/test` sets SPARKORT_ORT_LIBRARY and SPARKORT_TEST_MODELS.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

mod common;

use std::sync::Arc;

use common::{assert_scores_like_onnxruntime_python, case_json, models, Column, ONE};
use serde_json::Value;
use sparkort::exchange;
use sparkort::model_node::{self, Model, ModelOptions};
use sparkort::tensor::ElementType;
use sparkort::Error;

fn case(name: &str) -> (Arc<Model>, Value) {
    let dir = models();
    let json = case_json(name);
    let model =
        model_node::open(dir.join(format!("{name}.onnx")).to_str().expect("utf-8 path"), ONE).expect("model").model;
    (model, json)
}

#[test]
fn mlp_scores_like_onnxruntime_python() {
    let (model, json) = case("mlp");
    assert_scores_like_onnxruntime_python(&model, &json, 1e-5);
}

#[test]
fn float64_and_multi_input_models_score_like_onnxruntime_python() {
    for name in ["double_affine", "two_inputs", "linear"] {
        let (model, json) = case(name);
        assert_scores_like_onnxruntime_python(&model, &json, 1e-5);
    }
}

#[test]
fn every_element_type_and_shape_scores_like_onnxruntime_python() {
    let dtypes = [
        "float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "bool", "string",
    ];
    let names = dtypes
        .iter()
        .map(|d| format!("passthrough_{d}"))
        .chain(["nd_transpose", "unbatched", "byte_sum"].map(String::from));
    for name in names {
        let (model, json) = case(&name);
        assert_scores_like_onnxruntime_python(&model, &json, 1e-6);
    }
}

#[test]
fn tensors_inside_the_graph_are_fetched_by_cutting_the_model() {
    let dir = models();
    let json = case_json("mlp_inner");
    let path = dir.join("mlp_inner.onnx");
    let path = path.to_str().expect("path");
    let inner = ["r0".to_string(), "h2".to_string()];
    let cut = model_node::open_with_outputs(path, ONE, &inner).expect("cut model").model;
    let outputs: Vec<&str> = cut.signature().outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outputs, ["probabilities", "r0", "h2"]);
    assert_eq!(cut.signature().outputs[1].shape, vec![-1, 20], "ONNX Runtime infers the inner tensor's shape");
    assert_scores_like_onnxruntime_python(&cut, &json, 1e-6);
    let whole = model_node::open(path, ONE).expect("model").model;
    assert!(!Arc::ptr_eq(&whole, &cut), "a cut model is another model");
    assert_eq!(model_node::read_signature(path, &inner).expect("describe").outputs.len(), 3);
    let err = model_node::open_with_outputs(path, ONE, &["nope".into()]).err().expect("unknown tensor");
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    assert!(err.to_string().contains("fetchDict asks for 'nope'"), "{err}");
}

#[test]
fn sequences_of_maps_keep_keys_values_and_order() {
    let (model, json) = case("zipmap");
    assert_scores_like_onnxruntime_python(&model, &json, 1e-6);
    let signature = model.signature();
    let by_name = signature.outputs.iter().find(|o| o.name == "by_name").expect("by_name output");
    assert_eq!(
        (by_name.kind.as_str(), by_name.key_type.as_deref(), by_name.element_type.as_str()),
        ("maps", Some("string"), "float32")
    );
}

#[test]
fn invalid_utf8_and_bad_offsets_are_refused_before_scoring() {
    for (offsets, bytes) in [(vec![0, 1, 2, 3], vec![b'a', 0xff, b'b']), (vec![0, 2, 1, 3], b"abc".to_vec())] {
        let column = Column::Str(offsets, bytes);
        let buffers = column.buffers("x", vec![1, 3], ElementType::String);
        // SAFETY: `column` owns the memory and outlives the call.
        let err = unsafe { exchange::import(&buffers) }.err().expect("must be refused");
        assert!(err.to_string().contains("column 'col_x' (model input 'x')"), "{err}");
    }
}

#[test]
fn signature_reports_names_types_and_symbolic_batch() {
    let (model, _) = case("two_inputs");
    let signature = model.signature();
    let names: Vec<&str> = signature.inputs.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let a = &signature.inputs[0];
    assert_eq!((a.element_type.as_str(), a.shape.as_slice()), ("float32", &[-1, 3][..]));
    assert_eq!(a.dim_names[0], "N");
    let outputs: Vec<&str> = signature.outputs.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outputs, ["sum", "norm"]);
    assert_eq!(signature.outputs[1].shape, vec![-1]);
}

#[test]
fn same_content_and_options_share_one_model() {
    let dir = models();
    let path = dir.join("linear.onnx");
    let copy = std::env::temp_dir().join(format!("sparkort-test-copy-{}.onnx", std::process::id()));
    std::fs::copy(&path, &copy).expect("copy");
    let first = model_node::open(path.to_str().expect("path"), ONE).expect("open").model;
    let again = model_node::open(copy.to_str().expect("path"), ONE).expect("open copy").model;
    assert!(Arc::ptr_eq(&first, &again), "same bytes under another path is the same model");
    let other = model_node::open(path.to_str().expect("path"), ModelOptions { max_sessions: 2, intra_threads: 1 })
        .expect("open with other options")
        .model;
    assert!(!Arc::ptr_eq(&first, &other), "other options are another set of sessions");
    std::fs::remove_file(copy).ok();
}

#[test]
fn missing_model_file_is_a_model_load_error_naming_the_path() {
    models();
    let err = model_node::open("/nonexistent/dir/model.onnx", ONE).err().expect("must fail");
    assert!(matches!(err, Error::ModelLoad { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/dir/model.onnx"), "{err}");
    assert_eq!(err.java_class(), "io/sparkort/ModelLoadException");
}

#[test]
fn wrong_row_length_names_column_input_and_expected_shape() {
    let (model, _) = case("mlp");
    let column = Column::F32(vec![0.5f32; 4 * 63]);
    let buffers = column.buffers("features", vec![4, 63], ElementType::Float32);
    // SAFETY: `column` owns the memory and outlives `imported`.
    let imported = unsafe { exchange::import(&buffers) }.expect("import");
    let err = model.run(&[imported], &["probabilities".into()]).err().expect("must fail");
    let message = err.to_string();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    for part in ["column 'col_features'", "model input 'features'", "[N, 64]", "[4, 63]"] {
        assert!(message.contains(part), "'{part}' missing from: {message}");
    }
}

#[test]
fn wrong_element_type_and_unfed_input_are_input_errors() {
    let (model, json) = case("mlp");
    let column = Column::of(&json["inputs"]["features"]["values"], ElementType::Float64);
    let rows = json["rows"].as_u64().expect("rows") as usize;
    let buffers = column.buffers("features", vec![rows as i64, 64], ElementType::Float64);
    // SAFETY: `column` outlives `imported`.
    let imported = unsafe { exchange::import(&buffers) }.expect("import");
    let err = model.run(&[imported], &["probabilities".into()]).err().expect("float64 into float32 must fail");
    assert!(err.to_string().contains("expected float32"), "{err}");
    let err = model.run(&[], &["probabilities".into()]).err().expect("no inputs must fail");
    assert!(err.to_string().contains("model input 'features' is not fed"), "{err}");
}

#[test]
fn concurrent_runs_on_a_pool_match_a_serial_run() {
    let dir = models();
    let json = case_json("mlp");
    let pooled = model_node::open(
        dir.join("mlp.onnx").to_str().expect("path"),
        ModelOptions { max_sessions: 2, intra_threads: 1 },
    )
    .expect("model")
    .model;
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..5 {
                    assert_scores_like_onnxruntime_python(&pooled, &json, 1e-5);
                }
            });
        }
    });
}
