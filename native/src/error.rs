use thiserror::Error as ThisError;

/// Every failure the native library reports. Each variant maps to one Java exception class,
/// so the JVM side can catch what it can act on (a bad column) apart from what it cannot.
#[derive(Debug, ThisError)]
pub enum Error {
    #[error("ONNX Runtime could not be loaded from {path}: {reason}")]
    Runtime { path: String, reason: String },

    #[error("ONNX Runtime is not initialised in this process; NativeApi.initRuntime must run first")]
    RuntimeNotInitialised,

    #[error("cannot load model {path}: {reason}")]
    ModelLoad { path: String, reason: String },

    /// Data that does not fit the model; the message names the column, the model input and what was expected.
    #[error("{0}")]
    InvalidInput(String),

    #[error("ONNX Runtime failed to run the model: {0}")]
    Inference(String),

    /// A caller broke the native API's contract (a stale handle, mismatched argument arrays).
    #[error("invalid call into the native library: {0}")]
    InvalidArgument(String),

    #[error("JNI call failed: {0}")]
    Jni(#[from] jni::errors::Error),
}

impl Error {
    /// The Java exception class (JNI form) this error is thrown as.
    pub fn java_class(&self) -> &'static str {
        match self {
            Error::Runtime { .. } | Error::RuntimeNotInitialised => "io/sparkort/NativeLibraryException",
            Error::ModelLoad { .. } => "io/sparkort/ModelLoadException",
            Error::InvalidInput(_) => "io/sparkort/InvalidInputException",
            Error::Inference(_) => "io/sparkort/InferenceException",
            Error::InvalidArgument(_) | Error::Jni(_) => "io/sparkort/SparkOrtException",
        }
    }
}

// `ort::Error<T>` carries the builder it failed on, so the conversion is generic over it.
impl<T> From<ort::Error<T>> for Error {
    fn from(e: ort::Error<T>) -> Self {
        Error::Inference(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// An empty vector with room for `n` values, or, when the memory is not there, an error naming
/// `what` it was for: sizes that come from outside (a row, a tensor, the JVM) never abort the process.
pub fn with_capacity<T>(n: usize, what: impl FnOnce() -> String) -> Result<Vec<T>> {
    let mut values = Vec::new();
    values.try_reserve_exact(n).map_err(|e| {
        Error::InvalidInput(format!(
            "{}: cannot allocate {} bytes: {e}",
            what(),
            n.saturating_mul(std::mem::size_of::<T>())
        ))
    })?;
    Ok(values)
}

/// `n` copies of `value`, allocated as [`with_capacity`] does.
pub fn filled<T: Clone>(n: usize, value: T, what: impl FnOnce() -> String) -> Result<Vec<T>> {
    let mut values = with_capacity(n, what)?;
    values.resize(n, value);
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_failure_has_its_own_java_class() {
        let cases = [
            (Error::RuntimeNotInitialised, "io/sparkort/NativeLibraryException"),
            (Error::ModelLoad { path: "m.onnx".into(), reason: "missing".into() }, "io/sparkort/ModelLoadException"),
            (Error::InvalidInput("column x".into()), "io/sparkort/InvalidInputException"),
            (Error::Inference("boom".into()), "io/sparkort/InferenceException"),
            (Error::InvalidArgument("handle 0".into()), "io/sparkort/SparkOrtException"),
        ];
        for (error, class) in cases {
            assert_eq!(error.java_class(), class, "{error}");
        }
    }

    #[test]
    fn allocation_failure_is_an_error_naming_what_it_was_for() {
        let err =
            with_capacity::<u64>(usize::MAX / 4, || "column 'x' (model input 'x')".into()).expect_err("too large");
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        assert!(err.to_string().starts_with("column 'x' (model input 'x'): cannot allocate"), "{err}");
        assert_eq!(filled(3, 7u8, String::new).expect("small"), [7, 7, 7]);
    }

    #[test]
    fn model_load_message_names_the_path() {
        let e = Error::ModelLoad { path: "/tmp/nope.onnx".into(), reason: "No such file".into() };
        assert_eq!(e.to_string(), "cannot load model /tmp/nope.onnx: No such file");
    }
}
