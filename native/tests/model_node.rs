//! The model node registry on the real ONNX Runtime: one load per content and options, weights
//! shared by every session, external data, and signatures read without the weights.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

mod common;

use std::sync::Arc;

use common::{assert_same, assert_scores_like_onnxruntime_python, case_json, models, score, scratch, variant, ONE};
use sha2::{Digest, Sha256};
use sparkort::model_node::{self, ModelOptions, NamedContent};
use sparkort::onnx_proto::{self, TensorData};
use sparkort::Error;

#[test]
fn concurrent_opens_load_a_model_once() {
    let dir = scratch("concurrent-opens");
    let path = variant("mlp", 1, &dir);
    let path = path.to_str().expect("path");
    let opened: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| model_node::open(path, ONE).expect("open"))).collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    assert_eq!(opened.iter().filter(|o| o.loaded_nanos.is_some()).count(), 1, "exactly one open loads");
    assert!(opened.iter().all(|o| Arc::ptr_eq(&o.model, &opened[0].model)), "all share one model");
    let again = model_node::open(path, ONE).expect("open again");
    assert!(again.loaded_nanos.is_none());
    let stats = again.model.stats();
    assert_eq!(stats.loads, 1);
    assert!(stats.load_nanos > 0);
    assert_eq!(stats.disk_bytes, std::fs::metadata(path).expect("file").len());
}

#[test]
fn sessions_share_one_copy_of_the_weights_and_score_alike() {
    let dir = scratch("shared-weights");
    let path = variant("mlp", 2, &dir);
    let json = case_json("mlp");
    let options = ModelOptions { max_sessions: 3, intra_threads: 1 };
    let model = model_node::open(path.to_str().expect("path"), options).expect("open").model;
    let stats = model.stats();
    assert_eq!(stats.sessions, 3);
    // mlp is 64 -> 256 -> 256 -> 10, float32: every weight and bias is held once.
    assert_eq!(stats.weight_bytes, 4 * (64 * 256 + 256 + 256 * 256 + 256 + 256 * 10 + 10));
    let outputs: Vec<Vec<serde_json::Value>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6).map(|_| s.spawn(|| score(&model, &json))).collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for output in &outputs {
        assert_eq!(output, &outputs[0], "every session computes the same bits");
    }
    let want: Vec<&serde_json::Value> = json["expected"]["probabilities"]["values"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|r| r.as_array().expect("row"))
        .collect();
    assert_eq!(outputs[0].len(), want.len());
    for (i, (got, want)) in outputs[0].iter().zip(want).enumerate() {
        assert_same(got, want, 1e-5, &format!("probabilities[{i}]"));
    }
}

#[test]
fn external_data_model_scores_like_onnxruntime_python() {
    let dir = models();
    let path = dir.join("external_mlp.onnx");
    let bytes = std::fs::read(&path).expect("model");
    let external = onnx_proto::initializers(&bytes)
        .expect("decodes")
        .iter()
        .filter(|i| matches!(i.data, TensorData::External { .. }))
        .count();
    assert!(external >= 3, "the case keeps its weights outside the .onnx");
    let json = case_json("external_mlp");
    let model = model_node::open(path.to_str().expect("path"), ONE).expect("open").model;
    assert_scores_like_onnxruntime_python(&model, &json, 1e-5);
    // A copy elsewhere reads its data from its own folder.
    let copy = variant("external_mlp", 3, &scratch("external-copy"));
    let model = model_node::open(copy.to_str().expect("path"), ONE).expect("open copy").model;
    assert_scores_like_onnxruntime_python(&model, &json, 1e-5);
}

#[test]
fn signature_is_read_without_the_external_data() {
    let full = model_node::open(models().join("external_mlp.onnx").to_str().expect("path"), ONE).expect("open").model;
    let alone = scratch("graph-alone").join("external_mlp.onnx");
    std::fs::copy(models().join("external_mlp.onnx"), &alone).expect("copy the .onnx only");
    let described = model_node::read_signature(alone.to_str().expect("path"), &[]).expect("describe without data");
    assert_eq!(&described, full.signature());
    let err = model_node::open(alone.to_str().expect("path"), ONE).err().expect("scoring needs the data");
    assert!(matches!(err, Error::ModelLoad { .. }), "{err:?}");
    assert!(err.to_string().contains("weights.bin"), "names the missing file: {err}");
}

#[test]
fn external_data_outside_the_model_folder_is_refused() {
    let dir = scratch("escape");
    let bytes = std::fs::read(models().join("external_mlp.onnx")).expect("model");
    // Same length, so every protobuf length around the location stays right.
    let (from, to) = (b"external_mlp_data/weights.bin", b"../external_mlp_data/weights.b");
    let at = bytes.windows(from.len()).position(|w| w == from).expect("the location is in the model");
    let mut escaping = bytes.clone();
    escaping[at..at + to.len()].copy_from_slice(to);
    let path = dir.join("escaping.onnx");
    std::fs::write(&path, escaping).expect("write");
    let err = model_node::open(path.to_str().expect("path"), ONE).err().expect("refused");
    assert!(matches!(err, Error::ModelLoad { .. }), "{err:?}");
    assert!(err.to_string().contains("inside the model's folder"), "{err}");
    // The driver lists the files to ship by the same rule.
    let err = model_node::external_data_files(path.to_str().expect("path")).expect_err("refused");
    assert!(matches!(err, Error::ModelLoad { .. }) && err.to_string().contains("inside the model's folder"), "{err}");
    // Describing reads no external data, so it has nothing to refuse.
    assert!(model_node::read_signature(path.to_str().expect("path"), &[]).is_ok());
}

#[test]
fn a_changed_file_is_another_model() {
    let dir = scratch("changed");
    let path = variant("mlp", 4, &dir);
    let first = model_node::open(path.to_str().expect("path"), ONE).expect("open").model;
    // Same length, other bytes, and a modification time set apart from the first one's.
    let other = variant("mlp", 5, &dir);
    std::fs::rename(&other, &path).expect("replace");
    let file = std::fs::File::options().write(true).open(&path).expect("open file");
    file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5)).expect("set mtime");
    let second = model_node::open(path.to_str().expect("path"), ONE).expect("open changed");
    assert!(second.loaded_nanos.is_some(), "the changed file is loaded");
    assert!(!Arc::ptr_eq(&first, &second.model));
}

#[test]
fn a_named_model_is_known_by_its_key_not_its_path() {
    let dir = scratch("named");
    let path = variant("mlp", 6, &dir);
    let onnx_sha256: [u8; 32] = Sha256::digest(std::fs::read(&path).expect("model")).into();
    let named = NamedContent { key: [0x61; 32], onnx_sha256 };
    let open = |path: &std::path::Path, named: &NamedContent| {
        model_node::open_named(path.to_str().expect("path"), named, ONE, &[])
    };
    let first = open(&path, &named).expect("open by key");
    assert!(first.loaded_nanos.is_some(), "the first open loads");
    // The same key from another path is the same model; its files are not read again, even when gone.
    let copy = dir.join("copy.onnx");
    std::fs::copy(&path, &copy).expect("copy");
    let again = open(&copy, &named).expect("open the copy by the same key");
    assert!(again.loaded_nanos.is_none() && Arc::ptr_eq(&first.model, &again.model), "one model per key");
    std::fs::remove_file(&copy).expect("remove the copy");
    assert!(Arc::ptr_eq(&first.model, &open(&copy, &named).expect("the key names what is open").model));
    assert_eq!(first.model.stats().loads, 1);
    // Another key for the same file is another model, and so is the file opened by path alone.
    let other = open(&path, &NamedContent { key: [0x62; 32], onnx_sha256 }).expect("another key");
    assert!(other.loaded_nanos.is_some() && !Arc::ptr_eq(&first.model, &other.model), "another key, another model");
    let hashed = model_node::open(path.to_str().expect("path"), ONE).expect("open by path");
    assert!(hashed.loaded_nanos.is_some() && !Arc::ptr_eq(&first.model, &hashed.model), "hashed here: its own key");
    // Without external data, the JVM's key is the .onnx file's SHA-256, and so is the key hashed here.
    let as_the_jvm_names_it = open(&path, &NamedContent { key: onnx_sha256, onnx_sha256 }).expect("the JVM's key");
    assert!(as_the_jvm_names_it.loaded_nanos.is_none() && Arc::ptr_eq(&hashed.model, &as_the_jvm_names_it.model));
    // A file that is not the one the key names is refused, every time: nothing is kept under the key.
    let wrong = NamedContent { key: [0x63; 32], onnx_sha256: [0; 32] };
    for _ in 0..2 {
        let err = open(&path, &wrong).err().expect("the SHA-256 differs");
        assert!(matches!(err, Error::ModelLoad { .. }), "{err:?}");
        assert!(err.to_string().contains(&"63".repeat(32)) && err.to_string().contains("SHA-256"), "{err}");
    }
}

#[test]
fn a_key_that_is_the_onnx_sha256_alone_names_no_external_data() {
    let path = variant("external_mlp", 7, &scratch("named-external"));
    let onnx_sha256: [u8; 32] = Sha256::digest(std::fs::read(&path).expect("model")).into();
    let path = path.to_str().expect("path");
    let err = model_node::open_named(path, &NamedContent { key: onnx_sha256, onnx_sha256 }, ONE, &[])
        .err()
        .expect("the key leaves out the external data");
    assert!(matches!(err, Error::ModelLoad { .. }) && err.to_string().contains("without external data"), "{err}");
    let named = NamedContent { key: [0x64; 32], onnx_sha256 };
    assert!(model_node::open_named(path, &named, ONE, &[]).expect("a key over the data too").loaded_nanos.is_some());
}

#[test]
fn sixteen_bit_float_weights_are_shared_too() {
    let json = case_json("half_weights");
    let model = model_node::open(models().join("half_weights.onnx").to_str().expect("path"), ONE).expect("open").model;
    assert_eq!(model.stats().weight_bytes, 2 * 64 * 2, "a float16 and a bfloat16 weight of 64 values");
    assert_scores_like_onnxruntime_python(&model, &json, 1e-5);
}

#[test]
fn hostile_model_files_are_load_errors_naming_the_cause() {
    let hostile = models().join("hostile");
    let cases = [
        ("huge_external", "needs 1099511627776 bytes, but huge.bin has 64 bytes"),
        ("huge_external_length", "needs 1099511627776 bytes, but huge.bin has 64 bytes"),
        ("offset_beyond", "starts at offset 4096 of w.bin, which has 64 bytes"),
        ("length_beyond", "needs 32 bytes, but w.bin has 16 bytes from offset 48"),
        ("offset_overflow", "starts at offset 18446744073709551608"),
        ("negative_dim", "invalid shape [-1, 8]"),
        ("overflowing_dims", "initializer 'wide'"),
        ("truncated_raw_data", "has 10 bytes of data, its shape [8, 1] needs 32"),
        ("corrupt_varint", "a varint is longer than 10 bytes"),
        ("unknown_operator", "NoSuchOperator"),
        ("typed_data_huge_shape", "declares 274877906944 elements, but has 1 values"),
    ];
    for (name, reason) in cases {
        let path = hostile.join(name).join("model.onnx");
        let path = path.to_str().expect("path");
        match model_node::open(path, ONE) {
            Err(e @ Error::ModelLoad { .. }) => {
                let message = e.to_string();
                assert!(message.contains(path) && message.contains(reason), "{name}: {message}");
            }
            Err(other) => panic!("{name}: expected a load error, got {other:?}"),
            Ok(_) => panic!("{name} must not load"),
        }
    }
}
