//! The native library against the real ONNX Runtime: models and expected outputs come from
//! ci/models.py (ONNX Runtime's Python API). `ci/test` sets SPARKORT_ORT_LIBRARY and SPARKORT_TEST_MODELS.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sparkort::exchange::{self, ImportedInput, InputBuffers};
use sparkort::model_node::{self, Model, ModelOptions};
use sparkort::tensor::ElementType;
use sparkort::Error;

const ONE: ModelOptions = ModelOptions { max_sessions: 1, intra_threads: 1 };

fn models() -> PathBuf {
    let library = std::env::var("SPARKORT_ORT_LIBRARY").expect("SPARKORT_ORT_LIBRARY names libonnxruntime.so");
    sparkort::runtime::init(Path::new(&library)).expect("ONNX Runtime loads");
    PathBuf::from(std::env::var("SPARKORT_TEST_MODELS").expect("SPARKORT_TEST_MODELS names ci/models.py's output"))
}

fn case(name: &str) -> (Arc<Model>, Value) {
    let dir = models();
    let json: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("case"))
        .expect("case JSON");
    let model =
        model_node::open(dir.join(format!("{name}.onnx")).to_str().expect("utf-8 path"), ONE).expect("model").model;
    (model, json)
}

/// Row-major values of a case's input, in its model element type, as bytes the JVM would hand over.
enum Column {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Column {
    fn of(values: &Value, element_type: ElementType) -> Self {
        let flat = values.as_array().expect("rows").iter().flat_map(|r| r.as_array().expect("row").clone());
        let numbers = flat.map(|v| v.as_f64().expect("number"));
        match element_type {
            ElementType::Float64 => Column::F64(numbers.collect()),
            _ => Column::F32(numbers.map(|v| v as f32).collect()),
        }
    }

    fn buffers(&self, input: &str, rows: usize, element_type: ElementType) -> InputBuffers {
        let (address, bytes, count) = match self {
            Column::F32(v) => (v.as_ptr() as i64, std::mem::size_of_val(&v[..]), v.len()),
            Column::F64(v) => (v.as_ptr() as i64, std::mem::size_of_val(&v[..]), v.len()),
        };
        InputBuffers {
            input: input.into(),
            column: format!("col_{input}"),
            element_type,
            shape: vec![rows as i64, (count / rows) as i64],
            data_address: address,
            data_length: bytes as i64,
        }
    }
}

fn element_type(model: &Model, input: &str) -> ElementType {
    let info = model.signature().input(input).expect("input in signature");
    ElementType::from_name(&info.element_type).expect("exchangeable type")
}

/// Scores every input of `json` and checks every expected output within `tolerance` (relative + absolute).
fn assert_scores_like_onnxruntime_python(model: &Model, json: &Value, tolerance: f64) {
    let rows = json["rows"].as_u64().expect("rows") as usize;
    let inputs: Vec<(String, ElementType, Column)> = json["inputs"]
        .as_object()
        .expect("inputs")
        .iter()
        .map(|(name, spec)| {
            let ty = element_type(model, name);
            (name.clone(), ty, Column::of(&spec["values"], ty))
        })
        .collect();
    let buffers: Vec<InputBuffers> = inputs.iter().map(|(n, ty, c)| c.buffers(n, rows, *ty)).collect();
    // SAFETY: `inputs` owns the memory and outlives `imported`.
    let imported: Vec<ImportedInput> =
        buffers.iter().map(|b| unsafe { exchange::import(b) }.expect("import")).collect();
    let expected = json["expected"].as_object().expect("expected");
    let fetch: Vec<String> = expected.keys().cloned().collect();
    let outputs = model.run(&imported, &fetch).expect("run");
    for (output, name) in outputs.iter().zip(&fetch) {
        let want: Vec<f64> = expected[name]["values"]
            .as_array()
            .expect("rows")
            .iter()
            .flat_map(|r| r.as_array().expect("row").iter().map(|v| v.as_f64().expect("number")).collect::<Vec<_>>())
            .collect();
        let (address, bytes) = output.data();
        let got: Vec<f64> = match output.element_type {
            // SAFETY: `output` keeps the tensor alive and `bytes` is its length.
            ElementType::Float32 => unsafe { std::slice::from_raw_parts(address.cast::<f32>(), bytes / 4) }
                .iter()
                .map(|&v| v as f64)
                .collect(),
            // SAFETY: as above.
            ElementType::Float64 => unsafe { std::slice::from_raw_parts(address.cast::<f64>(), bytes / 8) }.to_vec(),
            other => panic!("unexpected output type {other:?}"),
        };
        assert_eq!(output.shape[0], rows as i64, "output {name} has one row per input row");
        assert_eq!(got.len(), want.len(), "output {name} length");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= tolerance * (1.0 + w.abs()),
                "output {name}[{i}]: got {g}, ONNX Runtime Python {w}"
            );
        }
    }
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
    let buffers = column.buffers("features", 4, ElementType::Float32);
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
    let buffers = column.buffers("features", rows, ElementType::Float64);
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
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mlp.json")).expect("case")).expect("case JSON");
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
