//! A model's weights, read once and handed to every session of it. Each session would otherwise
//! keep its own copy of every initializer (and of their pre-packed forms), so a node's memory
//! would grow by the model's size per task slot. ONNX Runtime's `AddInitializer` lets sessions use
//! tensors the caller owns instead of the model's, and a shared pre-packed weights container keeps
//! one packed copy. Sessions are still built from the whole model: graph optimizers may read an
//! initializer's data from it (constant folding, constant sharing), and then free it.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use ort::session::builder::{PrepackedWeights, SessionBuilder};
use ort::value::{DynValue, Tensor};

use crate::onnx_proto::{self, Initializer, TensorData};
use crate::tensor::ElementType;
use crate::{Error, Result};

// ONNX stores raw tensor data little-endian; it is used here as it lies in memory.
const _: () = assert!(cfg!(target_endian = "little"), "sparkort reads ONNX raw data as native little-endian");

/// ONNX Runtime's session option naming the folder external data is read from when a model is
/// loaded from memory: initializers that are not shared (types kept per session) are read there.
const EXTERNAL_DATA_FOLDER: &str = "session.model_external_initializers_file_folder_path";

pub struct SharedWeights {
    values: Vec<(String, Arc<DynValue>)>,
    prepacked: PrepackedWeights,
    folder: PathBuf,
    bytes: u64,
}

impl SharedWeights {
    /// Reads the initializers of the model at `path` (whose bytes are `model`): inline data from
    /// the bytes, external data from files beside it.
    pub fn load(path: &Path, model: &[u8]) -> Result<Self> {
        let failed = |reason: String| Error::ModelLoad { path: path.display().to_string(), reason };
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut values = Vec::new();
        let mut bytes = 0u64;
        for initializer in onnx_proto::initializers(model).map_err(|e| failed(e.to_string()))? {
            if let Some(value) = shared_value(&initializer, &folder).map_err(|e| failed(e.to_string()))? {
                bytes += value.1;
                values.push((initializer.name.clone(), Arc::new(value.0)));
            }
        }
        Ok(SharedWeights { values, prepacked: PrepackedWeights::new(), folder, bytes })
    }

    /// Bytes of initializer data held here, once for all sessions.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Gives a session builder the shared initializers, the shared pre-packed container, and the
    /// model's folder for the external data ONNX Runtime still reads (types not shared here).
    pub fn apply(&self, mut builder: SessionBuilder) -> Result<SessionBuilder> {
        for (name, value) in &self.values {
            builder = builder.with_initializer(name, Arc::clone(value))?;
        }
        builder = builder.with_prepacked_weights(&self.prepacked)?;
        if let Some(folder) = self.folder.to_str().filter(|f| !f.is_empty()) {
            builder = builder.with_config_entry(EXTERNAL_DATA_FOLDER, folder)?;
        }
        Ok(builder)
    }
}

/// The path of an external data file, which must stay inside the model's folder: a model is data,
/// and must not make the executor read arbitrary files.
pub fn external_file(folder: &Path, location: &str) -> std::result::Result<PathBuf, String> {
    let relative = Path::new(location);
    if location.is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(format!("external data location '{location}' must be a relative path inside the model's folder"));
    }
    Ok(folder.join(relative))
}

/// A tensor of the initializer's data that sessions can share, and its size in bytes; `None` for
/// types ONNX Runtime is left to load per session (strings, 8-bit floats, 4-bit integers, complex)
/// and for tensors stored in typed fields, which writers use only for small ones.
fn shared_value(init: &Initializer<'_>, folder: &Path) -> std::result::Result<Option<(DynValue, u64)>, String> {
    if matches!(init.data, TensorData::Typed) {
        return Ok(None);
    }
    let Some(ty) = ElementType::from_onnx_code(init.data_type) else { return Ok(None) };
    let Some(width) = ty.byte_size() else { return Ok(None) };
    let elements = init
        .dims
        .iter()
        .try_fold(1usize, |n, &d| usize::try_from(d).ok().and_then(|d| n.checked_mul(d)))
        .ok_or_else(|| format!("initializer '{}' has an invalid shape {:?}", init.name, init.dims))?;
    let size = elements.checked_mul(width).ok_or_else(|| format!("initializer '{}' is too large", init.name))?;
    if size == 0 {
        return Ok(None);
    }
    let fill = |out: &mut [u8]| fill_data(init, folder, out);
    let dims = init.dims.clone();
    let value = match ty {
        ElementType::Float32 => plain::<f32>(dims, elements, fill)?,
        ElementType::Uint8 => plain::<u8>(dims, elements, fill)?,
        ElementType::Int8 => plain::<i8>(dims, elements, fill)?,
        ElementType::Uint16 => plain::<u16>(dims, elements, fill)?,
        ElementType::Int16 => plain::<i16>(dims, elements, fill)?,
        ElementType::Int32 => plain::<i32>(dims, elements, fill)?,
        ElementType::Int64 => plain::<i64>(dims, elements, fill)?,
        ElementType::Bool => {
            let mut raw = vec![0u8; elements];
            fill(&mut raw)?;
            let values: Vec<bool> = raw.into_iter().map(|b| b != 0).collect();
            Tensor::from_array((dims, values)).map_err(|e| e.to_string())?.into_dyn()
        }
        ElementType::Float64 => plain::<f64>(dims, elements, fill)?,
        ElementType::Uint32 => plain::<u32>(dims, elements, fill)?,
        ElementType::Uint64 => plain::<u64>(dims, elements, fill)?,
        ElementType::Float16 => plain::<half::f16>(dims, elements, fill)?,
        ElementType::Bfloat16 => plain::<half::bf16>(dims, elements, fill)?,
        ElementType::String => return Ok(None),
    };
    Ok(Some((value, size as u64)))
}

/// Copies the initializer's data, exactly `out.len()` bytes of it, into `out`.
fn fill_data(init: &Initializer<'_>, folder: &Path, out: &mut [u8]) -> std::result::Result<(), String> {
    let wrong_size = |got: u64| {
        format!("initializer '{}' has {got} bytes of data, its shape {:?} needs {}", init.name, init.dims, out.len())
    };
    match &init.data {
        TensorData::Raw(raw) => {
            if raw.len() != out.len() {
                return Err(wrong_size(raw.len() as u64));
            }
            out.copy_from_slice(raw);
        }
        TensorData::External { location, offset, length } => {
            if let Some(length) = length.filter(|&l| l != out.len() as u64) {
                return Err(wrong_size(length));
            }
            let path = external_file(folder, location)?;
            let read = |e: std::io::Error| format!("initializer '{}': cannot read {}: {e}", init.name, path.display());
            let mut file = File::open(&path).map_err(read)?;
            let available = file.metadata().map_err(read)?.len().saturating_sub(*offset);
            if available < out.len() as u64 || (length.is_none() && available != out.len() as u64) {
                return Err(wrong_size(available));
            }
            file.seek(SeekFrom::Start(*offset)).map_err(read)?;
            file.read_exact(out).map_err(read)?;
        }
        TensorData::Typed => return Err(format!("initializer '{}' keeps its data in typed fields", init.name)),
    }
    Ok(())
}

/// Numeric types with no padding for which every bit pattern is a valid value.
trait Plain: Copy + Default + std::fmt::Debug + ort::value::PrimitiveTensorElementType + 'static {}
impl Plain for f32 {}
impl Plain for f64 {}
impl Plain for i8 {}
impl Plain for i16 {}
impl Plain for i32 {}
impl Plain for i64 {}
impl Plain for u8 {}
impl Plain for u16 {}
impl Plain for u32 {}
impl Plain for u64 {}
impl Plain for half::f16 {}
impl Plain for half::bf16 {}

/// A tensor of `elements` values of `T`, its bytes written by `fill` straight into the tensor's buffer.
fn plain<T: Plain>(
    dims: Vec<i64>,
    elements: usize,
    fill: impl FnOnce(&mut [u8]) -> std::result::Result<(), String>,
) -> std::result::Result<DynValue, String> {
    let mut values = vec![T::default(); elements];
    // SAFETY: `values` holds `elements` initialised values of a `Plain` type: no padding bytes, and
    // any bytes written through this view form valid values. The view ends before `values` is used.
    let bytes =
        unsafe { std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(&values[..])) };
    fill(bytes)?;
    Ok(Tensor::from_array((dims, values)).map_err(|e| e.to_string())?.into_dyn())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_data_stays_inside_the_model_folder() {
        let folder = Path::new("/cache/abc");
        assert_eq!(external_file(folder, "w.bin"), Ok(PathBuf::from("/cache/abc/w.bin")));
        assert_eq!(external_file(folder, "weights/./w.bin"), Ok(PathBuf::from("/cache/abc/weights/./w.bin")));
        for bad in ["", "/etc/passwd", "../other/w.bin", "weights/../../w.bin"] {
            assert!(external_file(folder, bad).is_err(), "{bad}");
        }
    }
}
