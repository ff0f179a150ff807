//! The JNI exports behind `io.sparkort.NativeApi`, and nothing else: each unpacks its arguments
//! (formats in [`super::wire`]), calls a typed function, and ends in
//! `resolve::<ThrowSparkOrtException>()`, so every error and every panic becomes a Java exception.

use std::path::Path;

use jni::objects::{JByteArray, JClass, JIntArray, JLongArray, JObjectArray, JString};
use jni::sys::{jint, jlong};
use jni::EnvUnowned;

use super::arrays::{self, int_prefix, longs, new_longs, string, strings, with_arena};
use super::handles;
use super::policy::ThrowSparkOrtException;
use super::wire::{
    self, FeedRecord, ModelFile, OpenReport, OutputRecord, PredictionRecord, RowLayout, RunRecord, StatsRecord,
};
use crate::exchange;
use crate::logging;
use crate::model_node::{self, ModelOptions};
use crate::unsafe_rows;
use crate::{runtime, Error, Result};

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

/// Opens (or finds already open) the model `model` names (a [`ModelFile`]: its path, and the key
/// the JVM knows it by), with `outputs` (tensors inside its graph) exposed as extra outputs; returns
/// a handle the caller must pass to `closeModel` once. Writes a [`OpenReport`] into `report`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_openModel<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    model: JObjectArray<'local, JString<'local>>,
    max_sessions: jint,
    intra_threads: jint,
    outputs: JObjectArray<'local, JString<'local>>,
    report: JLongArray<'local>,
) -> jlong {
    unowned_env
        .with_env(|env| -> Result<jlong> {
            let options = ModelOptions {
                max_sessions: usize::try_from(max_sessions).unwrap_or(0),
                intra_threads: usize::try_from(intra_threads).unwrap_or(0),
            };
            if report.len(env)? != OpenReport::WIDTH {
                return Err(Error::InvalidArgument(format!(
                    "openModel: the report array must hold {} values",
                    OpenReport::WIDTH
                )));
            }
            let file = ModelFile::decode(&strings(env, &model)?)?;
            let outputs = strings(env, &outputs)?;
            let opened = match &file.named {
                Some(named) => model_node::open_named(&file.path, named, options, &outputs)?,
                None => model_node::open_with_outputs(&file.path, options, &outputs)?,
            };
            let load_nanos = opened.loaded_nanos.map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX));
            report.set_region(env, 0, &OpenReport { load_nanos }.encode())?;
            Ok(handles::model_handle(opened.model))
        })
        .resolve::<ThrowSparkOrtException>()
}

/// The signature of the model file at `path` with `outputs` exposed, read without its external
/// data files, as [`wire::signature_json`].
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_modelSignature<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
    outputs: JObjectArray<'local, JString<'local>>,
) -> JString<'local> {
    unowned_env
        .with_env(|env| -> Result<JString<'local>> {
            let outputs = strings(env, &outputs)?;
            let json = wire::signature_json(&model_node::read_signature(&string(env, &path)?, &outputs)?);
            Ok(env.new_string(json)?)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// The external data files the model at `path` names, relative to its folder, as
/// [`wire::file_list_json`]; see [`model_node::external_data_files`].
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_externalDataFiles<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JString<'local>,
) -> JString<'local> {
    unowned_env
        .with_env(|env| -> Result<JString<'local>> {
            let files = model_node::external_data_files(&string(env, &path)?)?;
            Ok(env.new_string(wire::file_list_json(&files))?)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// The model's figures as a [`StatsRecord`].
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_modelStats<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JLongArray<'local> {
    unowned_env
        .with_env(|env| -> Result<JLongArray<'local>> {
            // SAFETY: the Java owner (ModelNode) passes only handles it holds open.
            let stats = unsafe { handles::model(handle) }?.stats();
            new_longs(env, &StatsRecord::of(&stats).encode())
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

/// The native library's log records since the last call, as [`wire::log_text`].
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_drainLog<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> JString<'local> {
    unowned_env
        .with_env(|env| -> Result<JString<'local>> { Ok(env.new_string(wire::log_text(&logging::drain()))?) })
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
            // SAFETY: the handle came from openModel and the Java owner closes it once.
            unsafe { handles::close_model(handle) }
        })
        .resolve::<ThrowSparkOrtException>()
}

#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_openResultCount<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jlong {
    unowned_env.with_env(|_env| -> Result<jlong> { Ok(handles::open_results()) }).resolve::<ThrowSparkOrtException>()
}

/// Runs one batch, a [`RunRecord`] (`names` and `inputs`); returns a result handle for
/// `resultOutputs` / `closeResult`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_run<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    names: JObjectArray<'local, JString<'local>>,
    inputs: JLongArray<'local>,
) -> jlong {
    unowned_env
        .with_env(|env| -> Result<jlong> {
            let run = RunRecord { names: strings(env, &names)?, inputs: longs(env, &inputs)? }.decode()?;
            // SAFETY: the Java caller (PartitionScorer) keeps these Arrow buffers allocated and unchanged
            // until this call returns, and the imported arrays are dropped before it does.
            let imported = run.inputs.iter().map(|b| unsafe { exchange::import(b) }).collect::<Result<Vec<_>>>()?;
            // SAFETY: the Java owner passes only handles it holds open.
            let outputs = unsafe { handles::model(handle) }?.run(&imported, &run.fetch)?;
            Ok(handles::result_handle(outputs))
        })
        .resolve::<ThrowSparkOrtException>()
}

/// A run's outputs, one [`OutputRecord`] after another. Addresses stay valid until `closeResult`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_resultOutputs<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    result: jlong,
) -> JLongArray<'local> {
    unowned_env
        .with_env(|env| -> Result<JLongArray<'local>> {
            // SAFETY: the handle came from `run` and the Java owner has not closed it yet.
            let outputs = unsafe { handles::result(result) }?;
            let records: Vec<OutputRecord> = outputs.iter().map(OutputRecord::of).collect();
            new_longs(env, &OutputRecord::encode_all(&records))
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
            // SAFETY: the handle came from `run` and the Java owner closes it once.
            unsafe { handles::close_result(result) }
        })
        .resolve::<ThrowSparkOrtException>()
}

/// How much longer a laid row of `layout` (a [`RowLayout`]) is than its input row; checks the layout.
#[unsafe(no_mangle)]
pub extern "system" fn Java_io_sparkort_NativeApi_rowGrowth<'local>(
    mut unowned_env: EnvUnowned<'local>,
    _class: JClass<'local>,
    layout: JLongArray<'local>,
) -> jint {
    unowned_env
        .with_env(|env| -> Result<jint> {
            let growth = RowLayout::layout(&longs(env, &layout)?)?.growth();
            jint::try_from(growth).map_err(|_| Error::InvalidArgument(format!("rows grow by {growth} bytes")))
        })
        .resolve::<ThrowSparkOrtException>()
}

/// Lays rows `0..rows` of the arena out as output rows in place (see `unsafe_rows`); `starts`
/// holds `rows + 1` row boundaries and `layout` is a [`RowLayout`]. With `feeds` ([`FeedRecord`]s;
/// null for none), copies the rows' features into tensor slots `0..` up to the first row that cannot
/// be copied as it is, and returns that row (`rows` when all were copied, 0 without `feeds`).
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
            let starts = int_prefix(env, &starts, rows.saturating_add(1))?;
            let layout = RowLayout::layout(&longs(env, &layout)?)?;
            let feeds = if feeds.is_null() { None } else { Some(FeedRecord::decode_all(&longs(env, &feeds)?)?) };
            // SAFETY: the Java caller (BatchWriter) passes input buffers it holds allocated and writes
            // nothing else into them during this call.
            let gather = feeds.as_deref().map(|f| unsafe { arrays::gather(f) });
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
            let starts = int_prefix(env, &starts, to.saturating_add(1))?;
            let layout = RowLayout::layout(&longs(env, &layout)?)?;
            let feeds = FeedRecord::decode_all(&longs(env, &feeds)?)?;
            let bad = || Error::InvalidArgument(format!("gatherFeeds: rows {from}..{to} at slot {first_slot}"));
            let index = |v: jint| usize::try_from(v).map_err(|_| bad());
            let (from, to, first_slot) = (index(from)?, index(to)?, index(first_slot)?);
            if from > to {
                return Err(bad());
            }
            // SAFETY: as in `layRows`.
            let mut gather = unsafe { arrays::gather(&feeds) };
            let stop = with_arena(env, &arena, |bytes| {
                unsafe_rows::gather(bytes, &starts, &layout, &mut gather, (from, to), first_slot)
            })?;
            Ok(stop as jint)
        })
        .resolve::<ThrowSparkOrtException>()
}

/// Writes one prediction column of a run (a [`PredictionRecord`]) into laid rows `0..rows`:
/// `slots[r]` is row `r`'s place in the output tensor (negative: none). `layout` as for `layRows`.
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
            let starts = int_prefix(env, &starts, rows.saturating_add(1))?;
            let layout = RowLayout::layout(&longs(env, &layout)?)?;
            let slots = int_prefix(env, &slots, rows)?;
            let record = PredictionRecord::decode(&longs(env, &prediction)?)?;
            // SAFETY: the address and size are an output tensor of a run result the Java caller (the
            // laid-out rows) holds open until this call returns; nothing writes to it meanwhile.
            let values = unsafe { arrays::jvm_bytes(record.address, record.bytes) };
            with_arena(env, &arena, |bytes| {
                unsafe_rows::fill(bytes, &starts, &slots, &layout, &record.prediction, values)
            })
        })
        .resolve::<ThrowSparkOrtException>()
}
