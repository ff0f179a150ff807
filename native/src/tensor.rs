use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt8Type};
use arrow_array::ArrayRef;
use arrow_schema::DataType;
use ort::session::SessionInputValue;
use ort::value::{DynValue, TensorElementType, TensorRef, ValueType};

use crate::{Error, Result};

/// Element types that cross between the JVM and ONNX Runtime as plain fixed-width buffers.
/// The JVM names them by ONNX `TensorProto.DataType` code, the signature JSON by `name()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementType {
    Float32,
    Float64,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
}

impl ElementType {
    pub const ALL: [ElementType; 7] =
        [Self::Float32, Self::Float64, Self::Int8, Self::Int16, Self::Int32, Self::Int64, Self::Uint8];

    pub fn from_onnx_code(code: i32) -> Option<Self> {
        Some(match code {
            1 => Self::Float32,
            11 => Self::Float64,
            3 => Self::Int8,
            5 => Self::Int16,
            6 => Self::Int32,
            7 => Self::Int64,
            2 => Self::Uint8,
            _ => return None,
        })
    }

    pub fn onnx_code(self) -> i32 {
        match self {
            Self::Float32 => 1,
            Self::Float64 => 11,
            Self::Int8 => 3,
            Self::Int16 => 5,
            Self::Int32 => 6,
            Self::Int64 => 7,
            Self::Uint8 => 2,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn from_ort(ty: TensorElementType) -> Option<Self> {
        Some(match ty {
            TensorElementType::Float32 => Self::Float32,
            TensorElementType::Float64 => Self::Float64,
            TensorElementType::Int8 => Self::Int8,
            TensorElementType::Int16 => Self::Int16,
            TensorElementType::Int32 => Self::Int32,
            TensorElementType::Int64 => Self::Int64,
            TensorElementType::Uint8 => Self::Uint8,
            _ => return None,
        })
    }

    pub fn byte_size(self) -> usize {
        match self {
            Self::Int8 | Self::Uint8 => 1,
            Self::Int16 => 2,
            Self::Float32 | Self::Int32 => 4,
            Self::Float64 | Self::Int64 => 8,
        }
    }

    pub fn arrow_type(self) -> DataType {
        match self {
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Int8 => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Uint8 => DataType::UInt8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Float32 => "float32",
            Self::Float64 => "float64",
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Uint8 => "uint8",
        }
    }
}

/// The name a model's element type goes by in the signature, for every ONNX type (also those not exchanged yet).
pub fn ort_type_name(ty: TensorElementType) -> String {
    match ElementType::from_ort(ty) {
        Some(known) => known.name().to_string(),
        None => match ty {
            TensorElementType::String => "string".into(),
            TensorElementType::Bool => "bool".into(),
            TensorElementType::Float16 => "float16".into(),
            TensorElementType::Uint16 => "uint16".into(),
            TensorElementType::Uint32 => "uint32".into(),
            TensorElementType::Uint64 => "uint64".into(),
            other => format!("{other:?}").to_lowercase(),
        },
    }
}

/// A zero-copy ONNX Runtime view of an Arrow primitive array, shaped as `shape`.
pub fn input_value<'a>(values: &'a ArrayRef, shape: &[i64]) -> Result<SessionInputValue<'a>> {
    macro_rules! view {
        ($arrow:ty) => {
            TensorRef::from_array_view((shape.to_vec(), values.as_primitive::<$arrow>().values().as_ref()))?.into()
        };
    }
    Ok(match values.data_type() {
        DataType::Float32 => view!(Float32Type),
        DataType::Float64 => view!(Float64Type),
        DataType::Int8 => view!(Int8Type),
        DataType::Int16 => view!(Int16Type),
        DataType::Int32 => view!(Int32Type),
        DataType::Int64 => view!(Int64Type),
        DataType::UInt8 => view!(UInt8Type),
        other => return Err(Error::InvalidArgument(format!("no tensor view for Arrow type {other}"))),
    })
}

/// One fetched model output, kept alive so the JVM can copy rows straight out of ONNX Runtime's buffer.
pub struct OutputTensor {
    pub name: String,
    pub element_type: ElementType,
    pub shape: Vec<i64>,
    data: *const u8,
    byte_len: usize,
    _value: DynValue,
}

// SAFETY: `data` points into `_value`'s tensor buffer, which ONNX Runtime owns and never moves or
// mutates after the run; `DynValue` itself is Send + Sync, so the pair may move between threads.
unsafe impl Send for OutputTensor {}

impl OutputTensor {
    pub fn new(name: String, value: DynValue) -> Result<Self> {
        let ty = match value.dtype() {
            ValueType::Tensor { ty, .. } => *ty,
            other => {
                return Err(Error::InvalidInput(format!(
                    "model output '{name}' is a {other:?}, not a tensor; only tensor outputs can be fetched"
                )))
            }
        };
        let element_type = ElementType::from_ort(ty).ok_or_else(|| {
            Error::InvalidInput(format!(
                "model output '{name}' has element type {}, which cannot be fetched yet",
                ort_type_name(ty)
            ))
        })?;
        macro_rules! raw {
            ($t:ty) => {{
                let (shape, data) = value.try_extract_tensor::<$t>()?;
                (shape.to_vec(), data.as_ptr().cast::<u8>(), std::mem::size_of_val(data))
            }};
        }
        let (shape, data, byte_len) = match element_type {
            ElementType::Float32 => raw!(f32),
            ElementType::Float64 => raw!(f64),
            ElementType::Int8 => raw!(i8),
            ElementType::Int16 => raw!(i16),
            ElementType::Int32 => raw!(i32),
            ElementType::Int64 => raw!(i64),
            ElementType::Uint8 => raw!(u8),
        };
        Ok(Self { name, element_type, shape, data, byte_len, _value: value })
    }

    /// Address and length in bytes of the output's data, valid for as long as `self` lives.
    pub fn data(&self) -> (*const u8, usize) {
        (self.data, self.byte_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_codes_round_trip() {
        for ty in ElementType::ALL {
            assert_eq!(ElementType::from_onnx_code(ty.onnx_code()), Some(ty));
            assert_eq!(ElementType::from_name(ty.name()), Some(ty));
        }
        assert_eq!(ElementType::from_onnx_code(8), None, "string tensors are not fixed-width");
    }

    #[test]
    fn onnx_codes_follow_tensor_proto() {
        assert_eq!(ElementType::Float32.onnx_code(), 1);
        assert_eq!(ElementType::Float64.onnx_code(), 11);
        assert_eq!(ElementType::Int64.onnx_code(), 7);
    }

    #[test]
    fn names_cover_types_not_yet_exchanged() {
        assert_eq!(ort_type_name(TensorElementType::Float32), "float32");
        assert_eq!(ort_type_name(TensorElementType::String), "string");
        assert_eq!(ort_type_name(TensorElementType::Bool), "bool");
    }
}
