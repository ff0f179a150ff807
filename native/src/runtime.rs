use std::path::Path;

use once_cell::sync::OnceCell;
use ort::environment::Environment;
use ort::session::builder::SessionBuilder;
use ort::session::Session;

use crate::{Error, Result};

// ort allows one environment per process; every session in this JVM is built from it.
static ENVIRONMENT: OnceCell<Environment> = OnceCell::new();

/// Loads ONNX Runtime from `library_path` (the versioned .so extracted from the jar, or a user's GPU build)
/// and creates the process's environment. Later calls are no-ops: the first library loaded stays.
pub fn init(library_path: &Path) -> Result<()> {
    ENVIRONMENT.get_or_try_init(|| {
        let failed = |reason: String| Error::Runtime { path: library_path.display().to_string(), reason };
        let builder = ort::init_from(library_path).map_err(|e| failed(e.to_string()))?;
        builder.with_name("sparkort").with_telemetry(false).build().map_err(|e| failed(e.to_string()))
    })?;
    Ok(())
}

/// A session builder on the process environment with a fixed thread budget. With one intra-op thread
/// ONNX Runtime runs on the calling (Spark task) thread and starts no pool of its own.
pub fn session_builder(intra_threads: usize) -> Result<SessionBuilder> {
    let environment = ENVIRONMENT.get().ok_or(Error::RuntimeNotInitialised)?;
    Ok(Session::builder(environment)?
        .with_intra_threads(intra_threads.max(1))?
        .with_inter_threads(1)?
        .with_parallel_execution(false)?)
}
