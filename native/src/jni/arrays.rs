//! Java arrays and strings copied in and out, a Java byte array worked on in place, and buffers
//! the JVM hands over by address made into slices.

use jni::elements::ReleaseMode;
use jni::objects::{JByteArray, JIntArray, JLongArray, JObjectArray, JString};
use jni::sys::jint;
use jni::Env;

use super::wire::FeedRecord;
use crate::unsafe_rows::Gather;
use crate::{error, Error, Result};

pub(super) fn string(env: &Env<'_>, s: &JString<'_>) -> Result<String> {
    Ok(s.try_to_string(env)?)
}

pub(super) fn strings(env: &mut Env<'_>, array: &JObjectArray<'_, JString<'_>>) -> Result<Vec<String>> {
    let len = array.len(env)?;
    let mut out = error::with_capacity(len, || format!("{len} strings from the JVM"))?;
    for i in 0..len {
        let element = array.get_element(env, i)?;
        out.push(element.try_to_string(env)?);
    }
    Ok(out)
}

pub(super) fn longs(env: &Env<'_>, array: &JLongArray<'_>) -> Result<Vec<i64>> {
    let len = array.len(env)?;
    let mut out = error::filled(len, 0, || format!("{len} longs from the JVM"))?;
    array.get_region(env, 0, &mut out)?;
    Ok(out)
}

/// A new Java `long[]` holding `values`.
pub(super) fn new_longs<'local>(env: &mut Env<'local>, values: &[i64]) -> Result<JLongArray<'local>> {
    let array = env.new_long_array(values.len())?;
    array.set_region(env, 0, values)?;
    Ok(array)
}

/// The first `n` ints of `array` (row boundaries or tensor slots).
pub(super) fn int_prefix(env: &Env<'_>, array: &JIntArray<'_>, n: jint) -> Result<Vec<i32>> {
    let n = usize::try_from(n).map_err(|_| Error::InvalidArgument(format!("row count {n} is negative")))?;
    if n > array.len(env)? {
        return Err(Error::InvalidArgument(format!("{n} rows, but an array of {} entries", array.len(env)?)));
    }
    let mut out = error::filled(n, 0, || format!("{n} row boundaries"))?;
    array.get_region(env, 0, &mut out)?;
    Ok(out)
}

/// Runs `work` on the arena's bytes in place. No JNI call may happen inside `work`: the JVM's
/// garbage collector waits while the array is held.
pub(super) fn with_arena<T>(
    env: &Env<'_>,
    arena: &JByteArray<'_>,
    work: impl FnOnce(&mut [u8]) -> Result<T>,
) -> Result<T> {
    // SAFETY: `work` makes no JNI call and the elements are released when `critical` drops at the end
    // of this function; the Java caller (the laid-out rows) touches the array from this thread only.
    let mut critical = unsafe { arena.get_elements_critical(env, ReleaseMode::CopyBack) }?;
    let len = critical.len();
    // SAFETY: the JVM's array holds `len` bytes at this address until `critical` drops, and `i8` and
    // `u8` have the same size and alignment.
    let bytes = unsafe { std::slice::from_raw_parts_mut(critical.as_mut_ptr().cast::<u8>(), len) };
    work(bytes)
}

/// The feeds to copy from laid rows, with their tensor buffers as slices.
///
/// # Safety
/// Each record's address and bytes must be an input buffer the caller holds allocated, and into
/// which nothing else writes, for as long as the result lives.
pub(super) unsafe fn gather<'a>(records: &[FeedRecord]) -> Gather<'a> {
    let mut gather = Gather { feeds: Vec::with_capacity(records.len()), tensors: Vec::with_capacity(records.len()) };
    for record in records {
        gather.feeds.push(record.feed);
        // SAFETY: per this function's contract; `FeedRecord::decode_all` refused a null address.
        gather.tensors.push(unsafe { std::slice::from_raw_parts_mut(record.address as *mut u8, record.bytes) });
    }
    gather
}

/// The `bytes` bytes at `address`, as a slice.
///
/// # Safety
/// Unless `bytes` is 0, `address` must point to `bytes` readable bytes that nothing writes to for
/// as long as the result lives.
pub(super) unsafe fn jvm_bytes<'a>(address: i64, bytes: usize) -> &'a [u8] {
    if bytes == 0 {
        &[] // an empty tensor's address may be null, a slice's may not
    } else {
        // SAFETY: per this function's contract.
        unsafe { std::slice::from_raw_parts(address as *const u8, bytes) }
    }
}
