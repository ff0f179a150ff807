use std::path::Path;

use once_cell::sync::OnceCell;
use ort::environment::{Environment, ThreadManager};
use ort::session::builder::SessionBuilder;
use ort::session::Session;

use crate::{Error, Result};

// ort allows one environment per process; every session in this JVM is built from it.
static ENVIRONMENT: OnceCell<Environment> = OnceCell::new();

/// How the threads ONNX Runtime starts here are named, followed by the first six hex digits of the
/// SHA-256 of the model's .onnx file: `top -H`, `jstack` and `/proc/<pid>/task/*/comm` show which
/// threads are which model's (Linux keeps 15 bytes of a thread's name: exactly that).
pub const THREAD_PREFIX: &str = "sparkort-";

/// Loads ONNX Runtime from `library_path` (the versioned .so extracted from the jar, or a user's GPU build)
/// and creates the process's environment. Later calls are no-ops: the first library loaded stays.
pub fn init(library_path: &Path) -> Result<()> {
    crate::logging::init();
    ENVIRONMENT.get_or_try_init(|| {
        let failed = |reason: String| Error::Runtime { path: library_path.display().to_string(), reason };
        let builder = ort::init_from(library_path).map_err(|e| failed(load_error(library_path, &e)))?;
        builder.with_name("sparkort").with_telemetry(false).build().map_err(|e| failed(e.to_string()))
    })?;
    Ok(())
}

/// Why ONNX Runtime could not be loaded from `path`, in words a user can act on: ort's message says
/// only "dlopen failed"; the dynamic loader's own reason (no such file, not an ELF file, a missing
/// dependency, wrong architecture) is the error's source, and a path that is no file is said so.
fn load_error(path: &Path, error: &ort::LoadDynamicError) -> String {
    let reason = match error {
        ort::LoadDynamicError::Dlopen { error, .. } => {
            let mut reason = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                reason = format!("{reason}: {cause}");
                source = cause.source();
            }
            reason
        }
        ort::LoadDynamicError::MissingApi { .. } => {
            "it is not an ONNX Runtime library (it exports no OrtGetApiBase)".into()
        }
        other => other.to_string(),
    };
    match std::fs::metadata(path) {
        Err(e) => format!("{reason} ({e})"),
        Ok(m) if !m.is_file() => format!("{reason} (it is not a file)"),
        Ok(_) => reason,
    }
}

/// A session builder on the process environment with a fixed thread budget. With one intra-op thread
/// ONNX Runtime runs on the calling (Spark task) thread and starts no pool of its own; with more, the
/// pool's `intra_threads - 1` threads are started by [`NamedThreads`] under `thread_name`, the
/// caller being the last.
pub fn session_builder(intra_threads: usize, thread_name: &str) -> Result<SessionBuilder> {
    let environment = ENVIRONMENT.get().ok_or(Error::RuntimeNotInitialised)?;
    Ok(Session::builder(environment)?
        .with_intra_threads(intra_threads.max(1))?
        .with_inter_threads(1)?
        .with_parallel_execution(false)?
        .with_thread_manager(NamedThreads { name: thread_name.into() })?)
}

/// The name of the threads ONNX Runtime starts for a model whose .onnx file has this SHA-256.
pub fn thread_name(onnx_sha256: &[u8]) -> String {
    let digits: String = onnx_sha256.iter().take(3).map(|b| format!("{b:02x}")).collect();
    format!("{THREAD_PREFIX}{digits}")
}

/// Starts ONNX Runtime's pool threads under a model's name.
struct NamedThreads {
    name: String,
}

impl ThreadManager for NamedThreads {
    type Thread = std::thread::JoinHandle<()>;

    fn create(&self, work: impl FnOnce() + Send + 'static) -> ort::Result<Self::Thread> {
        // Returned only once the thread runs (std names it before that), so once a session is built
        // its threads are all named.
        let (started, running) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(self.name.clone())
            // What glibc gives a pthread by default; Rust's own default (2 MiB) is smaller than some kernels expect.
            .stack_size(8 << 20)
            .spawn(move || {
                let _ = started.send(());
                work();
            });
        match spawned {
            Ok(thread) => {
                let _ = running.recv();
                Ok(thread)
            }
            Err(e) => Err(ort::Error::new(format!("cannot start an ONNX Runtime thread: {e}"))),
        }
    }

    fn join(thread: Self::Thread) -> ort::Result<()> {
        thread.join().map_err(|_| ort::Error::new("an ONNX Runtime thread panicked"))
    }
}
