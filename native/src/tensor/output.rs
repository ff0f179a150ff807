use ort::value::{DynMapValueType, DynValue, ValueType};

use super::ElementType;
use crate::{Error, Result};

/// How an output crosses to the JVM (the first value of its `jni::wire::OutputRecord`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// A tensor. Buffers: its values; for strings, i32 offsets (count + 1) then UTF-8 bytes.
    Tensor = 0,
    /// A sequence of maps (scikit-learn's ZipMap), one map per row. Buffers: i32 map offsets
    /// (count + 1), the keys (values; or offsets and bytes for string keys), the values.
    Maps = 1,
}

/// One fetched model output in the layout the JVM reads: element types already widened to their
/// Spark type (`ElementType::output_wire`), tensors of that layout left in ONNX Runtime's memory,
/// everything else copied once into buffers owned here. The JVM copies rows out, then releases it.
pub struct Output {
    pub name: String,
    pub kind: OutputKind,
    /// Wire type of the tensor's elements, or of the maps' values.
    pub element_type: ElementType,
    /// Wire type of the maps' keys.
    pub key_type: Option<ElementType>,
    /// The tensor's shape; for maps, `[number of maps]`.
    pub shape: Vec<i64>,
    buffers: Vec<(*const u8, usize)>,
    _memory: Memory,
}

// SAFETY: the buffer pointers point into `_memory` (ONNX Runtime's value, or vectors owned here), which
// nothing mutates or moves after construction; `DynValue` is itself Send, so the whole may move threads.
unsafe impl Send for Output {}

/// What keeps an output's buffers alive.
enum Memory {
    Ort(#[allow(dead_code)] DynValue),
    Owned(#[allow(dead_code)] Vec<Owned>),
}

enum Owned {
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<u8>),
}

fn raw<T>(values: &[T]) -> (*const u8, usize) {
    (values.as_ptr().cast(), std::mem::size_of_val(values))
}

impl Owned {
    fn raw(&self) -> (*const u8, usize) {
        match self {
            Owned::I16(v) => raw(v),
            Owned::I32(v) => raw(v),
            Owned::I64(v) => raw(v),
            Owned::F32(v) => raw(v),
            Owned::F64(v) => raw(v),
            Owned::Bytes(v) => raw(v),
        }
    }
}

impl Output {
    pub fn new(name: String, value: DynValue) -> Result<Self> {
        match value.dtype().clone() {
            ValueType::Tensor { ty, .. } => {
                let element = ElementType::from_ort(ty).ok_or_else(|| unsupported(&name, &value))?;
                tensor(name, value, element)
            }
            ValueType::Sequence(inner) => match *inner {
                ValueType::Map { key, value: map_value } => {
                    let key = ElementType::from_ort(key).ok_or_else(|| unsupported(&name, &value))?;
                    let map_value = ElementType::from_ort(map_value).ok_or_else(|| unsupported(&name, &value))?;
                    maps(name, &value, key, map_value)
                }
                _ => Err(unsupported(&name, &value)),
            },
            _ => Err(unsupported(&name, &value)),
        }
    }

    fn owned(name: String, element_type: ElementType, shape: Vec<i64>, owned: Vec<Owned>) -> Self {
        Self::with_keys(name, OutputKind::Tensor, element_type, None, shape, owned)
    }

    fn with_keys(
        name: String,
        kind: OutputKind,
        element_type: ElementType,
        key_type: Option<ElementType>,
        shape: Vec<i64>,
        owned: Vec<Owned>,
    ) -> Self {
        let buffers = owned.iter().map(Owned::raw).collect();
        Self { name, kind, element_type, key_type, shape, buffers, _memory: Memory::Owned(owned) }
    }

    /// Address and length in bytes of each buffer, valid for as long as `self` lives.
    pub fn buffers(&self) -> &[(*const u8, usize)] {
        &self.buffers
    }
}

fn unsupported(name: &str, value: &DynValue) -> Error {
    Error::InvalidInput(format!(
        "model output '{name}' is {}, which cannot be fetched: sparkort fetches tensors and sequences of maps",
        value.dtype()
    ))
}

fn tensor(name: String, value: DynValue, element: ElementType) -> Result<Output> {
    macro_rules! in_place {
        ($t:ty) => {{
            let (shape, data) = value.try_extract_tensor::<$t>()?;
            let shape = shape.to_vec();
            let buffer = raw(data);
            Ok(Output {
                name,
                kind: OutputKind::Tensor,
                element_type: element,
                key_type: None,
                shape,
                buffers: vec![buffer],
                _memory: Memory::Ort(value),
            })
        }};
    }
    macro_rules! widened {
        ($t:ty, $owned:ident, $convert:expr) => {{
            let (shape, data) = value.try_extract_tensor::<$t>()?;
            let mut converted = crate::error::with_capacity(data.len(), || format!("model output '{name}'"))?;
            let convert = $convert;
            for v in data {
                let widened: Result<_> = convert(v);
                converted.push(widened?);
            }
            Ok(Output::owned(name, element.output_wire(), shape.to_vec(), vec![Owned::$owned(converted)]))
        }};
    }
    match element {
        ElementType::Float32 => in_place!(f32),
        ElementType::Float64 => in_place!(f64),
        ElementType::Int8 => in_place!(i8),
        ElementType::Int16 => in_place!(i16),
        ElementType::Int32 => in_place!(i32),
        ElementType::Int64 => in_place!(i64),
        ElementType::Bool => in_place!(bool),
        ElementType::Uint8 => widened!(u8, I16, |&v| Ok(i16::from(v))),
        ElementType::Uint16 => widened!(u16, I32, |&v| Ok(i32::from(v))),
        ElementType::Uint32 => widened!(u32, I64, |&v| Ok(i64::from(v))),
        ElementType::Uint64 => widened!(u64, I64, |&v| i64::try_from(v).map_err(|_| {
            Error::InvalidInput(format!("model output '{name}' holds {v}, more than a Spark bigint can hold"))
        })),
        ElementType::Float16 => widened!(half::f16, F32, |&v| Ok(f32::from(v))),
        ElementType::Bfloat16 => widened!(half::bf16, F32, |&v| Ok(f32::from(v))),
        ElementType::String => {
            let (shape, strings) = value.try_extract_strings()?;
            let shape = shape.to_vec();
            let (offsets, bytes) = utf8_buffers(&name, strings.iter().map(String::as_str))?;
            Ok(Output::owned(name, ElementType::String, shape, vec![Owned::I32(offsets), Owned::Bytes(bytes)]))
        }
    }
}

/// Arrow-style i32 offsets (count + 1) and concatenated UTF-8 bytes.
fn utf8_buffers<'s>(name: &str, strings: impl Iterator<Item = &'s str>) -> Result<(Vec<i32>, Vec<u8>)> {
    let mut offsets = vec![0i32];
    let mut bytes = Vec::new();
    for s in strings {
        bytes.extend_from_slice(s.as_bytes());
        offsets.push(i32::try_from(bytes.len()).map_err(|_| {
            Error::InvalidInput(format!("model output '{name}' holds more than 2 GiB of strings in one batch"))
        })?);
    }
    Ok((offsets, bytes))
}

fn maps(name: String, value: &DynValue, key: ElementType, map_value: ElementType) -> Result<Output> {
    let maps = value.try_extract_sequence::<DynMapValueType>()?;
    let count = maps.len() as i64;
    let mut map_offsets = vec![0i32];
    macro_rules! collect {
        ($k:ty, $v:ty) => {{
            let mut keys: Vec<$k> = Vec::new();
            let mut values: Vec<$v> = Vec::new();
            for map in &maps {
                for (k, v) in map.try_extract_key_values::<$k, $v>()? {
                    keys.push(k);
                    values.push(v);
                }
                map_offsets.push(i32::try_from(keys.len()).map_err(|_| {
                    Error::InvalidInput(format!("model output '{name}' holds more than 2^31 map entries in one batch"))
                })?);
            }
            (keys, values)
        }};
    }
    macro_rules! by_value {
        ($k:ty) => {
            match map_value {
                ElementType::Float32 => {
                    let (k, v) = collect!($k, f32);
                    (k, Owned::F32(v))
                }
                ElementType::Float64 => {
                    let (k, v) = collect!($k, f64);
                    (k, Owned::F64(v))
                }
                ElementType::Int64 => {
                    let (k, v) = collect!($k, i64);
                    (k, Owned::I64(v))
                }
                other => {
                    return Err(Error::InvalidInput(format!(
                        "model output '{name}' maps to {}; sparkort fetches maps of float32, float64 or int64",
                        other.name()
                    )))
                }
            }
        };
    }
    let mut owned = Vec::with_capacity(4);
    let values = match key {
        ElementType::Int64 => {
            let (keys, values) = by_value!(i64);
            owned.extend([Owned::I32(map_offsets), Owned::I64(keys)]);
            values
        }
        ElementType::String => {
            let (keys, values) = by_value!(String);
            let (key_offsets, key_bytes) = utf8_buffers(&name, keys.iter().map(String::as_str))?;
            owned.extend([Owned::I32(map_offsets), Owned::I32(key_offsets), Owned::Bytes(key_bytes)]);
            values
        }
        other => {
            return Err(Error::InvalidInput(format!(
                "model output '{name}' has {} map keys; sparkort fetches maps keyed by int64 or string",
                other.name()
            )))
        }
    };
    owned.push(values);
    Ok(Output::with_keys(name, OutputKind::Maps, map_value, Some(key), vec![count], owned))
}
