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
            check_inline(&initializer).map_err(failed)?;
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
///
/// The size the shape declares is checked against the bytes that are there (inline, or in the data
/// file from its offset) before any memory is taken, and the memory is reserved fallibly: a model
/// cannot make this process allocate more than its files hold, nor abort it when memory runs out.
fn shared_value(init: &Initializer<'_>, folder: &Path) -> std::result::Result<Option<(DynValue, u64)>, String> {
    if matches!(init.data, TensorData::Typed { .. }) {
        return Ok(None);
    }
    let Some(ty) = ElementType::from_onnx_code(init.data_type) else { return Ok(None) };
    let Some(width) = ty.byte_size() else { return Ok(None) };
    let (elements, size) = declared_size(init, width)?;
    if size == 0 {
        return Ok(None);
    }
    let mut source = DataSource::open(init, folder, size)?;
    let mut fill = |out: &mut [u8]| source.fill(init, out);
    let dims = init.dims.clone();
    let value = match ty {
        ElementType::Float32 => plain::<f32>(init, dims, elements, fill)?,
        ElementType::Uint8 => plain::<u8>(init, dims, elements, fill)?,
        ElementType::Int8 => plain::<i8>(init, dims, elements, fill)?,
        ElementType::Uint16 => plain::<u16>(init, dims, elements, fill)?,
        ElementType::Int16 => plain::<i16>(init, dims, elements, fill)?,
        ElementType::Int32 => plain::<i32>(init, dims, elements, fill)?,
        ElementType::Int64 => plain::<i64>(init, dims, elements, fill)?,
        ElementType::Bool => {
            let mut raw = try_zeroed::<u8>(init, elements)?;
            fill(&mut raw)?;
            let mut values = try_zeroed::<bool>(init, 0)?;
            reserve(init, &mut values, elements)?;
            values.extend(raw.into_iter().map(|b| b != 0));
            Tensor::from_array((dims, values)).map_err(|e| e.to_string())?.into_dyn()
        }
        ElementType::Float64 => plain::<f64>(init, dims, elements, fill)?,
        ElementType::Uint32 => plain::<u32>(init, dims, elements, fill)?,
        ElementType::Uint64 => plain::<u64>(init, dims, elements, fill)?,
        ElementType::Float16 => plain::<half::f16>(init, dims, elements, fill)?,
        ElementType::Bfloat16 => plain::<half::bf16>(init, dims, elements, fill)?,
        ElementType::String => return Ok(None),
    };
    Ok(Some((value, size as u64)))
}

/// The elements and bytes the initializer's shape declares for elements of `width` bytes: every
/// dimension non-negative, and the product within what one allocation may be (`isize::MAX` bytes).
pub fn declared_size(init: &Initializer<'_>, width: usize) -> std::result::Result<(usize, usize), String> {
    let elements = init
        .dims
        .iter()
        .try_fold(1usize, |n, &d| usize::try_from(d).ok().and_then(|d| n.checked_mul(d)))
        .ok_or_else(|| format!("initializer '{}' has an invalid shape {:?}", init.name, init.dims))?;
    let size = elements
        .checked_mul(width)
        .filter(|&s| isize::try_from(s).is_ok())
        .ok_or_else(|| format!("initializer '{}' of shape {:?} is too large", init.name, init.dims))?;
    Ok((elements, size))
}

/// Checks that an initializer kept in the model's bytes holds what its shape declares (external
/// ones are checked where their files are read, in [`SharedWeights::load`]): ONNX Runtime would
/// allocate the declared size before it looks at the data. For the types read here, raw data must
/// be exactly that size; for others, no more elements than the data could hold (two 4-bit values a
/// byte; one value, or half a complex one, a typed field entry).
pub fn check_inline(init: &Initializer<'_>) -> std::result::Result<(), String> {
    let elements = || {
        init.dims
            .iter()
            .try_fold(1u64, |n, &d| u64::try_from(d).ok().and_then(|d| n.checked_mul(d)))
            .ok_or_else(|| format!("initializer '{}' has an invalid shape {:?}", init.name, init.dims))
    };
    let (held, what) = match init.data {
        TensorData::Raw(raw) => (raw.len() as u64, "bytes of data"),
        TensorData::Typed { values } => (values, "values"),
        TensorData::External { .. } => return Ok(()),
    };
    let known = ElementType::from_onnx_code(init.data_type).and_then(ElementType::byte_size);
    let Some(width) = known.filter(|_| matches!(init.data, TensorData::Raw(_))) else {
        let elements = elements()?;
        if elements > held.saturating_mul(2) {
            return Err(format!(
                "initializer '{}' of shape {:?} declares {elements} elements, but has {held} {what}",
                init.name, init.dims
            ));
        }
        return Ok(());
    };
    let TensorData::Raw(raw) = init.data else { return Ok(()) };
    let (_, size) = declared_size(init, width)?;
    if raw.len() != size {
        return Err(format!(
            "initializer '{}' has {} bytes of data, its shape {:?} needs {size}",
            init.name,
            raw.len(),
            init.dims
        ));
    }
    Ok(())
}

/// Where an initializer's bytes come from, checked to hold exactly the `size` bytes its shape needs.
enum DataSource<'m> {
    Raw(&'m [u8]),
    File(File),
}

impl<'m> DataSource<'m> {
    fn open(init: &Initializer<'m>, folder: &Path, size: usize) -> std::result::Result<Self, String> {
        let wrong_size = |got: u64| {
            format!("initializer '{}' has {got} bytes of data, its shape {:?} needs {size}", init.name, init.dims)
        };
        match &init.data {
            TensorData::Raw(raw) => {
                if raw.len() != size {
                    return Err(wrong_size(raw.len() as u64));
                }
                Ok(DataSource::Raw(raw))
            }
            TensorData::External { location, offset, length } => {
                if let Some(length) = length.filter(|&l| l != size as u64) {
                    return Err(wrong_size(length));
                }
                let path = external_file(folder, location)?;
                let read = |e: std::io::Error| format!("initializer '{}': cannot read {location}: {e}", init.name);
                let mut file = File::open(&path).map_err(read)?;
                let file_bytes = file.metadata().map_err(read)?.len();
                if *offset > file_bytes {
                    return Err(format!(
                        "initializer '{}' starts at offset {offset} of {location}, which has {file_bytes} bytes",
                        init.name
                    ));
                }
                let available = file_bytes - offset;
                if available < size as u64 || (length.is_none() && available != size as u64) {
                    return Err(format!(
                        "initializer '{}' of shape {:?} needs {size} bytes, but {location} has {available} bytes from offset {offset}{}",
                        init.name,
                        init.dims,
                        if length.is_none() { " (with no length given, the rest of the file must be exactly that)" } else { "" }
                    ));
                }
                file.seek(SeekFrom::Start(*offset)).map_err(read)?;
                Ok(DataSource::File(file))
            }
            TensorData::Typed { .. } => Err(format!("initializer '{}' keeps its data in typed fields", init.name)),
        }
    }

    /// Copies the initializer's bytes, exactly `out.len()` of them (the size `open` checked), into `out`.
    fn fill(&mut self, init: &Initializer<'_>, out: &mut [u8]) -> std::result::Result<(), String> {
        match self {
            DataSource::Raw(raw) if raw.len() == out.len() => {
                out.copy_from_slice(raw);
                Ok(())
            }
            DataSource::Raw(raw) => Err(format!("initializer '{}': {} bytes for {}", init.name, raw.len(), out.len())),
            DataSource::File(file) => {
                file.read_exact(out).map_err(|e| format!("initializer '{}': cannot read its data: {e}", init.name))
            }
        }
    }
}

/// Reserves room for `additional` more values, failing (not aborting) when the memory is not there.
fn reserve<T>(init: &Initializer<'_>, values: &mut Vec<T>, additional: usize) -> std::result::Result<(), String> {
    values.try_reserve_exact(additional).map_err(|e| {
        format!(
            "initializer '{}' of shape {:?}: cannot allocate {} bytes: {e}",
            init.name,
            init.dims,
            additional.saturating_mul(std::mem::size_of::<T>())
        )
    })
}

/// `elements` default values, allocated fallibly.
fn try_zeroed<T: Default + Clone>(init: &Initializer<'_>, elements: usize) -> std::result::Result<Vec<T>, String> {
    let mut values = Vec::new();
    reserve(init, &mut values, elements)?;
    values.resize(elements, T::default());
    Ok(values)
}

/// Numeric types whose values may be written as raw bytes: [`plain`] hands a `&mut [u8]` view of a
/// `Vec<T>` to code that fills it from a file.
///
/// # Safety
/// An implementor must have no padding bytes and no invalid bit patterns: every sequence of
/// `size_of::<T>()` bytes, in native byte order, is a valid `T` (so no `bool`, `char`, enum or
/// reference). The primitive integers and floats below qualify.
unsafe trait Plain: Copy + Default + std::fmt::Debug + ort::value::PrimitiveTensorElementType + 'static {}
// SAFETY: the primitive integers and IEEE floats (and half's f16 and bf16, `repr(transparent)` over
// u16) have no padding, and every bit pattern of their size is a value.
unsafe impl Plain for f32 {}
// SAFETY: as for f32.
unsafe impl Plain for f64 {}
// SAFETY: as for f32.
unsafe impl Plain for i8 {}
// SAFETY: as for f32.
unsafe impl Plain for i16 {}
// SAFETY: as for f32.
unsafe impl Plain for i32 {}
// SAFETY: as for f32.
unsafe impl Plain for i64 {}
// SAFETY: as for f32.
unsafe impl Plain for u8 {}
// SAFETY: as for f32.
unsafe impl Plain for u16 {}
// SAFETY: as for f32.
unsafe impl Plain for u32 {}
// SAFETY: as for f32.
unsafe impl Plain for u64 {}
// SAFETY: as for f32.
unsafe impl Plain for half::f16 {}
// SAFETY: as for f32.
unsafe impl Plain for half::bf16 {}

/// A tensor of `elements` values of `T`, its bytes written by `fill` straight into the tensor's buffer.
fn plain<T: Plain>(
    init: &Initializer<'_>,
    dims: Vec<i64>,
    elements: usize,
    mut fill: impl FnMut(&mut [u8]) -> std::result::Result<(), String>,
) -> std::result::Result<DynValue, String> {
    let mut values = try_zeroed::<T>(init, elements)?;
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
