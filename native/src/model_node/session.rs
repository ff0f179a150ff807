//! Building one ONNX Runtime session of a model. Whatever fails here fails to load the model, so
//! every error is a `ModelLoad` naming its path, never an inference failure.

use ort::session::Session;

use super::ModelOptions;
use crate::weights::SharedWeights;
use crate::{runtime, Error, Result};

/// An error while a session is being set up, as a failure to load the model at `path`.
pub(super) fn load_failure(path: &str, error: impl Into<Error>) -> Error {
    match error.into() {
        Error::Inference(reason) => Error::ModelLoad { path: path.into(), reason },
        other => other,
    }
}

/// A session of the model whose .onnx file holds `bytes`, on the shared weights, its ONNX Runtime
/// threads named `threads`.
pub(super) fn new_session(
    path: &str,
    bytes: &[u8],
    threads: &str,
    weights: &SharedWeights,
    options: ModelOptions,
) -> Result<Session> {
    let builder = runtime::session_builder(options.intra_threads, threads).map_err(|e| load_failure(path, e))?;
    let session = weights
        .apply(builder)
        .map_err(|e| load_failure(path, e))?
        .commit_from_memory(bytes)
        .map_err(|e| load_failure(path, e))?;
    release_freed_memory();
    Ok(session)
}

/// A session of a model with no shared weights (to read its signature), one thread, on the caller's thread.
pub(super) fn bare_session(path: &str, bytes: &[u8]) -> Result<Session> {
    runtime::session_builder(1, runtime::THREAD_PREFIX)
        .map_err(|e| load_failure(path, e))?
        .commit_from_memory(bytes)
        .map_err(|e| load_failure(path, e))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_onnx_runtime_error_while_building_is_a_load_failure_naming_the_model() {
        // What an `ort::Error` becomes through `From` (making one needs ONNX Runtime loaded).
        let from_ort = Error::Inference("Could not find an implementation for NoSuchOperator".into());
        let error = load_failure("/models/m.onnx", from_ort);
        assert!(matches!(error, Error::ModelLoad { .. }), "{error:?}");
        assert_eq!(error.java_class(), "io/sparkort/ModelLoadException");
        assert_eq!(
            error.to_string(),
            "cannot load model /models/m.onnx: Could not find an implementation for NoSuchOperator"
        );
        let not_ort = load_failure("/models/m.onnx", Error::RuntimeNotInitialised);
        assert!(matches!(not_ort, Error::RuntimeNotInitialised), "other errors keep their class");
    }
}
