use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};

use once_cell::sync::Lazy;
use ort::session::{Session, SessionInputValue};
use ort::value::{Outlet, ValueType};
use sha2::{Digest, Sha256};

use crate::exchange::ImportedInput;
use crate::signature::{Signature, TensorInfo};
use crate::tensor::{self, ElementType, Output};
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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ModelKey {
    content_sha256: [u8; 32],
    options: ModelOptions,
}

/// A model open in this process: its signature and a bounded pool of sessions, created on demand.
/// `Session::run` needs `&mut`, so each session runs one batch at a time; concurrent tasks take
/// different sessions, and wait when all `max_sessions` are busy.
pub struct Model {
    path: String,
    bytes: Vec<u8>,
    options: ModelOptions,
    signature: Signature,
    pool: Mutex<Pool>,
    returned: Condvar,
}

struct Pool {
    idle: Vec<Session>,
    created: usize,
}

// Open models by key. Weak, so a model lives exactly as long as some JVM handle holds it.
static MODELS: Lazy<Mutex<HashMap<ModelKey, Weak<Model>>>> = Lazy::new(|| Mutex::new(HashMap::new()));

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held, so a poisoned lock still guards consistent state.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Opens the model at `path`, or returns the one already open with the same content and options.
pub fn open(path: &str, options: ModelOptions) -> Result<Arc<Model>> {
    if options.max_sessions == 0 || options.intra_threads == 0 {
        return Err(Error::InvalidArgument(format!("sessions and threads must be positive, got {options:?}")));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::ModelLoad { path: path.into(), reason: e.to_string() })?;
    let key = ModelKey { content_sha256: Sha256::digest(&bytes).into(), options };
    // Loading under the registry lock means two tasks asking for one model load it once.
    let mut models = lock(&MODELS);
    if let Some(model) = models.get(&key).and_then(Weak::upgrade) {
        return Ok(model);
    }
    models.retain(|_, model| model.strong_count() > 0);
    let first = new_session(path, &bytes, options)?;
    let signature = signature_of(&first);
    let model = Arc::new(Model {
        path: path.into(),
        bytes,
        options,
        signature,
        pool: Mutex::new(Pool { idle: vec![first], created: 1 }),
        returned: Condvar::new(),
    });
    models.insert(key, Arc::downgrade(&model));
    log::info!("sparkort: loaded model {path} ({options:?})");
    Ok(model)
}

fn new_session(path: &str, bytes: &[u8], options: ModelOptions) -> Result<Session> {
    runtime::session_builder(options.intra_threads)?
        .commit_from_memory(bytes)
        .map_err(|e| Error::ModelLoad { path: path.into(), reason: e.to_string() })
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
    pub fn signature(&self) -> &Signature {
        &self.signature
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
        let mut session = self.lease()?;
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

    fn lease(&self) -> Result<Lease<'_>> {
        let mut pool = lock(&self.pool);
        loop {
            if let Some(session) = pool.idle.pop() {
                return Ok(Lease { model: self, session: Some(session) });
            }
            if pool.created < self.options.max_sessions {
                pool.created += 1;
                drop(pool);
                return match new_session(&self.path, &self.bytes, self.options) {
                    Ok(session) => Ok(Lease { model: self, session: Some(session) }),
                    Err(e) => {
                        lock(&self.pool).created -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
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
            lock(&self.model.pool).idle.push(session);
            self.model.returned.notify_one();
        }
    }
}
