//! Helpers for the native tests: models from ci/models.py, scoring a case's rows and checking them
//! against ONNX Runtime Python's outputs, copies of them that differ only in
//! content (so each test has its own entry in the process-wide registry), and scoring a case.

#![allow(clippy::expect_used, clippy::unwrap_used, dead_code)] // test helpers: a failed expectation is a failed test

use std::path::{Path, PathBuf};

use serde_json::Value;
use sparkort::exchange::{self, ImportedInput, InputBuffers};
use sparkort::model_node::{Model, ModelOptions};
use sparkort::tensor::{ElementType, Output, OutputKind};

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

/// Row-major values of a case's input in the layout the JVM hands over (`ElementType::input_wire`).
pub enum Column {
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

pub fn raw<T>(v: &[T]) -> (i64, i64) {
    (v.as_ptr() as i64, std::mem::size_of_val(v) as i64)
}

impl Column {
    pub fn of(values: &Value, element_type: ElementType) -> Self {
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

    pub fn buffers(&self, input: &str, shape: Vec<i64>, element_type: ElementType) -> InputBuffers {
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

pub fn element_type(model: &Model, input: &str) -> ElementType {
    let info = model.signature().input(input).expect("input in signature");
    ElementType::from_name(&info.element_type).expect("exchangeable type")
}

/// The `n` values of a fixed-width or string output buffer set, as JSON values for comparison.
pub fn read_values(element_type: ElementType, buffers: &[(*const u8, usize)], first: usize, n: usize) -> Vec<Value> {
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

pub fn assert_same(got: &Value, want: &Value, tolerance: f64, what: &str) {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) if want.is_f64() => {
            assert!((g - w).abs() <= tolerance * (1.0 + w.abs()), "{what}: got {g}, ONNX Runtime Python {w}")
        }
        _ => assert_eq!(got, want, "{what}: sparkort vs ONNX Runtime Python"),
    }
}

/// Runs rows `first_row..first_row + count` of the case (stacked when `batched`, else one row),
/// fetching `fetch`.
pub fn run_rows(model: &Model, json: &Value, first_row: usize, count: usize, fetch: &[String]) -> Vec<Output> {
    let batched = json["batched"].as_bool().unwrap_or(true);
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
    let buffers: Vec<InputBuffers> = inputs.iter().map(|(n, ty, shape, c)| c.buffers(n, shape.clone(), *ty)).collect();
    // SAFETY: `inputs` owns the memory and outlives `imported`.
    let imported: Vec<ImportedInput> =
        buffers.iter().map(|b| unsafe { exchange::import(b) }.expect("import")).collect();
    model.run(&imported, fetch).expect("run")
}

/// The values of the case's first expected output, scored in one run.
pub fn score(model: &Model, json: &Value) -> Vec<Value> {
    let rows = json["rows"].as_u64().expect("rows") as usize;
    let first = json["expected"].as_object().expect("expected").keys().next().expect("an output").clone();
    let output = &run_rows(model, json, 0, rows, &[first])[0];
    let n = output.shape.iter().product::<i64>() as usize;
    read_values(output.element_type, output.buffers(), 0, n)
}

/// Scores every input of `json` (one run for a batched case, one per row otherwise) and checks
/// every expected output: floats within `tolerance` (relative + absolute), everything else exactly.
pub fn assert_scores_like_onnxruntime_python(model: &Model, json: &Value, tolerance: f64) {
    let rows = json["rows"].as_u64().expect("rows") as usize;
    let batched = json["batched"].as_bool().unwrap_or(true);
    let runs = if batched { vec![(0, rows)] } else { (0..rows).map(|r| (r, 1)).collect() };
    for (first_row, count) in runs {
        let expected = json["expected"].as_object().expect("expected");
        let fetch: Vec<String> = expected.keys().cloned().collect();
        let outputs = run_rows(model, json, first_row, count, &fetch);
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

/// OS threads of this process named `name`.
pub fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}
