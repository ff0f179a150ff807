//! The JNI exports behind `io.sparkort.NativeApi`. Each one unpacks its arguments, calls a typed
//! function, and ends in `resolve::<ThrowSparkOrtException>()`, so every error and every panic
//! becomes a Java exception and none crosses the FFI boundary.

use std::any::Any;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use jni::elements::ReleaseMode;
use jni::errors::ErrorPolicy;
use jni::objects::{JByteArray, JClass, JIntArray, JLongArray, JObjectArray, JString};
use jni::strings::JNIString;
use jni::sys::{jint, jlong};
use jni::{Env, EnvUnowned};

use crate::exchange::{self, InputBuffers};
use crate::logging;
use crate::model_node::{self, Model, ModelOptions};
use crate::tensor::{ElementType, Output};
use crate::unsafe_rows::{self, ArrayFeed, Gather, Layout, Prediction};
use crate::{error, runtime, Error, Result};

// Run results handed to the JVM and not yet closed: a leak check for tests and diagnostics.
static OPEN_RESULTS: AtomicI64 = AtomicI64::new(0);

/// Throws the Java class of our error (or `SparkOrtException` for a panic), unless a Java
/// exception is already pending: that one is the real cause and must not be overwritten.
struct ThrowSparkOrtException;

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

fn string(env: &Env<'_>, s: &JString<'_>) -> Result<String> {
    Ok(s.try_to_string(env)?)
}

fn strings(env: &mut Env<'_>, array: &JObjectArray<'_, JString<'_>>) -> Result<Vec<String>> {
    let len = array.len(env)?;
    let mut out = error::with_capacity(len, || format!("{len} strings from the JVM"))?;
    for i in 0..len {
        let element = array.get_element(env, i)?;
        out.push(element.try_to_string(env)?);
    }
    Ok(out)
}

fn longs(env: &Env<'_>, array: &JLongArray<'_>) -> Result<Vec<i64>> {
    let len = array.len(env)?;
    let mut out = error::filled(len, 0, || format!("{len} longs from the JVM"))?;
    array.get_region(env, 0, &mut out)?;
    Ok(out)
}

fn ints(env: &Env<'_>, array: &JIntArray<'_>) -> Result<Vec<i32>> {
    let len = array.len(env)?;
    let mut out = error::filled(len, 0, || format!("{len} ints from the JVM"))?;
    array.get_region(env, 0, &mut out)?;
    Ok(out)
}

/// The model behind a handle from `openModel`.
///
/// # Safety
/// `handle` must come from `openModel` and not yet be passed to `closeModel`.
unsafe fn model<'a>(handle: jlong) -> Result<&'a Arc<Model>> {
    // SAFETY: per this function's contract the pointer is a live `Box<Arc<Model>>`.
    unsafe { (handle as *const Arc<Model>).as_ref() }.ok_or_else(|| Error::InvalidArgument("model handle is 0".into()))
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

/// Loads ONNX Runtime from `libraryPath` and creates the process environment; later calls do nothing.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_initRuntime<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    library_path: JString<'local>,
) {
    unowned_env
        .with_env(|env| -> Result<()> { runtime::init(Path::new(&string(env, &library_path)?)) })
        .resolve::<ThrowSparkOrtException>()
}

/// Opens (or finds already open) a model, with `outputs` (tensors inside its graph) exposed as extra
/// outputs; returns a handle the caller must pass to `closeModel` once. Writes into `loadNanos[0]`
/// how long this call spent loading the model, 0 when it was open already.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_openModel<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
    max_sessions: jint,
    intra_threads: jint,
    outputs: JObjectArray<'local, JString<'local>>,
    load_nanos: JLongArray<'local>,
) -> jlong {
    unowned_env
        .with_env(|env| -> Result<jlong> {
            let options = ModelOptions {
                max_sessions: usize::try_from(max_sessions).unwrap_or(0),
                intra_threads: usize::try_from(intra_threads).unwrap_or(0),
            };
            if load_nanos.len(env)? < 1 {
                return Err(Error::InvalidArgument("openModel: loadNanos must have room for one value".into()));
            }
            let outputs = strings(env, &outputs)?;
            let opened = model_node::open_with_outputs(&string(env, &path)?, options, &outputs)?;
            let nanos = opened.loaded_nanos.map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX));
            load_nanos.set_region(env, 0, &[nanos])?;
            Ok(Box::into_raw(Box::new(opened.model)) as jlong)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// The signature of the model file at `path` with `outputs` exposed, read without its external data files.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_describeModel<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
    outputs: JObjectArray<'local, JString<'local>>,
) -> JString<'local> {
    unowned_env
        .with_env(|env| -> Result<JString<'local>> {
            let outputs = strings(env, &outputs)?;
            let json = model_node::read_signature(&string(env, &path)?, &outputs)?.to_json();
            Ok(env.new_string(json)?)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// The external data files the model at `path` names, relative to its folder, as a JSON array;
/// see [`model_node::external_data_files`].
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_externalDataFiles<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
) -> JString<'local> {
    unowned_env
        .with_env(|env| -> Result<JString<'local>> {
            let files = model_node::external_data_files(&string(env, &path)?)?;
            Ok(env.new_string(serde_json::Value::from(files).to_string())?)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// The model's figures as longs: load nanos, sessions, max sessions, intra-op threads, weight
/// bytes, disk bytes, peak concurrent runs, loads of its content in this process.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_modelStats<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JLongArray<'local> {
    unowned_env
        .with_env(|env| -> Result<JLongArray<'local>> {
            // SAFETY: the Java owner (ModelNode) passes only handles it holds open.
            let s = unsafe { model(handle) }?.stats();
            let long = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            let values = [
                long(s.load_nanos),
                s.sessions as i64,
                s.intra_threads as i64,
                long(s.weight_bytes),
                s.peak_concurrent_runs as i64,
                long(s.loads),
            ];
            let array = env.new_long_array(values.len())?;
            array.set_region(env, 0, &values)?;
            Ok(array)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// Sets the bytes (models' sizes on disk) that open models may hold before idle ones are closed.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_setModelMemoryBudget<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    bytes: jlong,
) {
    unowned_env
        .with_env(|_env| -> Result<()> {
            model_node::set_memory_budget(u64::try_from(bytes).unwrap_or(0));
            Ok(())
        })
        .resolve::<ThrowSparkOrtException>()
}

/// The native library's log records since the last call, one per line as `LEVEL message`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_drainLog<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JString<'local> {
    unowned_env
        .with_env(|env| -> Result<JString<'local>> {
            let lines: Vec<String> = logging::drain()
                .into_iter()
                .map(|(level, message)| format!("{level} {}", message.replace('\n', " ")))
                .collect();
            Ok(env.new_string(lines.join("\n"))?)
        })
        .resolve::<ThrowSparkOrtException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_closeModel<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    unowned_env
        .with_env(|_env| -> Result<()> {
            // SAFETY: the handle came from `Box::into_raw` in openModel and the Java owner closes it once.
            unsafe { release::<Arc<Model>>(handle, "model") }
        })
        .resolve::<ThrowSparkOrtException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_openResultCount<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jlong {
    unowned_env
        .with_env(|_env| -> Result<jlong> { Ok(OPEN_RESULTS.load(Ordering::Relaxed)) })
        .resolve::<ThrowSparkOrtException>()
}

/// Runs one batch. Input `i` is described by `inputNames[i]`, `columns[i]`, `elementTypes[i]`,
/// `ranks[i]` consecutive dims of `shapes`, and `buffers[4i..4i+4]` = data address, data length,
/// offsets address, offsets length (the offsets only for strings).
/// Returns a result handle for `describeResult` / `closeResult`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_sparkort_NativeApi_run<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    input_names: JObjectArray<'local, JString<'local>>,
    columns: JObjectArray<'local, JString<'local>>,
    element_types: JIntArray<'local>,
    shapes: JLongArray<'local>,
    ranks: JIntArray<'local>,
    buffers: JLongArray<'local>,
    fetch: JObjectArray<'local, JString<'local>>,
) -> jlong {
    unowned_env
        .with_env(|env| -> Result<jlong> {
            let inputs = input_buffers(
                strings(env, &input_names)?,
                strings(env, &columns)?,
                ints(env, &element_types)?,
                longs(env, &shapes)?,
                ints(env, &ranks)?,
                longs(env, &buffers)?,
            )?;
            let fetch = strings(env, &fetch)?;
            // SAFETY: the Java caller (PartitionScorer) keeps these Arrow buffers allocated and unchanged
            // until this call returns, and the imported arrays are dropped before it does.
            let imported = inputs.iter().map(|b| unsafe { exchange::import(b) }).collect::<Result<Vec<_>>>()?;
            // SAFETY: the Java owner passes only handles it holds open.
            let outputs = unsafe { model(handle) }?.run(&imported, &fetch)?;
            OPEN_RESULTS.fetch_add(1, Ordering::Relaxed);
            Ok(Box::into_raw(Box::new(outputs)) as jlong)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// The first `n` ints of `array`.
fn int_prefix(env: &Env<'_>, array: &JIntArray<'_>, n: jint) -> Result<Vec<i32>> {
    let n = usize::try_from(n).map_err(|_| Error::InvalidArgument(format!("row count {n} is negative")))?;
    if n > array.len(env)? {
        return Err(Error::InvalidArgument(format!("{n} rows, but an array of {} entries", array.len(env)?)));
    }
    let mut out = error::filled(n, 0, || format!("{n} row boundaries"))?;
    array.get_region(env, 0, &mut out)?;
    Ok(out)
}

/// A batch's row boundaries (its first `rows + 1` starts) and its row layout, as `LaidRows` passes them.
fn batch_rows(
    env: &Env<'_>,
    starts: &JIntArray<'_>,
    rows: jint,
    layout: &JLongArray<'_>,
) -> Result<(Vec<i32>, Layout)> {
    Ok((int_prefix(env, starts, rows.saturating_add(1))?, Layout::from_longs(&longs(env, layout)?)?))
}

/// Runs `work` on the arena's bytes in place. No JNI call may happen inside `work`: the JVM's
/// garbage collector waits while the array is held.
fn with_arena<T>(env: &Env<'_>, arena: &JByteArray<'_>, work: impl FnOnce(&mut [u8]) -> Result<T>) -> Result<T> {
    // SAFETY: `work` makes no JNI call and the elements are released when `critical` drops at the end
    // of this function; the Java caller (LaidRows) touches the array from this thread only.
    let mut critical = unsafe { arena.get_elements_critical(env, ReleaseMode::CopyBack) }?;
    let len = critical.len();
    // SAFETY: the JVM's array holds `len` bytes at this address until `critical` drops, and `i8` and
    // `u8` have the same size and alignment.
    let bytes = unsafe { std::slice::from_raw_parts_mut(critical.as_mut_ptr().cast::<u8>(), len) };
    work(bytes)
}

/// The inputs to copy from laid rows, from `feeds`: per input, field ordinal, elements per row,
/// bytes per element, buffer address, buffer bytes.
///
/// # Safety
/// Each address and size must be an input buffer the caller holds allocated, and into which nothing
/// else writes, for as long as the result lives.
unsafe fn gathering<'a>(described: &[i64]) -> Result<Gather<'a>> {
    let bad = || Error::InvalidArgument(format!("input buffers {described:?} are malformed"));
    let index = |v: i64| usize::try_from(v).map_err(|_| bad());
    if !described.len().is_multiple_of(5) {
        return Err(bad());
    }
    let mut gather = Gather { feeds: Vec::new(), tensors: Vec::new() };
    for feed in described.chunks(5) {
        gather.feeds.push(ArrayFeed {
            ordinal: index(feed[0])?,
            elements: index(feed[1])?,
            element_bytes: index(feed[2])?,
        });
        if feed[3] == 0 {
            return Err(bad());
        }
        // SAFETY: per this function's contract.
        gather.tensors.push(unsafe { std::slice::from_raw_parts_mut(feed[3] as *mut u8, index(feed[4])?) });
    }
    Ok(gather)
}

/// Lays rows `0..rows` of the arena out as output rows in place; `starts` holds `rows + 1` row
/// boundaries and `layout` is `unsafe_rows::Layout::from_longs`'s description. With `feeds` (see
/// `gathering`; null for none), copies the rows' features into tensor slots `0..` up to the first
/// row that cannot be copied as it is, and returns that row (`rows` when all were copied, 0 without `feeds`).
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_layRows<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    arena: JByteArray<'local>,
    starts: JIntArray<'local>,
    rows: jint,
    layout: JLongArray<'local>,
    feeds: JLongArray<'local>,
) -> jint {
    unowned_env
        .with_env(|env| -> Result<jint> {
            let (starts, layout) = batch_rows(env, &starts, rows, &layout)?;
            let described = if feeds.is_null() { None } else { Some(longs(env, &feeds)?) };
            // SAFETY: the Java caller (BatchWriter) passes input buffers it holds allocated and writes
            // nothing else into them during this call.
            let gather = described.as_deref().map(|d| unsafe { gathering(d) }).transpose()?;
            let gathered = with_arena(env, &arena, |bytes| unsafe_rows::lay(bytes, &starts, &layout, gather))?;
            Ok(gathered as jint)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// Copies the features of laid rows `from..to` into the input buffers, row `from` at tensor slot
/// `firstSlot`, up to the first row that cannot be copied as it is (see `unsafe_rows::gather`), and
/// returns that row, `to` if none. `layout` and `feeds` as for `layRows`.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_sparkort_NativeApi_gatherFeeds<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    arena: JByteArray<'local>,
    starts: JIntArray<'local>,
    from: jint,
    to: jint,
    first_slot: jint,
    layout: JLongArray<'local>,
    feeds: JLongArray<'local>,
) -> jint {
    unowned_env
        .with_env(|env| -> Result<jint> {
            let (starts, layout) = batch_rows(env, &starts, to, &layout)?;
            let described = longs(env, &feeds)?;
            let bad = || Error::InvalidArgument(format!("gatherFeeds: rows {from}..{to} at slot {first_slot}"));
            let index = |v: jint| usize::try_from(v).map_err(|_| bad());
            let (from, to, first_slot) = (index(from)?, index(to)?, index(first_slot)?);
            if from > to {
                return Err(bad());
            }
            // SAFETY: as in `layRows`.
            let mut gather = unsafe { gathering(&described) }?;
            let stop = with_arena(env, &arena, |bytes| {
                unsafe_rows::gather(bytes, &starts, &layout, &mut gather, (from, to), first_slot)
            })?;
            Ok(stop as jint)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// Writes one prediction column of a run into laid rows `0..rows`: `slots[r]` is row `r`'s place
/// in the output tensor (negative: none). `prediction` holds field ordinal, elements per row (0 for
/// one value in the field's slot), bytes per value, 1 for booleans, then the tensor's address and bytes.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_io_sparkort_NativeApi_fillRows<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    arena: JByteArray<'local>,
    starts: JIntArray<'local>,
    slots: JIntArray<'local>,
    rows: jint,
    layout: JLongArray<'local>,
    prediction: JLongArray<'local>,
) {
    unowned_env
        .with_env(|env| -> Result<()> {
            let (starts, layout) = batch_rows(env, &starts, rows, &layout)?;
            let slots = int_prefix(env, &slots, rows)?;
            let p = longs(env, &prediction)?;
            let bad = || Error::InvalidArgument(format!("fillRows: prediction {p:?}"));
            let index = |v: i64| usize::try_from(v).map_err(|_| bad());
            if p.len() != 6 || (p[4] == 0 && p[5] != 0) {
                return Err(bad());
            }
            let spec = Prediction {
                ordinal: index(p[0])?,
                array_elements: index(p[1])?,
                value_bytes: index(p[2])?,
                boolean: p[3] != 0,
            };
            let values: &[u8] = if p[5] == 0 {
                &[] // an empty tensor's address may be null, a slice's may not
            } else {
                // SAFETY: the address and size are an output tensor of a run result the Java caller (LaidRows)
                // holds open until this call returns; nothing writes to it meanwhile.
                unsafe { std::slice::from_raw_parts(p[4] as *const u8, index(p[5])?) }
            };
            with_arena(env, &arena, |bytes| unsafe_rows::fill(bytes, &starts, &slots, &layout, &spec, values))
        })
        .resolve::<ThrowSparkOrtException>()
}

fn input_buffers(
    names: Vec<String>,
    columns: Vec<String>,
    element_types: Vec<i32>,
    shapes: Vec<i64>,
    ranks: Vec<i32>,
    buffers: Vec<i64>,
) -> Result<Vec<InputBuffers>> {
    let n = names.len();
    if columns.len() != n || element_types.len() != n || ranks.len() != n || buffers.len() != 4 * n {
        return Err(Error::InvalidArgument("run: argument arrays disagree on the number of inputs".into()));
    }
    let mut dims = shapes.into_iter();
    let mut out = Vec::with_capacity(n);
    for (i, (input, column)) in names.into_iter().zip(columns).enumerate() {
        let element_type = ElementType::from_onnx_code(element_types[i]).ok_or_else(|| {
            Error::InvalidArgument(format!("input '{input}': unsupported element type code {}", element_types[i]))
        })?;
        let shape: Vec<i64> = dims.by_ref().take(ranks[i].max(0) as usize).collect();
        if shape.len() != ranks[i].max(0) as usize {
            return Err(Error::InvalidArgument("run: shapes shorter than ranks say".into()));
        }
        out.push(InputBuffers {
            input,
            column,
            element_type,
            shape,
            data_address: buffers[4 * i],
            data_length: buffers[4 * i + 1],
            offsets_address: buffers[4 * i + 2],
            offsets_length: buffers[4 * i + 3],
        });
    }
    Ok(out)
}

/// Describes a run's outputs as longs, one `Output::describe` after another. Addresses stay valid
/// until `closeResult`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_describeResult<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    result: jlong,
) -> JLongArray<'local> {
    unowned_env
        .with_env(|env| -> Result<JLongArray<'local>> {
            // SAFETY: the handle came from `run` and the Java owner has not closed it yet.
            let outputs = unsafe { (result as *const Vec<Output>).as_ref() }
                .ok_or_else(|| Error::InvalidArgument("result handle is 0".into()))?;
            let described: Vec<i64> = outputs.iter().flat_map(Output::describe).collect();
            let array = env.new_long_array(described.len())?;
            array.set_region(env, 0, &described)?;
            Ok(array)
        })
        .resolve::<ThrowSparkOrtException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_closeResult<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    result: jlong,
) {
    unowned_env
        .with_env(|_env| -> Result<()> {
            // SAFETY: the handle came from `Box::into_raw` in `run` and the Java owner closes it once.
            unsafe { release::<Vec<Output>>(result, "result") }?;
            OPEN_RESULTS.fetch_sub(1, Ordering::Relaxed);
            Ok(())
        })
        .resolve::<ThrowSparkOrtException>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_descriptions_are_split_per_input() {
        let inputs = input_buffers(
            vec!["a".into(), "b".into()],
            vec!["col_a".into(), "col_b".into()],
            vec![1, 11],
            vec![4, 3, 4],
            vec![2, 1],
            vec![100, 48, 0, 0, 200, 32, 0, 0],
        )
        .expect("consistent arguments");
        assert_eq!(inputs[0].shape, vec![4, 3]);
        assert_eq!(inputs[1].shape, vec![4]);
        assert_eq!(inputs[1].element_type, ElementType::Float64);
        assert_eq!((inputs[1].data_address, inputs[1].data_length), (200, 32));
        assert_eq!(inputs[1].column, "col_b");
    }

    #[test]
    fn inconsistent_argument_arrays_are_rejected() {
        let err = input_buffers(vec!["a".into()], vec![], vec![1], vec![1], vec![1], vec![0; 4]);
        assert!(matches!(err, Err(Error::InvalidArgument(_))));
        let err = input_buffers(vec!["a".into()], vec!["c".into()], vec![14], vec![1], vec![1], vec![0; 4]);
        assert!(err.is_err(), "complex64 is not exchanged");
    }
}
