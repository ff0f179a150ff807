//! A model open in this process: its signature, its weights (shared by all its sessions) and a
//! pool of `max_sessions` sessions, all built at load.

use std::path::Path;
use std::time::Instant;

use super::checks::session_inputs;
use super::identity::{ContentKey, ModelIdentity};
use super::pool::SessionPool;
use super::session::new_session;
use super::signature::signature_of;
use super::{registry, ModelOptions};
use crate::exchange::ImportedInput;
use crate::signature::Signature;
use crate::tensor::Output;
use crate::weights::SharedWeights;
use crate::{runtime, Error, Result};

pub struct Model {
    path: String,
    content: ContentKey,
    options: ModelOptions,
    signature: Signature,
    weights: SharedWeights,
    load_nanos: u64,
    disk_bytes: u64,
    sessions: SessionPool,
}

/// How a model node is doing, for the JVM's metrics, logs and reservations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelStats {
    /// Time to read the model and build its weights and every session (all are built at load).
    pub load_nanos: u64,
    /// Sessions in the pool (all built at load), each running one batch at a time.
    pub sessions: usize,
    pub intra_threads: usize,
    /// Initializer bytes held once for all sessions.
    pub weight_bytes: u64,
    /// The model's files on disk (.onnx and external data): what it counts for against the memory budget.
    pub disk_bytes: u64,
    /// Most batches that ran at once.
    pub peak_concurrent_runs: usize,
    /// Times this content has been loaded in this process, with any options (more than once only
    /// after an eviction, or for several thread budgets).
    pub loads: u64,
}

impl Model {
    /// Reads the weights once and builds every session up front, one after another: a build holds
    /// ONNX Runtime's parse of the model and a pre-packed copy of its weights until it ends, so
    /// builds made later, while other sessions run, would add those to the running sessions' memory.
    pub(super) fn load(
        path: &str,
        bytes: Vec<u8>,
        identity: &ModelIdentity,
        options: ModelOptions,
        started: Instant,
    ) -> Result<Model> {
        let weights = SharedWeights::load(Path::new(path), &bytes)?;
        let threads = runtime::thread_name(&identity.onnx_sha256);
        let sessions = (0..options.max_sessions)
            .map(|_| new_session(path, &bytes, &threads, &weights, options))
            .collect::<Result<Vec<_>>>()?;
        let Some(signature) = sessions.first().map(signature_of) else {
            return Err(Error::InvalidArgument(format!("a model needs at least one session, got {options:?}")));
        };
        Ok(Model {
            path: path.into(),
            content: identity.content,
            options,
            signature,
            weights,
            load_nanos: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            disk_bytes: identity.disk_bytes,
            sessions: SessionPool::new(sessions),
        })
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    pub(super) fn load_nanos(&self) -> u64 {
        self.load_nanos
    }

    /// The model's files on disk (.onnx and external data): what it counts for against the memory budget.
    pub(super) fn disk_bytes(&self) -> u64 {
        self.disk_bytes
    }

    pub fn stats(&self) -> ModelStats {
        ModelStats {
            load_nanos: self.load_nanos,
            sessions: self.options.max_sessions,
            intra_threads: self.options.intra_threads,
            weight_bytes: self.weights.bytes(),
            disk_bytes: self.disk_bytes,
            peak_concurrent_runs: self.sessions.peak_busy(),
            loads: registry::loads(&self.content),
        }
    }

    /// Runs one batch: every model input must be fed exactly once, with the model's element type and
    /// a shape that agrees with its fixed dimensions. Returns the outputs named in `fetch`, in order.
    pub fn run(&self, inputs: &[ImportedInput], fetch: &[String]) -> Result<Vec<Output>> {
        let values = session_inputs(&self.signature, inputs)?;
        let mut session = self.sessions.lease();
        let mut outputs = session.get().run(values)?;
        fetch
            .iter()
            .map(|name| {
                let value = outputs
                    .remove(name)
                    .ok_or_else(|| Error::InvalidInput(format!("model {} has no output '{name}'", self.path)))?;
                Output::new(name.clone(), value)
            })
            .collect()
    }
}
