//! sparkort's native half: ONNX Runtime inference on Arrow buffers handed over by Spark executors.
//!
//! - `jni`: the JNI layer, the only code that touches the JVM: the `extern "system"` functions, the
//!   error policy, Java arrays and handles, and `jni::wire`, every format crossing the boundary.
//! - `error`: the one error enum and the Java exception class each variant becomes.
//! - `logging`: this library's log records, queued for the JVM's logger.
//! - `runtime`: the process-wide ONNX Runtime environment, loaded from an explicit library path.
//! - `model_node`: models open in this process, keyed by content key and options, each with a bounded pool of
//!   sessions: its registry, file identity, graph cutting, signature reading, session pool and input checks.
//! - `onnx_proto`: the few ONNX protobuf fields read and rewritten here (initializers, external data).
//! - `signature`: a model's inputs and outputs (the JSON the JVM reads is written in `jni::wire`).
//! - `tensor`: element types, and Arrow arrays <-> ONNX Runtime tensors.
//! - `exchange`: JVM buffers imported as validated Arrow arrays.
//! - `unsafe_rows`: a batch of Spark UnsafeRows in a JVM byte array: laid out, features copied out, predictions written in.
//! - `weights`: a model's initializers read once and shared by all its sessions.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod error;
pub mod exchange;
pub mod jni;
pub mod logging;
pub mod model_node;
pub mod onnx_proto;
pub mod runtime;
pub mod signature;
pub mod tensor;
pub mod unsafe_rows;
pub mod weights;

pub use error::{Error, Result};
