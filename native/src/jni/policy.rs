//! How the exports end: an error or a panic becomes a Java exception, never an unwinding across FFI.

use std::any::Any;

use jni::errors::ErrorPolicy;
use jni::strings::JNIString;
use jni::Env;

use crate::Error;

/// Throws the Java class of our error (or `SparkOrtException` for a panic), unless a Java
/// exception is already pending: that one is the real cause and must not be overwritten.
pub(super) struct ThrowSparkOrtException;

impl<T: Default> ErrorPolicy<T, Error> for ThrowSparkOrtException {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut (),
        err: Error,
    ) -> jni::errors::Result<T> {
        if !env.exception_check() {
            let _ = env.throw_new(JNIString::from(err.java_class()), JNIString::from(err.to_string()));
        }
        Ok(T::default())
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _captures: &mut (),
        payload: Box<dyn Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".into());
        if !env.exception_check() {
            let _ = env.throw_new(
                JNIString::from("io/sparkort/SparkOrtException"),
                JNIString::from(format!("sparkort native panic: {message}")),
            );
        }
        Ok(T::default())
    }
}
