//! The thread budget as the OS sees it: a model's sessions start `sessions x (intra_threads - 1)`
//! ONNX Runtime threads, all named, and none with one intra-op thread. Its own test binary, since
//! it counts the process's threads.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

mod common;

use common::{case_json, score, scratch, threads_named, variant};
use sha2::{Digest, Sha256};
use sparkort::model_node::{self, ModelOptions};
use sparkort::runtime;

fn all_threads() -> usize {
    std::fs::read_dir("/proc/self/task").expect("/proc/self/task").count()
}

#[test]
fn sessions_times_threads_is_what_the_process_runs() {
    let dir = scratch("threads");
    let json = case_json("mlp");

    let before = all_threads();
    let single = model_node::open(
        variant("mlp", 1, &dir).to_str().expect("path"),
        ModelOptions { max_sessions: 2, intra_threads: 1 },
    )
    .expect("open")
    .model;
    score(&single, &json);
    assert_eq!(all_threads(), before, "one intra-op thread runs on the caller and starts no thread at all");

    let pooled_path = variant("mlp", 2, &dir);
    let pooled =
        model_node::open(pooled_path.to_str().expect("path"), ModelOptions { max_sessions: 2, intra_threads: 3 })
            .expect("open")
            .model;
    score(&pooled, &json);
    let bytes = std::fs::read(&pooled_path).expect("model");
    let name = runtime::thread_name(&Sha256::digest(&bytes));
    assert_eq!(name.len(), 15, "what Linux keeps of a thread name");
    assert_eq!(threads_named(&name), 4, "every ONNX Runtime thread carries its model's name");
    assert_eq!(all_threads(), before + 4, "2 sessions x (3 - 1) pool threads, callers being the third, and no other");
}
