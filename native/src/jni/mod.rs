//! The JNI layer behind `io.sparkort.NativeApi`, the only code that touches the JVM:
//!
//! - `exports`: the `extern "system"` functions, and nothing else. Each one unpacks its arguments,
//!   calls a typed function, and ends in `resolve::<ThrowSparkOrtException>()`.
//! - `policy`: the error policy: every error and every panic becomes a Java exception (the class
//!   `Error::java_class` names), and none crosses the FFI boundary.
//! - `arrays`: Java arrays and strings copied in and out, a byte array worked on in place, and the
//!   JVM's raw buffers as slices.
//! - `handles`: the native objects the JVM holds as `long` handles, and their release.
//! - [`wire`]: every format crossing the boundary, once (its JVM twin is `NativeWire.java`).

mod arrays;
mod exports;
mod handles;
mod policy;
pub mod wire;
