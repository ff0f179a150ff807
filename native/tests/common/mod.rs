//! Helpers for the model node tests: models from ci/models.py, copies of them that differ only in
//! content (so each test has its own entry in the process-wide registry), and scoring a case.

#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)] // test helpers: a failed expectation is a failed test

use std::path::{Path, PathBuf};

use serde_json::Value;
use sparkort::exchange::{self, InputBuffers};
use sparkort::model_node::{Model, ModelOptions};
use sparkort::tensor::ElementType;

pub const ONE: ModelOptions = ModelOptions { max_sessions: 1, intra_threads: 1 };

/// ci/models.py's output folder, with ONNX Runtime loaded.
pub fn models() -> PathBuf {
    let library = std::env::var("SPARKORT_ORT_LIBRARY").expect("SPARKORT_ORT_LIBRARY names libonnxruntime.so");
    sparkort::runtime::init(Path::new(&library)).expect("ONNX Runtime loads");
    PathBuf::from(std::env::var("SPARKORT_TEST_MODELS").expect("SPARKORT_TEST_MODELS names ci/models.py's output"))
}

pub fn case_json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(models().join(format!("{name}.json"))).expect("case")).expect("JSON")
}

/// A fresh folder for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sparkort-{test}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// A copy of case `name`'s model in `dir` (external data files too) whose bytes differ from the
/// original and from other tags: a ModelProto field no ONNX version uses (99), which readers skip.
pub fn variant(name: &str, tag: u8, dir: &Path) -> PathBuf {
    let source = models().join(format!("{name}.onnx"));
    let mut bytes = std::fs::read(&source).expect("model");
    bytes.extend_from_slice(&[0x98, 0x06, tag]); // field 99, varint, value `tag`
    let target = dir.join(format!("{name}-{tag}.onnx"));
    std::fs::write(&target, &bytes).expect("write variant");
    for location in sparkort::onnx_proto::external_data_files(&bytes).expect("decodes") {
        let to = dir.join(&location);
        std::fs::create_dir_all(to.parent().expect("folder")).expect("data folder");
        std::fs::copy(models().join(&location), to).expect("copy external data");
    }
    target
}

/// Scores the case's float32 inputs (one per model input) and returns the first output's values.
pub fn score(model: &Model, json: &Value) -> Vec<f32> {
    let rows = json["rows"].as_u64().expect("rows") as usize;
    let columns: Vec<(String, Vec<f32>)> = json["inputs"]
        .as_object()
        .expect("inputs")
        .iter()
        .map(|(name, spec)| {
            let values =
                spec["values"].as_array().expect("rows").iter().flat_map(|r| r.as_array().expect("row").clone());
            (name.clone(), values.map(|v| v.as_f64().expect("number") as f32).collect())
        })
        .collect();
    let buffers: Vec<InputBuffers> = columns
        .iter()
        .map(|(name, values)| InputBuffers {
            input: name.clone(),
            column: format!("col_{name}"),
            element_type: ElementType::Float32,
            shape: vec![rows as i64, (values.len() / rows) as i64],
            data_address: values.as_ptr() as i64,
            data_length: std::mem::size_of_val(&values[..]) as i64,
            offsets_address: 0,
            offsets_length: 0,
        })
        .collect();
    // SAFETY: `columns` owns the memory and outlives the imported arrays.
    let imported: Vec<_> = buffers.iter().map(|b| unsafe { exchange::import(b) }.expect("import")).collect();
    let output = json["expected"].as_object().expect("expected").keys().next().expect("an output").clone();
    let outputs = model.run(&imported, &[output]).expect("run");
    let (address, bytes) = outputs[0].buffers()[0];
    // SAFETY: `outputs` keeps the tensor alive and `bytes` is its length.
    unsafe { std::slice::from_raw_parts(address.cast::<f32>(), bytes / 4) }.to_vec()
}

/// Asserts `got` matches the case's first expected output within 1e-5 (relative + absolute).
pub fn assert_like_onnxruntime_python(got: &[f32], json: &Value) {
    let (name, expected) = json["expected"].as_object().expect("expected").iter().next().expect("an output");
    let want: Vec<f64> = expected["values"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|r| r.as_array().expect("row").iter().map(|v| v.as_f64().expect("number")).collect::<Vec<_>>())
        .collect();
    assert_eq!(got.len(), want.len(), "output {name} length");
    for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert!((f64::from(g) - w).abs() <= 1e-5 * (1.0 + w.abs()), "{name}[{i}]: got {g}, ONNX Runtime Python {w}");
    }
}

/// OS threads of this process named `name`.
pub fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}
