//! The native library against the real ONNX Runtime: models and expected outputs come from
//! ci/models.py (ONNX Runtime's Python API). `ci/test` sets SPARKORT_ORT_LIBRARY and SPARKORT_TEST_MODELS.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sparkort::exchange::{self, ImportedInput, InputBuffers};
use sparkort::model_node::{self, Model, ModelOptions};
use sparkort::tensor::{ElementType, OutputKind};
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

/// Row-major values of a case's input in the layout the JVM hands over (`ElementType::input_wire`).
enum Column {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    /// i32 offsets and UTF-8 bytes.
    Str(Vec<i32>, Vec<u8>),
}

fn raw<T>(v: &[T]) -> (i64, i64) {
    (v.as_ptr() as i64, std::mem::size_of_val(v) as i64)
}

impl Column {
    fn of(values: &Value, element_type: ElementType) -> Self {
        let flat: Vec<&Value> =
            values.as_array().expect("rows").iter().flat_map(|r| r.as_array().expect("row")).collect();
        let f = || flat.iter().map(|v| v.as_f64().expect("number"));
        let i = || flat.iter().map(|v| v.as_i64().or_else(|| v.as_bool().map(i64::from)).expect("integer"));
        match element_type {
            ElementType::Float64 => Column::F64(f().collect()),
            ElementType::Float32 | ElementType::Float16 | ElementType::Bfloat16 => {
                Column::F32(f().map(|v| v as f32).collect())
            }
            ElementType::Int8 => Column::I8(i().map(|v| v as i8).collect()),
            ElementType::Int16 => Column::I16(i().map(|v| v as i16).collect()),
            ElementType::Int32 => Column::I32(i().map(|v| v as i32).collect()),
            ElementType::Int64 => Column::I64(i().collect()),
            ElementType::Uint8 | ElementType::Bool => Column::U8(i().map(|v| v as u8).collect()),
            ElementType::Uint16 => Column::U16(i().map(|v| v as u16).collect()),
            ElementType::Uint32 => Column::U32(i().map(|v| v as u32).collect()),
            ElementType::Uint64 => Column::U64(flat.iter().map(|v| v.as_u64().expect("u64")).collect()),
            ElementType::String => {
                let mut offsets = vec![0i32];
                let mut bytes = Vec::new();
                for v in &flat {
                    bytes.extend_from_slice(v.as_str().expect("string").as_bytes());
                    offsets.push(bytes.len() as i32);
                }
                Column::Str(offsets, bytes)
            }
        }
    }

    fn buffers(&self, input: &str, shape: Vec<i64>, element_type: ElementType) -> InputBuffers {
        let ((data_address, data_length), (offsets_address, offsets_length)) = match self {
            Column::F32(v) => (raw(v), (0, 0)),
            Column::F64(v) => (raw(v), (0, 0)),
            Column::I8(v) => (raw(v), (0, 0)),
            Column::I16(v) => (raw(v), (0, 0)),
            Column::I32(v) => (raw(v), (0, 0)),
            Column::I64(v) => (raw(v), (0, 0)),
            Column::U8(v) => (raw(v), (0, 0)),
            Column::U16(v) => (raw(v), (0, 0)),
            Column::U32(v) => (raw(v), (0, 0)),
            Column::U64(v) => (raw(v), (0, 0)),
            Column::Str(offsets, bytes) => (raw(bytes), raw(offsets)),
        };
        InputBuffers {
            input: input.into(),
            column: format!("col_{input}"),
            element_type,
            shape,
            data_address,
            data_length,
            offsets_address,
            offsets_length,
        }
    }
}

fn element_type(model: &Model, input: &str) -> ElementType {
    let info = model.signature().input(input).expect("input in signature");
    ElementType::from_name(&info.element_type).expect("exchangeable type")
}

/// The `n` values of a fixed-width or string output buffer set, as JSON values for comparison.
fn read_values(element_type: ElementType, buffers: &[(*const u8, usize)], first: usize, n: usize) -> Vec<Value> {
    macro_rules! slice {
        ($t:ty, $b:expr) => {{
            let (address, bytes) = $b;
            // SAFETY: the output keeps its buffers alive and `bytes` is their length.
            unsafe { std::slice::from_raw_parts(address.cast::<$t>(), bytes / std::mem::size_of::<$t>()) }
        }};
    }
    let range = first..first + n;
    match element_type {
        ElementType::Float32 => slice!(f32, buffers[0])[range].iter().map(|&v| Value::from(v as f64)).collect(),
        ElementType::Float64 => slice!(f64, buffers[0])[range].iter().map(|&v| Value::from(v)).collect(),
        ElementType::Int8 => slice!(i8, buffers[0])[range].iter().map(|&v| Value::from(v)).collect(),
        ElementType::Int16 => slice!(i16, buffers[0])[range].iter().map(|&v| Value::from(v)).collect(),
        ElementType::Int32 => slice!(i32, buffers[0])[range].iter().map(|&v| Value::from(v)).collect(),
        ElementType::Int64 => slice!(i64, buffers[0])[range].iter().map(|&v| Value::from(v)).collect(),
        ElementType::Bool => slice!(u8, buffers[0])[range].iter().map(|&v| Value::from(v == 1)).collect(),
        ElementType::String => {
            let offsets = slice!(i32, buffers[0]);
            let bytes = slice!(u8, buffers[1]);
            range
                .map(|i| {
                    let s = &bytes[offsets[i] as usize..offsets[i + 1] as usize];
                    Value::from(std::str::from_utf8(s).expect("UTF-8"))
                })
                .collect()
        }
        other => panic!("{other:?} is not an output wire type"),
    }
}

fn assert_same(got: &Value, want: &Value, tolerance: f64, what: &str) {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) if want.is_f64() => {
            assert!((g - w).abs() <= tolerance * (1.0 + w.abs()), "{what}: got {g}, ONNX Runtime Python {w}")
        }
        _ => assert_eq!(got, want, "{what}: sparkort vs ONNX Runtime Python"),
    }
}

/// Scores every input of `json` (one run for a batched case, one per row otherwise) and checks
/// every expected output: floats within `tolerance` (relative + absolute), everything else exactly.
fn assert_scores_like_onnxruntime_python(model: &Model, json: &Value, tolerance: f64) {
    let rows = json["rows"].as_u64().expect("rows") as usize;
    let batched = json["batched"].as_bool().unwrap_or(true);
    let runs = if batched { vec![(0, rows)] } else { (0..rows).map(|r| (r, 1)).collect() };
    for (first_row, count) in runs {
        let inputs: Vec<(String, ElementType, Vec<i64>, Column)> = json["inputs"]
            .as_object()
            .expect("inputs")
            .iter()
            .map(|(name, spec)| {
                let ty = element_type(model, name);
                let rows_json =
                    Value::from(spec["values"].as_array().expect("rows")[first_row..first_row + count].to_vec());
                let per_row: Vec<i64> =
                    spec["shape"].as_array().expect("shape").iter().map(|d| d.as_i64().expect("dim")).collect();
                let shape = if batched { std::iter::once(count as i64).chain(per_row).collect() } else { per_row };
                (name.clone(), ty, shape, Column::of(&rows_json, ty))
            })
            .collect();
        let buffers: Vec<InputBuffers> =
            inputs.iter().map(|(n, ty, shape, c)| c.buffers(n, shape.clone(), *ty)).collect();
        // SAFETY: `inputs` owns the memory and outlives `imported`.
        let imported: Vec<ImportedInput> =
            buffers.iter().map(|b| unsafe { exchange::import(b) }.expect("import")).collect();
        let expected = json["expected"].as_object().expect("expected");
        let fetch: Vec<String> = expected.keys().cloned().collect();
        let outputs = model.run(&imported, &fetch).expect("run");
        for (output, name) in outputs.iter().zip(&fetch) {
            let want_rows = &expected[name]["values"].as_array().expect("rows")[first_row..first_row + count];
            if expected[name]["dtype"] == "map" {
                assert_eq!(output.kind, OutputKind::Maps, "{name}");
                assert_eq!(output.shape, vec![count as i64], "{name}: one map per row");
                let key_type = output.key_type.expect("maps have keys");
                let offsets = read_values(ElementType::Int32, output.buffers(), 0, count + 1);
                let key_buffers = if key_type == ElementType::String { 2 } else { 1 };
                for (r, want) in want_rows.iter().enumerate() {
                    let (start, end) =
                        (offsets[r].as_u64().unwrap() as usize, offsets[r + 1].as_u64().unwrap() as usize);
                    let keys = read_values(key_type, &output.buffers()[1..], start, end - start);
                    let values =
                        read_values(output.element_type, &output.buffers()[1 + key_buffers..], start, end - start);
                    let want = want.as_array().expect("pairs");
                    assert_eq!(keys.len(), want.len(), "{name} row {r} entries");
                    for ((k, v), pair) in keys.iter().zip(&values).zip(want) {
                        assert_eq!(k, &pair[0], "{name} row {r} keys in ONNX Runtime's order");
                        assert_same(v, &pair[1], tolerance, &format!("{name} row {r}[{k}]"));
                    }
                }
                continue;
            }
            let per_row = if batched {
                assert_eq!(output.shape[0], count as i64, "output {name} has one row per input row");
                output.shape[1..].iter().product::<i64>() as usize
            } else {
                output.shape.iter().product::<i64>() as usize
            };
            let got = read_values(output.element_type, output.buffers(), 0, count * per_row);
            let want: Vec<&Value> = want_rows.iter().flat_map(|r| r.as_array().expect("row")).collect();
            assert_eq!(got.len(), want.len(), "output {name} length");
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert_same(g, w, tolerance, &format!("output {name}[{i}]"));
            }
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
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("mlp_inner.json")).expect("case")).expect("case JSON");
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
    assert_eq!(model_node::describe(path, &inner).expect("describe").outputs.len(), 3);
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
