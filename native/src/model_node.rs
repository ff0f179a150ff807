use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use once_cell::sync::{Lazy, OnceCell};
use ort::session::{Session, SessionInputValue};
use ort::value::{Outlet, ValueType};
use sha2::{Digest, Sha256};

use crate::exchange::ImportedInput;
use crate::onnx_proto::{self, TensorData};
use crate::signature::{Signature, TensorInfo};
use crate::tensor::{self, ElementType, Output};
use crate::weights::{self, SharedWeights};
use crate::{runtime, Error, Result};

/// How a model's sessions are run: both are part of the cache key, since a model opened with other
/// options is a different set of sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModelOptions {
    /// Most sessions (concurrent runs) this process keeps for the model.
    pub max_sessions: usize,
    /// ONNX Runtime intra-op threads per session.
    pub intra_threads: usize,
}

type ContentKey = [u8; 32];

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ModelKey {
    content: ContentKey,
    options: ModelOptions,
    /// Tensors inside the graph exposed as extra outputs: the model cut to fetch them is another model.
    outputs: Vec<String>,
}

/// A model open in this process: its signature, its weights (shared by all its sessions) and a
/// pool of `max_sessions` sessions. `Session::run` needs `&mut`, so each session runs one batch at a
/// time; concurrent tasks take different sessions, and wait when all are busy.
pub struct Model {
    path: String,
    content: ContentKey,
    options: ModelOptions,
    signature: Signature,
    weights: SharedWeights,
    load_nanos: u64,
    disk_bytes: u64,
    pool: Mutex<Pool>,
    returned: Condvar,
}

struct Pool {
    idle: Vec<Session>,
    peak_busy: usize,
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

/// The registry of open models. A model stays open after its last task ends, so the next job finds
/// it; it is closed only to make room under the memory budget, and only while no handle holds it.
struct Registry {
    models: HashMap<ModelKey, Slot>,
    files: HashMap<PathBuf, Identified>,
    loads: HashMap<ContentKey, u64>,
    clock: u64,
    memory_budget: u64,
}

struct Slot {
    // Loading happens in the cell, outside the registry lock: a task opening another model, or
    // this one already loaded, does not wait for a load; tasks opening this one wait for it once.
    cell: Arc<OnceCell<Arc<Model>>>,
    last_used: u64,
    disk_bytes: u64,
}

/// A model file whose content key is known, with the stamps of the files it was computed from.
#[derive(Clone)]
struct Identified {
    stamps: Vec<(PathBuf, Stamp)>,
    content: ContentKey,
    /// SHA-256 of the .onnx file alone, which names the model's threads.
    onnx_sha256: [u8; 32],
    disk_bytes: u64,
}

/// What a file's metadata says of its content: length and modification time, and on Unix its
/// device, inode and change time, so a file rewritten in place (even with its length and
/// modification time set back) or replaced by another has another stamp.
type Stamp = (u64, Option<SystemTime>, [i64; 4]);

static REGISTRY: Lazy<Mutex<Registry>> = Lazy::new(|| {
    Mutex::new(Registry {
        models: HashMap::new(),
        files: HashMap::new(),
        loads: HashMap::new(),
        clock: 0,
        memory_budget: u64::MAX,
    })
});

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held, so a poisoned lock still guards consistent state.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

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
/// The content is the SHA-256 of the .onnx bytes and the length and modification time of each
/// external data file, so it is hashed again only when one of those files changes.
pub fn open_with_outputs(path: &str, options: ModelOptions, outputs: &[String]) -> Result<Opened> {
    if options.max_sessions == 0 || options.intra_threads == 0 {
        return Err(Error::InvalidArgument(format!("sessions and threads must be positive, got {options:?}")));
    }
    let (identified, bytes) = identify(Path::new(path))?;
    let key = ModelKey { content: identified.content, options, outputs: outputs.to_vec() };
    let cell = {
        let mut registry = lock(&REGISTRY);
        registry.clock += 1;
        let now = registry.clock;
        let slot = registry.models.entry(key.clone()).or_insert_with(|| Slot {
            cell: Arc::new(OnceCell::new()),
            last_used: now,
            disk_bytes: identified.disk_bytes,
        });
        slot.last_used = now;
        Arc::clone(&slot.cell)
    };
    let mut loaded_nanos = None;
    let result = cell.get_or_try_init(|| {
        drop(make_room(&key, identified.disk_bytes));
        let started = Instant::now();
        let bytes = match bytes {
            Some(bytes) => bytes,
            None => read(Path::new(path))?,
        };
        let model = Model::load(path, cut(path, bytes, outputs)?, &identified, options, started)?;
        loaded_nanos = Some(model.load_nanos);
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

/// Closes idle models, least recently used first, until `incoming` more bytes fit in the budget.
/// Returns the closed models, to be dropped by the caller after the registry lock is released.
fn make_room(incoming: &ModelKey, incoming_bytes: u64) -> Vec<Slot> {
    let mut registry = lock(&REGISTRY);
    let budget = registry.memory_budget;
    let mut held: u64 = registry
        .models
        .iter()
        .filter(|(k, s)| *k != incoming && s.cell.get().is_some())
        .map(|(_, s)| s.disk_bytes)
        .sum();
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
            log::info!("closed an idle model of {} bytes to make room for {incoming_bytes}", slot.disk_bytes);
            held -= slot.disk_bytes;
            closed.push(slot);
        }
    }
    closed
}

// Held while a model file is read to compute its content key: tasks opening a model together read
// it once (the others then find it known), rather than each holding a copy of its bytes.
static IDENTIFYING: Mutex<()> = Mutex::new(());

/// The content key of the model at `path`, from the registry's memory of its files when none has
/// changed; else computed, and then the bytes read for it are returned too.
fn identify(path: &Path) -> Result<(Identified, Option<Vec<u8>>)> {
    let known = || -> Option<Identified> {
        let known = lock(&REGISTRY).files.get(path).cloned()?;
        known.stamps.iter().all(|(file, stamp)| self::stamp(file).ok().as_ref() == Some(stamp)).then_some(known)
    };
    if let Some(known) = known() {
        return Ok((known, None));
    }
    let _one_reader = lock(&IDENTIFYING);
    if let Some(known) = known() {
        return Ok((known, None));
    }
    let bytes = read(path)?;
    let failed = |reason: String| Error::ModelLoad { path: path.display().to_string(), reason };
    let onnx_sha256: [u8; 32] = Sha256::digest(&bytes).into();
    let mut hasher = Sha256::new();
    hasher.update(onnx_sha256);
    let mut stamps = vec![(path.to_path_buf(), stamp(path).map_err(|e| failed(e.to_string()))?)];
    let folder = path.parent().unwrap_or(Path::new(""));
    for location in onnx_proto::external_data_files(&bytes).map_err(|e| failed(e.to_string()))? {
        let file = weights::external_file(folder, &location).map_err(failed)?;
        let file_stamp = stamp(&file).map_err(|e| failed(format!("external data {}: {e}", file.display())))?;
        hasher.update(location.as_bytes());
        hasher.update(file_stamp.0.to_le_bytes());
        let modified = file_stamp.1.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).unwrap_or_default();
        hasher.update(modified.as_nanos().to_le_bytes());
        stamps.push((file, file_stamp));
    }
    let identified = Identified {
        disk_bytes: stamps.iter().map(|(_, s)| s.0).sum(),
        stamps,
        content: hasher.finalize().into(),
        onnx_sha256,
    };
    lock(&REGISTRY).files.insert(path.to_path_buf(), identified.clone());
    Ok((identified, Some(bytes)))
}

/// The external data files the model at `path` names, relative to its folder; refused (as a load
/// would refuse them) when one is not inside that folder.
pub fn external_data_files(path: &str) -> Result<Vec<String>> {
    let failed = |reason: String| Error::ModelLoad { path: path.into(), reason };
    let locations = onnx_proto::external_data_files(&read(Path::new(path))?).map_err(|e| failed(e.to_string()))?;
    for location in &locations {
        weights::external_file(Path::new(""), location).map_err(failed)?;
    }
    Ok(locations)
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    let metadata = std::fs::metadata(path)?;
    Ok((metadata.len(), metadata.modified().ok(), identity(&metadata)))
}

#[cfg(unix)]
fn identity(metadata: &std::fs::Metadata) -> [i64; 4] {
    use std::os::unix::fs::MetadataExt;
    // Device and inode numbers fit in i64 on every Unix Rust supports; wrapping keeps them distinct.
    [metadata.dev() as i64, metadata.ino() as i64, metadata.ctime(), metadata.ctime_nsec()]
}

#[cfg(not(unix))]
fn identity(_metadata: &std::fs::Metadata) -> [i64; 4] {
    [0; 4]
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::ModelLoad { path: path.display().to_string(), reason: e.to_string() })
}

/// The model's bytes with `outputs` exposed as graph outputs (as they are when there are none).
fn cut(path: &str, bytes: Vec<u8>, outputs: &[String]) -> Result<Vec<u8>> {
    if outputs.is_empty() {
        return Ok(bytes);
    }
    let failed = |e: onnx_proto::DecodeError| Error::ModelLoad { path: path.into(), reason: e.to_string() };
    let computed = onnx_proto::computed_tensors(&bytes).map_err(failed)?;
    if let Some(unknown) = outputs.iter().find(|o| !computed.contains(*o)) {
        return Err(Error::InvalidInput(format!(
            "fetchDict asks for '{unknown}', which is neither an output of model {path} nor a tensor its graph computes"
        )));
    }
    onnx_proto::with_outputs(&bytes, outputs).map_err(failed)
}

/// The signature of the model at `path`, read without its external data: the initializers kept in
/// external files are declared as inputs instead, which lets ONNX Runtime type every output while
/// only the .onnx file is read (a driver never needs a multi-gigabyte model's weights). `outputs`
/// are tensors inside the graph to expose as extra outputs, as [`open_with_outputs`] does.
pub fn describe(path: &str, outputs: &[String]) -> Result<Signature> {
    let failed = |reason: String| Error::ModelLoad { path: path.into(), reason };
    let bytes = cut(path, read(Path::new(path))?, outputs)?;
    let initializers = onnx_proto::initializers(&bytes).map_err(|e| failed(e.to_string()))?;
    // What ONNX Runtime would read of the inline ones, checked first, so a lie is told in our words.
    for initializer in &initializers {
        weights::check_inline(initializer).map_err(failed)?;
    }
    let external: Vec<String> =
        initializers.into_iter().filter(|i| matches!(i.data, TensorData::External { .. })).map(|i| i.name).collect();
    let weightless = if external.is_empty() {
        bytes
    } else {
        onnx_proto::external_initializers_as_inputs(&bytes).map_err(|e| failed(e.to_string()))?
    };
    let session = runtime::session_builder(1, runtime::THREAD_PREFIX)
        .map_err(|e| load_failure(path, e))?
        .commit_from_memory(&weightless)
        .map_err(|e| failed(e.to_string()))?;
    let mut signature = signature_of(&session);
    signature.inputs.retain(|i| !external.contains(&i.name));
    Ok(signature)
}

/// An ONNX Runtime error while a session is being set up is a failure to load the model, not to run it.
fn load_failure(path: &str, error: Error) -> Error {
    match error {
        Error::Inference(reason) => Error::ModelLoad { path: path.into(), reason },
        other => other,
    }
}

/// A session of the model whose .onnx file holds `bytes`, on the shared weights, its ONNX Runtime
/// threads named `threads`.
fn new_session(
    path: &str,
    bytes: &[u8],
    threads: &str,
    weights: &SharedWeights,
    options: ModelOptions,
) -> Result<Session> {
    let failed = |reason: String| Error::ModelLoad { path: path.into(), reason };
    let builder = runtime::session_builder(options.intra_threads, threads).map_err(|e| load_failure(path, e))?;
    let session = weights
        .apply(builder)
        .map_err(|e| failed(e.to_string()))?
        .commit_from_memory(bytes)
        .map_err(|e| failed(e.to_string()))?;
    release_freed_memory();
    Ok(session)
}

/// Hands memory freed by a session build back to the OS. Each session pre-packs its weights and
/// drops the copy when the shared container already has one; glibc keeps such freed blocks for
/// reuse, which would make the process look as if every slot held a copy of the weights.
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> std::ffi::c_int;
        }
        // SAFETY: glibc's malloc_trim only returns free heap memory to the OS; it takes no pointers.
        unsafe {
            malloc_trim(0);
        }
    }
}

fn signature_of(session: &Session) -> Signature {
    let describe = |outlets: &[Outlet]| outlets.iter().map(|o| tensor_info(o.name(), o.dtype())).collect();
    Signature { inputs: describe(session.inputs()), outputs: describe(session.outputs()) }
}

fn tensor_info(name: &str, dtype: &ValueType) -> TensorInfo {
    let info = |kind: &str, element_type: String, key_type: Option<String>| TensorInfo {
        name: name.into(),
        kind: kind.into(),
        element_type,
        key_type,
        shape: vec![],
        dim_names: vec![],
    };
    match dtype {
        ValueType::Tensor { ty, shape, dimension_symbols } => TensorInfo {
            shape: shape.to_vec(),
            dim_names: dimension_symbols.to_vec(),
            ..info("tensor", tensor::ort_type_name(*ty), None)
        },
        ValueType::Sequence(inner) => match inner.as_ref() {
            ValueType::Map { key, value } => {
                info("maps", tensor::ort_type_name(*value), Some(tensor::ort_type_name(*key)))
            }
            other => info("other", format!("sequence of {other}"), None),
        },
        other => info("other", format!("{other}"), None),
    }
}

impl Model {
    /// Reads the weights once and builds every session up front, one after another: a build holds
    /// ONNX Runtime's parse of the model and a pre-packed copy of its weights until it ends, so
    /// builds made later, while other sessions run, would add those to the running sessions' memory.
    fn load(
        path: &str,
        bytes: Vec<u8>,
        identified: &Identified,
        options: ModelOptions,
        started: Instant,
    ) -> Result<Model> {
        let weights = SharedWeights::load(Path::new(path), &bytes)?;
        let threads = runtime::thread_name(&identified.onnx_sha256);
        let sessions = (0..options.max_sessions)
            .map(|_| new_session(path, &bytes, &threads, &weights, options))
            .collect::<Result<Vec<_>>>()?;
        let Some(signature) = sessions.first().map(signature_of) else {
            return Err(Error::InvalidArgument(format!("a model needs at least one session, got {options:?}")));
        };
        Ok(Model {
            path: path.into(),
            content: identified.content,
            options,
            signature,
            weights,
            load_nanos: u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            disk_bytes: identified.disk_bytes,
            pool: Mutex::new(Pool { idle: sessions, peak_busy: 0 }),
            returned: Condvar::new(),
        })
    }

    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    pub fn stats(&self) -> ModelStats {
        let loads = lock(&REGISTRY).loads.get(&self.content).copied().unwrap_or(0);
        let pool = lock(&self.pool);
        ModelStats {
            load_nanos: self.load_nanos,
            sessions: self.options.max_sessions,
            intra_threads: self.options.intra_threads,
            weight_bytes: self.weights.bytes(),
            disk_bytes: self.disk_bytes,
            peak_concurrent_runs: pool.peak_busy,
            loads,
        }
    }

    /// Runs one batch: every model input must be fed exactly once, with the model's element type and
    /// a shape that agrees with its fixed dimensions. Returns the outputs named in `fetch`, in order.
    pub fn run(&self, inputs: &[ImportedInput], fetch: &[String]) -> Result<Vec<Output>> {
        let mut values: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
        for expected in &self.signature.inputs {
            let input = inputs.iter().find(|i| i.name == expected.name).ok_or_else(|| {
                Error::InvalidInput(format!(
                    "model input '{}' is not fed: feedDict must map every model input ({}) to a column",
                    expected.name,
                    self.signature.input_names()
                ))
            })?;
            check_fits(input, expected)?;
            values.push((
                Cow::Borrowed(expected.name.as_str()),
                tensor::input_value(&input.values, input.element_type, &input.shape)?,
            ));
        }
        if let Some(extra) = inputs.iter().find(|i| self.signature.input(&i.name).is_none()) {
            return Err(Error::InvalidInput(format!(
                "column '{}' feeds '{}', which is not a model input; the model's inputs are: {}",
                extra.column,
                extra.name,
                self.signature.input_names()
            )));
        }
        let mut session = self.lease();
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

    fn lease(&self) -> Lease<'_> {
        let mut pool = lock(&self.pool);
        loop {
            if let Some(session) = pool.idle.pop() {
                pool.peak_busy = pool.peak_busy.max(self.options.max_sessions - pool.idle.len());
                return Lease { model: self, session: Some(session) };
            }
            pool = self.returned.wait(pool).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

fn check_fits(input: &ImportedInput, expected: &TensorInfo) -> Result<()> {
    let fits_type =
        expected.kind == "tensor" && ElementType::from_name(&expected.element_type) == Some(input.element_type);
    let fits_shape = input.shape.len() == expected.shape.len()
        && input.shape.iter().zip(&expected.shape).all(|(&got, &want)| want < 0 || got == want);
    if fits_type && fits_shape {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "column '{}' (model input '{}'): expected {} with shape {}, got {} with shape {:?}",
        input.column,
        input.name,
        expected.element_type,
        describe_shape(expected),
        input.element_type.name(),
        input.shape
    )))
}

fn describe_shape(info: &TensorInfo) -> String {
    let dims: Vec<String> = info
        .shape
        .iter()
        .zip(info.dim_names.iter().map(String::as_str).chain(std::iter::repeat("")))
        .map(|(&d, name)| {
            if d >= 0 {
                d.to_string()
            } else if name.is_empty() {
                "?".into()
            } else {
                name.into()
            }
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

/// A session taken from a model's pool; it goes back (and wakes one waiting task) when dropped.
struct Lease<'m> {
    model: &'m Model,
    session: Option<Session>,
}

impl Lease<'_> {
    fn get(&mut self) -> &mut Session {
        // `session` is only None after drop has taken it.
        self.session.as_mut().unwrap_or_else(|| unreachable!("lease used after release"))
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let mut pool = lock(&self.model.pool);
            pool.idle.push(session);
            drop(pool);
            self.model.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_replaced_by_one_of_the_same_length_and_time_has_another_stamp() {
        let dir = std::env::temp_dir().join(format!("sparkort-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (file, other) = (dir.join("weights.bin"), dir.join("other.bin"));
        std::fs::write(&file, [1u8; 64]).unwrap();
        std::fs::write(&other, [2u8; 64]).unwrap();
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(time).unwrap();
        std::fs::File::options().write(true).open(&other).unwrap().set_modified(time).unwrap();
        let before = stamp(&file).unwrap();
        std::fs::rename(&other, &file).unwrap();
        let after = stamp(&file).unwrap();
        assert_eq!((before.0, before.1), (after.0, after.1), "same length and modification time");
        assert_ne!(before, after, "but another file");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
