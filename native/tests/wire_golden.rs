//! The golden examples of every JNI wire format (`native/tests/wire-golden.json`), against this
//! library's side of each (`sparkort::jni::wire`); `NativeWireGoldenTest` holds the JVM's side
//! (`NativeWire.java`) against the same file. Each case is named values and the wire they travel
//! as: what this library writes must encode to the wire, what it reads must decode from it.
//!
//! The examples are defined here. After a deliberate format change (made in `wire.rs` and in
//! `NativeWire.java`), write the file again with
//! `SPARKORT_WIRE_REGENERATE=1 cargo test --test wire_golden`, and review its diff.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

use std::path::PathBuf;

use log::Level;
use serde_json::{json, Value};
use sparkort::exchange::InputBuffers;
use sparkort::jni::wire::{
    self, FeedRecord, InputRecord, ModelFile, OpenReport, OutputRecord, PredictionRecord, ReservedArray, RowLayout,
    RunRecord, RunRequest, StatsRecord,
};
use sparkort::model_node::NamedContent;
use sparkort::signature::{Signature, TensorInfo, TensorKind};
use sparkort::tensor::ElementType;
use sparkort::unsafe_rows::{ArrayFeed, Prediction};

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wire-golden.json")
}

fn model_files() -> Vec<ModelFile> {
    let mut key = [0u8; 32];
    let mut onnx_sha256 = [0u8; 32];
    for i in 0..32 {
        key[i] = (7 * i + 1) as u8;
        onnx_sha256[i] = (255 - 3 * i) as u8;
    }
    vec![
        ModelFile { path: "/cache/v2/key/model/model.onnx".into(), named: Some(NamedContent { key, onnx_sha256 }) },
        ModelFile { path: "/models/mlp.onnx".into(), named: None },
    ]
}

fn open_reports() -> Vec<OpenReport> {
    vec![OpenReport { load_nanos: 812_345_678 }, OpenReport { load_nanos: 0 }]
}

fn stats() -> Vec<StatsRecord> {
    vec![StatsRecord {
        load_nanos: 812_345_678,
        sessions: 2,
        intra_threads: 4,
        weight_bytes: 1 << 20,
        peak_concurrent_runs: 3,
        loads: 5,
    }]
}

fn runs() -> Vec<RunRequest> {
    let input = |name: &str, column: &str, element_type, shape: Vec<i64>, buffers: [i64; 4]| InputBuffers {
        input: name.into(),
        column: column.into(),
        element_type,
        shape,
        data_address: buffers[0],
        data_length: buffers[1],
        offsets_address: buffers[2],
        offsets_length: buffers[3],
    };
    vec![RunRequest {
        inputs: vec![
            input("features", "f1, f2", ElementType::Float32, vec![4, 2], [4096, 32, 0, 0]),
            input("tag", "tag", ElementType::String, vec![4], [8192, 17, 12288, 20]),
            input("scale", "scale", ElementType::Float64, vec![], [16384, 8, 0, 0]),
        ],
        fetch: vec!["probabilities".into(), "label".into()],
    }]
}

fn row_layouts() -> Vec<(RowLayout, usize)> {
    vec![
        (
            RowLayout {
                input_bitset_bytes: 8,
                bitset_bytes: 8,
                input_fields: 3,
                moved: vec![1, 2],
                arrays: vec![ReservedArray { bytes: 0, elements: 0 }, ReservedArray { bytes: 32, elements: 3 }],
            },
            48,
        ),
        (
            RowLayout {
                input_bitset_bytes: 8,
                bitset_bytes: 16,
                input_fields: 63,
                moved: vec![62],
                arrays: vec![ReservedArray { bytes: 0, elements: 0 }, ReservedArray { bytes: 0, elements: 0 }],
            },
            24,
        ),
    ]
}

fn feeds() -> Vec<Vec<FeedRecord>> {
    let feed = |ordinal, elements, element_bytes, address, bytes| FeedRecord {
        feed: ArrayFeed { ordinal, elements, element_bytes },
        address,
        bytes,
    };
    vec![vec![feed(1, 4, 4, 4096, 256), feed(2, 3, 8, 8192, 192)]]
}

fn predictions() -> Vec<PredictionRecord> {
    let prediction = |ordinal, array_elements, value_bytes, boolean, address, bytes| PredictionRecord {
        prediction: Prediction { ordinal, array_elements, value_bytes, boolean },
        address,
        bytes,
    };
    vec![prediction(3, 0, 4, false, 16384, 16), prediction(4, 3, 1, true, 20480, 12), prediction(5, 0, 8, false, 0, 0)]
}

fn outputs() -> Vec<Vec<OutputRecord>> {
    let output = |kind, element_type, key_type, shape: &[i64], buffers: &[(i64, i64)]| OutputRecord {
        kind,
        element_type,
        key_type,
        shape: shape.to_vec(),
        buffers: buffers.to_vec(),
    };
    vec![vec![
        output(0, 1, -1, &[4, 3], &[(4096, 48)]),
        output(1, 1, 7, &[4], &[(8192, 20), (12288, 64), (16384, 32)]),
        output(0, 8, -1, &[2], &[(20480, 12), (24576, 10)]),
        output(0, 9, -1, &[], &[(28672, 1)]),
    ]]
}

fn signatures() -> Vec<Signature> {
    let info =
        |name: &str, kind: TensorKind, element_type: &str, key_type: Option<&str>, shape: &[i64], dims: &[&str]| {
            TensorInfo {
                name: name.into(),
                kind,
                element_type: element_type.into(),
                key_type: key_type.map(Into::into),
                shape: shape.to_vec(),
                dim_names: dims.iter().map(|d| d.to_string()).collect(),
            }
        };
    vec![Signature {
        inputs: vec![info("features", TensorKind::Tensor, "float32", None, &[-1, 2], &["N", ""])],
        outputs: vec![
            info("label", TensorKind::Tensor, "int64", None, &[-1], &["N"]),
            info("probabilities", TensorKind::Maps, "float32", Some("int64"), &[], &[]),
            info("state", TensorKind::Other, "sequence of tensor", None, &[], &[]),
        ],
    }]
}

fn file_lists() -> Vec<Vec<String>> {
    vec![vec!["weights.bin".into(), "data/more weights.bin".into()], vec![]]
}

fn logs() -> Vec<Vec<(Level, String)>> {
    vec![
        vec![
            (
                Level::Warn,
                "models in use hold 10 bytes; loading 20 more goes past spark.sparkort.modelMemory (16)".into(),
            ),
            (Level::Info, "closed an idle model of 10 bytes to make room for 20".into()),
            (Level::Error, "a message of two words".into()),
        ],
        vec![],
    ]
}

fn section(doc: &str, widths: Value, cases: Vec<Value>) -> Value {
    json!({ "doc": doc, "widths": widths, "cases": cases })
}

/// The file's content, from the examples above and this library's encoders.
fn golden() -> Value {
    let numbers = |w: &[i64]| json!(w);
    json!({
        "open_report": section(
            "openModel's report array: written by native code, read by the JVM",
            json!({ "WIDTH": OpenReport::WIDTH, "LOAD_NANOS": OpenReport::LOAD_NANOS }),
            open_reports().iter().map(|r| json!({ "load_nanos": r.load_nanos, "wire": numbers(&r.encode()) })).collect(),
        ),
        "model_stats": section(
            "modelStats: written by native code, read by the JVM",
            json!({
                "WIDTH": StatsRecord::WIDTH, "LOAD_NANOS": StatsRecord::LOAD_NANOS, "SESSIONS": StatsRecord::SESSIONS,
                "INTRA_THREADS": StatsRecord::INTRA_THREADS, "WEIGHT_BYTES": StatsRecord::WEIGHT_BYTES,
                "PEAK_CONCURRENT_RUNS": StatsRecord::PEAK_CONCURRENT_RUNS, "LOADS": StatsRecord::LOADS,
            }),
            stats().iter().map(|s| json!({
                "load_nanos": s.load_nanos, "sessions": s.sessions, "intra_threads": s.intra_threads,
                "weight_bytes": s.weight_bytes, "peak_concurrent_runs": s.peak_concurrent_runs, "loads": s.loads,
                "wire": numbers(&s.encode()),
            })).collect(),
        ),
        "model_file": section(
            "openModel's model: written by the JVM, read by native code",
            json!({ "WIDTH": ModelFile::WIDTH, "PATH": ModelFile::PATH, "KEY": ModelFile::KEY,
                    "ONNX_SHA256": ModelFile::ONNX_SHA256 }),
            model_files().iter().map(|f| {
                let w = f.encode();
                json!({ "path": f.path, "key": w[ModelFile::KEY], "onnx_sha256": w[ModelFile::ONNX_SHA256], "wire": w })
            }).collect(),
        ),
        "run": section(
            "run's record: written by the JVM, read by native code",
            json!({
                "RUN_INPUT_COUNT": RunRecord::INPUT_COUNT, "RUN_FETCH_COUNT": RunRecord::FETCH_COUNT,
                "RUN_HEADER": RunRecord::HEADER, "INPUT_ELEMENT_TYPE": InputRecord::ELEMENT_TYPE,
                "INPUT_RANK": InputRecord::RANK, "INPUT_HEADER": InputRecord::HEADER,
                "INPUT_DATA_ADDRESS": InputRecord::DATA_ADDRESS, "INPUT_DATA_BYTES": InputRecord::DATA_BYTES,
                "INPUT_OFFSETS_ADDRESS": InputRecord::OFFSETS_ADDRESS, "INPUT_OFFSETS_BYTES": InputRecord::OFFSETS_BYTES,
                "INPUT_BUFFERS_WIDTH": InputRecord::BUFFERS_WIDTH,
            }),
            runs().iter().map(|run| {
                let r = RunRecord::encode(run);
                json!({
                    "inputs": run.inputs.iter().map(|i| json!({
                        "name": i.input, "column": i.column, "element_type": i.element_type.onnx_code(),
                        "shape": i.shape, "data_address": i.data_address, "data_bytes": i.data_length,
                        "offsets_address": i.offsets_address, "offsets_bytes": i.offsets_length,
                    })).collect::<Vec<_>>(),
                    "fetch": run.fetch,
                    "wire": { "names": r.names, "inputs": r.inputs },
                })
            }).collect(),
        ),
        "row_layout": section(
            "layRows' layout: written by the JVM, read by native code; growth is rowGrowth's answer",
            json!({
                "INPUT_BITSET_BYTES": RowLayout::INPUT_BITSET_BYTES, "BITSET_BYTES": RowLayout::BITSET_BYTES,
                "INPUT_FIELDS": RowLayout::INPUT_FIELDS, "MOVED_COUNT": RowLayout::MOVED_COUNT,
                "ARRAY_WIDTH": RowLayout::ARRAY_WIDTH,
            }),
            row_layouts().iter().map(|(l, growth)| json!({
                "input_bitset_bytes": l.input_bitset_bytes, "bitset_bytes": l.bitset_bytes,
                "input_fields": l.input_fields, "moved": l.moved,
                "arrays": l.arrays.iter().map(|a| json!({ "bytes": a.bytes, "elements": a.elements })).collect::<Vec<_>>(),
                "growth": growth, "wire": numbers(&l.encode()),
            })).collect(),
        ),
        "feeds": section(
            "layRows' and gatherFeeds' feeds: written by the JVM, read by native code",
            json!({
                "WIDTH": FeedRecord::WIDTH, "ORDINAL": FeedRecord::ORDINAL, "ELEMENTS": FeedRecord::ELEMENTS,
                "ELEMENT_BYTES": FeedRecord::ELEMENT_BYTES, "ADDRESS": FeedRecord::ADDRESS, "BYTES": FeedRecord::BYTES,
            }),
            feeds().iter().map(|f| json!({
                "feeds": f.iter().map(|r| json!({
                    "ordinal": r.feed.ordinal, "elements": r.feed.elements, "element_bytes": r.feed.element_bytes,
                    "address": r.address, "bytes": r.bytes,
                })).collect::<Vec<_>>(),
                "wire": numbers(&FeedRecord::encode_all(f)),
            })).collect(),
        ),
        "prediction": section(
            "fillRows' prediction: written by the JVM, read by native code",
            json!({
                "WIDTH": PredictionRecord::WIDTH, "ORDINAL": PredictionRecord::ORDINAL,
                "ARRAY_ELEMENTS": PredictionRecord::ARRAY_ELEMENTS, "VALUE_BYTES": PredictionRecord::VALUE_BYTES,
                "BOOLEAN": PredictionRecord::BOOLEAN, "ADDRESS": PredictionRecord::ADDRESS,
                "BYTES": PredictionRecord::BYTES,
            }),
            predictions().iter().map(|r| json!({
                "ordinal": r.prediction.ordinal, "array_elements": r.prediction.array_elements,
                "value_bytes": r.prediction.value_bytes, "boolean": r.prediction.boolean,
                "address": r.address, "bytes": r.bytes, "wire": numbers(&r.encode()),
            })).collect(),
        ),
        "outputs": section(
            "resultOutputs: written by native code, read by the JVM",
            json!({
                "HEADER": OutputRecord::HEADER, "KIND": OutputRecord::KIND, "ELEMENT_TYPE": OutputRecord::ELEMENT_TYPE,
                "KEY_TYPE": OutputRecord::KEY_TYPE, "RANK": OutputRecord::RANK,
                "BUFFER_WIDTH": OutputRecord::BUFFER_WIDTH,
            }),
            outputs().iter().map(|o| json!({
                "outputs": o.iter().map(|r| json!({
                    "kind": r.kind, "element_type": r.element_type, "key_type": r.key_type, "shape": r.shape,
                    "buffers": r.buffers.iter().map(|&(a, b)| json!([a, b])).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "wire": numbers(&OutputRecord::encode_all(o)),
            })).collect(),
        ),
        "signature": section(
            "modelSignature: written by native code, read by the JVM",
            json!({}),
            signatures().iter().map(|s| {
                let tensors = |infos: &[TensorInfo]| infos.iter().map(|t| json!({
                    "name": t.name, "kind": t.kind.as_str(), "element_type": t.element_type, "key_type": t.key_type,
                    "shape": t.shape, "dim_names": t.dim_names,
                })).collect::<Vec<_>>();
                json!({ "inputs": tensors(&s.inputs), "outputs": tensors(&s.outputs), "wire": wire::signature_json(s) })
            }).collect(),
        ),
        "external_data_files": section(
            "externalDataFiles: written by native code, read by the JVM",
            json!({}),
            file_lists().iter().map(|f| json!({ "files": f, "wire": wire::file_list_json(f) })).collect(),
        ),
        "log": section(
            "drainLog: written by native code, read by the JVM",
            json!({}),
            logs().iter().map(|records| json!({
                "records": records.iter().map(|(l, m)| json!({ "level": l.as_str(), "message": m })).collect::<Vec<_>>(),
                "wire": wire::log_text(records),
            })).collect(),
        ),
    })
}

/// The file's text: a section a few lines, a case a line.
fn render(golden: &Value) -> String {
    let mut out = String::from("{\n");
    let sections = golden.as_object().unwrap();
    for (i, (name, section)) in sections.iter().enumerate() {
        out += &format!("  {}: {{\n", json!(name));
        out += &format!("    \"doc\": {},\n", section["doc"]);
        out += &format!("    \"widths\": {},\n", section["widths"]);
        out += "    \"cases\": [\n";
        let cases = section["cases"].as_array().unwrap();
        for (k, case) in cases.iter().enumerate() {
            out += &format!("      {}{}\n", case, if k + 1 < cases.len() { "," } else { "" });
        }
        out += &format!("    ]\n  }}{}\n", if i + 1 < sections.len() { "," } else { "" });
    }
    out + "}\n"
}

fn file() -> Value {
    let text = std::fs::read_to_string(golden_path()).expect("native/tests/wire-golden.json");
    serde_json::from_str(&text).expect("the golden file is JSON")
}

fn cases<'a>(file: &'a Value, section: &str) -> &'a Vec<Value> {
    file[section]["cases"].as_array().unwrap_or_else(|| panic!("section {section} has cases"))
}

fn longs(v: &Value) -> Vec<i64> {
    v.as_array().expect("an array").iter().map(|n| n.as_i64().expect("a long")).collect()
}

#[test]
fn the_golden_file_is_what_this_library_writes() {
    let golden = golden();
    if std::env::var_os("SPARKORT_WIRE_REGENERATE").is_some() {
        std::fs::write(golden_path(), render(&golden)).expect("write the golden file");
        eprintln!("wrote {}", golden_path().display());
        return;
    }
    let file = file();
    for (name, section) in golden.as_object().unwrap() {
        assert_eq!(section["widths"], file[name]["widths"], "{name}: the record's named offsets and width");
        let (built, kept) = (section["cases"].as_array().unwrap(), cases(&file, name));
        assert_eq!(built.len(), kept.len(), "{name}: cases");
        for (b, k) in built.iter().zip(kept) {
            assert_eq!(b, k, "{name}: a case as this library encodes it, against the golden file");
        }
    }
}

#[test]
fn what_the_jvm_writes_decodes_to_the_golden_values() {
    let file = file();
    let strings =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };
    for (case, expected) in cases(&file, "model_file").iter().zip(model_files()) {
        assert_eq!(ModelFile::decode(&strings(&case["wire"])).expect("model file decodes"), expected, "model file");
    }
    for (case, expected) in cases(&file, "run").iter().zip(runs()) {
        let w = &case["wire"];
        let decoded =
            RunRecord { names: strings(&w["names"]), inputs: longs(&w["inputs"]) }.decode().expect("run decodes");
        assert_eq!(format!("{decoded:?}"), format!("{expected:?}"), "run");
    }
    for (case, (expected, growth)) in cases(&file, "row_layout").iter().zip(row_layouts()) {
        let w = longs(&case["wire"]);
        assert_eq!(RowLayout::decode(&w).expect("layout decodes"), expected, "row layout");
        assert_eq!(RowLayout::layout(&w).expect("layout checks").growth(), growth, "row growth");
    }
    for (case, expected) in cases(&file, "feeds").iter().zip(feeds()) {
        assert_eq!(FeedRecord::decode_all(&longs(&case["wire"])).expect("feeds decode"), expected, "feeds");
    }
    for (case, expected) in cases(&file, "prediction").iter().zip(predictions()) {
        assert_eq!(PredictionRecord::decode(&longs(&case["wire"])).expect("prediction decodes"), expected);
    }
    // And what this library writes, read back as the JVM reads it.
    for (case, expected) in cases(&file, "open_report").iter().zip(open_reports()) {
        assert_eq!(OpenReport::decode(&longs(&case["wire"])).expect("report decodes"), expected);
    }
    for (case, expected) in cases(&file, "model_stats").iter().zip(stats()) {
        assert_eq!(StatsRecord::decode(&longs(&case["wire"])).expect("stats decode"), expected);
    }
    for (case, expected) in cases(&file, "outputs").iter().zip(outputs()) {
        assert_eq!(OutputRecord::decode_all(&longs(&case["wire"])).expect("outputs decode"), expected);
    }
}
