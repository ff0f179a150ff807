//! The registry of open models, by content key ([`ContentKey`]: the JVM's, or hashed here for a model
//! opened by path alone), options and exposed outputs. A model stays open after its last task ends,
//! so the next job finds it; it is closed only to make room under the memory budget, and only while
//! no handle holds it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use once_cell::sync::{Lazy, OnceCell};

use super::cut::cut;
use super::identity::{identify, named_identity, read, ContentKey, ModelIdentity, NamedContent};
use super::model::Model;
use super::{lock, ModelOptions};
use crate::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ModelKey {
    content: ContentKey,
    options: ModelOptions,
    /// Tensors inside the graph exposed as extra outputs: the model cut to fetch them is another model.
    outputs: Vec<String>,
}

struct Registry {
    models: HashMap<ModelKey, Slot>,
    loads: HashMap<ContentKey, u64>,
    clock: u64,
    memory_budget: u64,
}

struct Slot {
    // Loading happens in the cell, outside the registry lock: a task opening another model, or
    // this one already loaded, does not wait for a load; tasks opening this one wait for it once.
    cell: Arc<OnceCell<Arc<Model>>>,
    last_used: u64,
}

impl Slot {
    /// What the slot's model counts for against the budget: its files' bytes once loaded, else 0.
    fn disk_bytes(&self) -> u64 {
        self.cell.get().map_or(0, |m| m.disk_bytes())
    }
}

static REGISTRY: Lazy<Mutex<Registry>> = Lazy::new(|| {
    Mutex::new(Registry { models: HashMap::new(), loads: HashMap::new(), clock: 0, memory_budget: u64::MAX })
});

/// A model handed to a caller by [`open`], and whether this call is the one that loaded it.
pub struct Opened {
    pub model: Arc<Model>,
    /// The load time when this call loaded the model; `None` when it was open already.
    pub loaded_nanos: Option<u64>,
}

/// Opens the model at `path` with its own outputs; see [`open_with_outputs`].
pub fn open(path: &str, options: ModelOptions) -> Result<Opened> {
    open_with_outputs(path, options, &[])
}

/// Opens the model at `path`, with the tensors named in `outputs` (computed inside its graph) exposed
/// as extra outputs, or returns the one already open with the same content, options and outputs.
/// The content key is hashed here (see [`ContentKey`]: for a model without external data it is the
/// JVM's, the .onnx file's SHA-256), and hashed again only when one of the files changes. The JVM
/// opens the models it names with [`open_named`].
pub fn open_with_outputs(path: &str, options: ModelOptions, outputs: &[String]) -> Result<Opened> {
    check_options(options)?;
    let (identity, bytes) = identify(Path::new(path))?;
    let key = ModelKey { content: identity.content, options, outputs: outputs.to_vec() };
    open_keyed(path, key, || Ok((identity, bytes)))
}

/// Opens the model the JVM names `named`, whose files are at `path`, with `outputs` exposed as
/// [`open_with_outputs`] does, or returns the one already open with the same key, options and
/// outputs (from whatever path it was loaded). The files are read only to load the model, and then
/// the .onnx bytes must have the SHA-256 `named` gives.
pub fn open_named(path: &str, named: &NamedContent, options: ModelOptions, outputs: &[String]) -> Result<Opened> {
    check_options(options)?;
    let key = ModelKey { content: named.key, options, outputs: outputs.to_vec() };
    open_keyed(path, key, || named_identity(Path::new(path), named).map(|(identity, bytes)| (identity, Some(bytes))))
}

fn check_options(options: ModelOptions) -> Result<()> {
    if options.max_sessions == 0 || options.intra_threads == 0 {
        return Err(Error::InvalidArgument(format!("sessions and threads must be positive, got {options:?}")));
    }
    Ok(())
}

/// The model open under `key`, or loaded from `path` now: `identity` gives its identity (which must
/// have `key`'s content) and, when it read them, the .onnx file's bytes.
fn open_keyed(
    path: &str,
    key: ModelKey,
    identity: impl FnOnce() -> Result<(ModelIdentity, Option<Vec<u8>>)>,
) -> Result<Opened> {
    let cell = {
        let mut registry = lock(&REGISTRY);
        registry.clock += 1;
        let now = registry.clock;
        let slot = registry
            .models
            .entry(key.clone())
            .or_insert_with(|| Slot { cell: Arc::new(OnceCell::new()), last_used: now });
        slot.last_used = now;
        Arc::clone(&slot.cell)
    };
    let mut loaded_nanos = None;
    let result = cell.get_or_try_init(|| {
        let (identity, bytes) = identity()?;
        debug_assert_eq!(identity.content, key.content);
        drop(make_room(&key, identity.disk_bytes));
        let started = Instant::now();
        let bytes = match bytes {
            Some(bytes) => bytes,
            None => read(Path::new(path))?,
        };
        let model = Model::load(path, cut(path, bytes, &key.outputs)?, &identity, key.options, started)?;
        loaded_nanos = Some(model.load_nanos());
        *lock(&REGISTRY).loads.entry(key.content).or_insert(0) += 1;
        Ok(Arc::new(model))
    });
    match result {
        Ok(model) => Ok(Opened { model: Arc::clone(model), loaded_nanos }),
        Err(e) => {
            // Forget the failed slot, so the next task tries again rather than finding it empty.
            let mut registry = lock(&REGISTRY);
            if registry.models.get(&key).is_some_and(|s| Arc::ptr_eq(&s.cell, &cell) && s.cell.get().is_none()) {
                registry.models.remove(&key);
            }
            Err(e)
        }
    }
}

/// Sets the memory budget: models open in this process, counted by their size on disk, are
/// closed least recently used first, when no task holds them, to load another within it.
pub fn set_memory_budget(bytes: u64) {
    lock(&REGISTRY).memory_budget = bytes;
}

/// Models open in this process.
pub fn open_models() -> usize {
    lock(&REGISTRY).models.values().filter(|s| s.cell.get().is_some()).count()
}

/// Times this content has been loaded in this process, with any options.
pub(super) fn loads(content: &ContentKey) -> u64 {
    lock(&REGISTRY).loads.get(content).copied().unwrap_or(0)
}

/// Closes idle models, least recently used first, until `incoming` more bytes fit in the budget.
/// Returns the closed models, to be dropped by the caller after the registry lock is released.
fn make_room(incoming: &ModelKey, incoming_bytes: u64) -> Vec<Slot> {
    let mut registry = lock(&REGISTRY);
    let budget = registry.memory_budget;
    let mut held: u64 = registry.models.iter().filter(|(k, _)| *k != incoming).map(|(_, s)| s.disk_bytes()).sum();
    let mut closed = Vec::new();
    while held.saturating_add(incoming_bytes) > budget {
        // Idle: loaded, no handle held by a task (the registry's reference is the only one), and
        // nobody between looking it up and taking a handle (the cell is held only by the registry).
        let idle = registry
            .models
            .iter()
            .filter(|(k, s)| {
                *k != incoming
                    && Arc::strong_count(&s.cell) == 1
                    && s.cell.get().is_some_and(|m| Arc::strong_count(m) == 1)
            })
            .min_by_key(|(_, s)| s.last_used)
            .map(|(k, _)| k.clone());
        let Some(key) = idle else {
            log::warn!(
                "models in use hold {held} bytes; loading {incoming_bytes} more goes past spark.sparkort.modelMemory ({budget})"
            );
            break;
        };
        if let Some(slot) = registry.models.remove(&key) {
            log::info!("closed an idle model of {} bytes to make room for {incoming_bytes}", slot.disk_bytes());
            held -= slot.disk_bytes();
            closed.push(slot);
        }
    }
    closed
}
