//! Models open in this process ("model nodes"), one room per concern:
//!
//! - `registry`: the open models by content key and options, loaded once, evicted least recently
//!   used first to stay within the memory budget.
//! - `identity`: a model's content key: the JVM's (`ModelSource.key`), checked against the .onnx
//!   bytes when loaded, or for a model opened by path alone hashed here from its files' bytes and
//!   stamps, and hashed again only when a stamp changes.
//! - `cut`: a model's graph with inner tensors exposed as extra outputs.
//! - `signature`: reading a model's inputs and outputs, from a session or from the .onnx file alone.
//! - `session`: building one ONNX Runtime session on a model's shared weights.
//! - `model`: a loaded model: its weights, its pool of sessions, and running a batch on it.
//! - `pool`: the sessions of one model, each leased to one batch at a time.
//! - `checks`: whether a batch's inputs fit the model's signature, in words naming the column.

mod checks;
mod cut;
mod identity;
mod model;
mod pool;
mod registry;
mod session;
mod signature;

use std::sync::{Mutex, MutexGuard};

pub use identity::{external_data_files, NamedContent};
pub use model::{Model, ModelStats};
pub use registry::{open, open_models, open_named, open_with_outputs, set_memory_budget, Opened};
pub use signature::read_signature;

/// How a model's sessions are run: both are part of the cache key, since a model opened with other
/// options is a different set of sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModelOptions {
    /// Most sessions (concurrent runs) this process keeps for the model.
    pub max_sessions: usize,
    /// ONNX Runtime intra-op threads per session.
    pub intra_threads: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held, so a poisoned lock still guards consistent state.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
