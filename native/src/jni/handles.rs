//! The native objects the JVM holds as `long` handles: a model from `openModel` (a
//! `Box<Arc<Model>>`) and a run's outputs from `run` (a `Box<Vec<Output>>`), each released once.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use jni::sys::jlong;

use crate::model_node::Model;
use crate::tensor::Output;
use crate::{Error, Result};

// Run results handed to the JVM and not yet closed: a leak check for tests and diagnostics.
static OPEN_RESULTS: AtomicI64 = AtomicI64::new(0);

/// A handle for `model`, to be released once with [`close_model`].
pub(super) fn model_handle(model: Arc<Model>) -> jlong {
    Box::into_raw(Box::new(model)) as jlong
}

/// The model behind a handle from `openModel`.
///
/// # Safety
/// `handle` must come from [`model_handle`] and not yet be passed to [`close_model`].
pub(super) unsafe fn model<'a>(handle: jlong) -> Result<&'a Arc<Model>> {
    // SAFETY: per this function's contract the pointer is a live `Box<Arc<Model>>`.
    unsafe { (handle as *const Arc<Model>).as_ref() }.ok_or_else(|| Error::InvalidArgument("model handle is 0".into()))
}

/// # Safety
/// `handle` must be 0 or come from [`model_handle`], and must not have been released before.
pub(super) unsafe fn close_model(handle: jlong) -> Result<()> {
    // SAFETY: per this function's contract.
    unsafe { release::<Arc<Model>>(handle, "model") }
}

/// A handle for a run's outputs, to be released once with [`close_result`].
pub(super) fn result_handle(outputs: Vec<Output>) -> jlong {
    OPEN_RESULTS.fetch_add(1, Ordering::Relaxed);
    Box::into_raw(Box::new(outputs)) as jlong
}

/// The outputs behind a handle from `run`.
///
/// # Safety
/// `handle` must come from [`result_handle`] and not yet be passed to [`close_result`].
pub(super) unsafe fn result<'a>(handle: jlong) -> Result<&'a [Output]> {
    // SAFETY: per this function's contract the pointer is a live `Box<Vec<Output>>`.
    let outputs = unsafe { (handle as *const Vec<Output>).as_ref() };
    outputs.map(Vec::as_slice).ok_or_else(|| Error::InvalidArgument("result handle is 0".into()))
}

/// # Safety
/// `handle` must be 0 or come from [`result_handle`], and must not have been released before.
pub(super) unsafe fn close_result(handle: jlong) -> Result<()> {
    // SAFETY: per this function's contract.
    unsafe { release::<Vec<Output>>(handle, "result") }?;
    OPEN_RESULTS.fetch_sub(1, Ordering::Relaxed);
    Ok(())
}

/// Run results handed out and not yet closed.
pub(super) fn open_results() -> i64 {
    OPEN_RESULTS.load(Ordering::Relaxed)
}

/// Frees the native state behind a handle.
///
/// # Safety
/// `handle` must be 0 or come from `Box::into_raw(Box<T>)`, and must not have been released before.
unsafe fn release<T>(handle: jlong, what: &str) -> Result<()> {
    if handle == 0 {
        return Err(Error::InvalidArgument(format!("{what} handle is 0")));
    }
    // SAFETY: per this function's contract the handle is a live `Box<T>` released only now.
    drop(unsafe { Box::from_raw(handle as *mut T) });
    Ok(())
}
