use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use half::{bf16, f16};
use ort::session::SessionInputValue;
use ort::value::{Tensor, TensorElementType, TensorRef};

use crate::{Error, Result};

mod output;
pub use output::{Output, OutputKind};

/// ONNX tensor element types, by their `TensorProto.DataType` code (how the JVM names them) and
/// `name()` (how the signature JSON names them). Each has two layouts at the JVM boundary:
/// - as an input, the JVM writes `input_wire()`: the type itself, except that float16 and bfloat16
///   arrive as float32 (Java has no half floats) and are narrowed here;
/// - as an output, the JVM reads `output_wire()`: the Spark type it becomes. Spark has no unsigned or
///   half types, so those are widened here to the next type that holds every value.
///
/// jvm-bridge `ElementType.java` keeps the same table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementType {
    Float32,
    Uint8,
    Int8,
    Uint16,
    Int16,
    Int32,
    Int64,
    String,
    Bool,
    Float16,
    Float64,
    Uint32,
    Uint64,
    Bfloat16,
}

impl ElementType {
    pub const ALL: [ElementType; 14] = [
        Self::Float32,
        Self::Uint8,
        Self::Int8,
        Self::Uint16,
        Self::Int16,
        Self::Int32,
        Self::Int64,
        Self::String,
        Self::Bool,
        Self::Float16,
        Self::Float64,
        Self::Uint32,
        Self::Uint64,
        Self::Bfloat16,
    ];

    pub fn onnx_code(self) -> i32 {
        match self {
            Self::Float32 => 1,
            Self::Uint8 => 2,
            Self::Int8 => 3,
            Self::Uint16 => 4,
            Self::Int16 => 5,
            Self::Int32 => 6,
            Self::Int64 => 7,
            Self::String => 8,
            Self::Bool => 9,
            Self::Float16 => 10,
            Self::Float64 => 11,
            Self::Uint32 => 12,
            Self::Uint64 => 13,
            Self::Bfloat16 => 16,
        }
    }

    pub fn from_onnx_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.onnx_code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Float32 => "float32",
            Self::Uint8 => "uint8",
            Self::Int8 => "int8",
            Self::Uint16 => "uint16",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::String => "string",
            Self::Bool => "bool",
            Self::Float16 => "float16",
            Self::Float64 => "float64",
            Self::Uint32 => "uint32",
            Self::Uint64 => "uint64",
            Self::Bfloat16 => "bfloat16",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn from_ort(ty: TensorElementType) -> Option<Self> {
        Some(match ty {
            TensorElementType::Float32 => Self::Float32,
            TensorElementType::Uint8 => Self::Uint8,
            TensorElementType::Int8 => Self::Int8,
            TensorElementType::Uint16 => Self::Uint16,
            TensorElementType::Int16 => Self::Int16,
            TensorElementType::Int32 => Self::Int32,
            TensorElementType::Int64 => Self::Int64,
            TensorElementType::String => Self::String,
            TensorElementType::Bool => Self::Bool,
            TensorElementType::Float16 => Self::Float16,
            TensorElementType::Float64 => Self::Float64,
            TensorElementType::Uint32 => Self::Uint32,
            TensorElementType::Uint64 => Self::Uint64,
            TensorElementType::Bfloat16 => Self::Bfloat16,
            _ => return None,
        })
    }

    /// The type the JVM writes for an input of this type.
    pub fn input_wire(self) -> Self {
        match self {
            Self::Float16 | Self::Bfloat16 => Self::Float32,
            other => other,
        }
    }

    /// The type the JVM reads for an output of this type (its Spark column type's layout).
    pub fn output_wire(self) -> Self {
        match self {
            Self::Uint8 => Self::Int16,
            Self::Uint16 => Self::Int32,
            Self::Uint32 | Self::Uint64 => Self::Int64,
            Self::Float16 | Self::Bfloat16 => Self::Float32,
            other => other,
        }
    }

    /// Bytes per element of a fixed-width layout; None for strings.
    pub fn byte_size(self) -> Option<usize> {
        match self {
            Self::Int8 | Self::Uint8 | Self::Bool => Some(1),
            Self::Int16 | Self::Uint16 | Self::Float16 | Self::Bfloat16 => Some(2),
            Self::Float32 | Self::Int32 | Self::Uint32 => Some(4),
            Self::Float64 | Self::Int64 | Self::Uint64 => Some(8),
            Self::String => None,
        }
    }

    /// The Arrow type an input's wire buffer is imported as (bool travels as one byte per value).
    pub fn arrow_wire_type(self) -> DataType {
        match self.input_wire() {
            Self::Float32 => DataType::Float32,
            Self::Float64 => DataType::Float64,
            Self::Int8 => DataType::Int8,
            Self::Int16 => DataType::Int16,
            Self::Int32 => DataType::Int32,
            Self::Int64 => DataType::Int64,
            Self::Uint8 | Self::Bool => DataType::UInt8,
            Self::Uint16 => DataType::UInt16,
            Self::Uint32 => DataType::UInt32,
            Self::Uint64 => DataType::UInt64,
            Self::String => DataType::Utf8,
            Self::Float16 | Self::Bfloat16 => DataType::Float32,
        }
    }
}

/// The name a model's element type goes by in the signature, for every ONNX type (also those not exchanged).
pub fn ort_type_name(ty: TensorElementType) -> String {
    match ElementType::from_ort(ty) {
        Some(known) => known.name().to_string(),
        None => format!("{ty:?}").to_lowercase(),
    }
}

/// An ONNX Runtime value for a model input of type `element_type`, from the Arrow array imported from
/// the JVM: a zero-copy view where the wire layout is ONNX Runtime's, else a converted copy
/// (float16/bfloat16 from float32, bool from validated bytes, strings).
pub fn input_value<'a>(
    values: &'a ArrayRef,
    element_type: ElementType,
    shape: &[i64],
) -> Result<SessionInputValue<'a>> {
    macro_rules! view {
        ($arrow:ty) => {
            TensorRef::from_array_view((shape.to_vec(), values.as_primitive::<$arrow>().values().as_ref()))?.into()
        };
    }
    Ok(match element_type {
        ElementType::Float32 => view!(Float32Type),
        ElementType::Float64 => view!(Float64Type),
        ElementType::Int8 => view!(Int8Type),
        ElementType::Int16 => view!(Int16Type),
        ElementType::Int32 => view!(Int32Type),
        ElementType::Int64 => view!(Int64Type),
        ElementType::Uint8 => view!(UInt8Type),
        ElementType::Uint16 => view!(UInt16Type),
        ElementType::Uint32 => view!(UInt32Type),
        ElementType::Uint64 => view!(UInt64Type),
        ElementType::Float16 => {
            let mut narrowed =
                crate::error::with_capacity(values.len(), || format!("a float16 input of shape {shape:?}"))?;
            narrowed.extend(floats(values).iter().map(|&v| f16::from_f32(v)));
            Tensor::from_array((shape.to_vec(), narrowed))?.into()
        }
        ElementType::Bfloat16 => {
            let mut narrowed =
                crate::error::with_capacity(values.len(), || format!("a bfloat16 input of shape {shape:?}"))?;
            narrowed.extend(floats(values).iter().map(|&v| bf16::from_f32(v)));
            Tensor::from_array((shape.to_vec(), narrowed))?.into()
        }
        ElementType::Bool => {
            let bytes = values.as_primitive::<UInt8Type>().values();
            if let Some(bad) = bytes.iter().position(|&b| b > 1) {
                return Err(Error::InvalidArgument(format!("bool input byte {bad} is {}, not 0 or 1", bytes[bad])));
            }
            let mut bools = crate::error::with_capacity(bytes.len(), || format!("a bool input of shape {shape:?}"))?;
            bools.extend(bytes.iter().map(|&b| b == 1));
            Tensor::from_array((shape.to_vec(), bools))?.into()
        }
        ElementType::String => string_tensor(values.as_string::<i32>(), shape)?.into(),
    })
}

/// A string tensor of `shape` holding `strings`, each copied once into ONNX Runtime's own element
/// by its length (NUL bytes too, as ONNX Runtime's Python API takes them). `Tensor::from_string_array`
/// made an owned String and a C string of each first: two allocations and three copies a string.
fn string_tensor(strings: &arrow_array::StringArray, shape: &[i64]) -> Result<Tensor<String>> {
    use ort::AsPointer;
    let count = shape.iter().try_fold(1usize, |n, &d| usize::try_from(d).ok().and_then(|d| n.checked_mul(d)));
    let count = count.filter(|&n| n == strings.len()).ok_or_else(|| {
        Error::InvalidArgument(format!("{} strings for a string input of shape {shape:?}", strings.len()))
    })?;
    let allocator = ort::memory::Allocator::default();
    let mut value: *mut ort::sys::OrtValue = std::ptr::null_mut();
    // SAFETY: the default allocator is live for the call, `shape` holds `shape.len()` dimensions, and
    // ONNX Runtime writes the new value (its strings empty) to `value`.
    let status = unsafe {
        (ort::api().CreateTensorAsOrtValue)(
            allocator.ptr().cast_mut(),
            shape.as_ptr(),
            shape.len(),
            ort::sys::ONNXTensorElementDataType::ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING,
            &mut value,
        )
    };
    // SAFETY: the status comes from that call, and is taken (freed) here.
    unsafe { ort::Error::result_from_status(status) }?;
    let value = std::ptr::NonNull::new(value)
        .ok_or_else(|| Error::InvalidArgument(format!("no string tensor of shape {shape:?}")))?;
    // SAFETY: `value` is the tensor just made, with the allocator it was made with; the Tensor owns
    // it from here and releases it when dropped.
    let mut tensor: Tensor<String> = unsafe { ort::value::Value::from_ptr(value, Some(&allocator)) };
    for i in 0..strings.len() {
        let bytes = strings.value(i).as_bytes();
        // A new tensor's strings are empty: an empty one needs nothing written.
        if !bytes.is_empty() {
            put_string(&mut tensor, i, count, bytes)?;
        }
    }
    Ok(tensor)
}

/// Sets element `index` of a string tensor of `count` elements to `bytes`, whatever they hold.
fn put_string(tensor: &mut Tensor<String>, index: usize, count: usize, bytes: &[u8]) -> Result<()> {
    use ort::AsPointer;
    if index >= count {
        return Err(Error::InvalidArgument(format!("string element {index} of a tensor of {count}")));
    }
    let mut buffer: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: the tensor is a live string tensor and `index` one of its elements (checked above);
    // ONNX Runtime resizes that element to `bytes.len()` bytes and returns where they are.
    let status =
        unsafe { (ort::api().GetResizedStringTensorElementBuffer)(tensor.ptr_mut(), index, bytes.len(), &mut buffer) };
    // SAFETY: the status comes from that call, and is taken (freed) here.
    unsafe { ort::Error::result_from_status(status) }?;
    if buffer.is_null() {
        return Err(Error::InvalidArgument(format!("no buffer for string element {index}")));
    }
    // SAFETY: the element's buffer holds `bytes.len()` bytes, ONNX Runtime's, not `bytes`' memory.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buffer.cast::<u8>(), bytes.len()) };
    Ok(())
}

fn floats(values: &ArrayRef) -> &[f32] {
    values.as_primitive::<Float32Type>().values().as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnx_codes_and_names_round_trip() {
        for ty in ElementType::ALL {
            assert_eq!(ElementType::from_onnx_code(ty.onnx_code()), Some(ty));
            assert_eq!(ElementType::from_name(ty.name()), Some(ty));
        }
        assert_eq!(ElementType::from_onnx_code(14), None, "complex64 is not exchanged");
    }

    #[test]
    fn onnx_codes_follow_tensor_proto() {
        let codes: Vec<(ElementType, i32)> = vec![
            (ElementType::Float32, 1),
            (ElementType::Uint8, 2),
            (ElementType::String, 8),
            (ElementType::Bool, 9),
            (ElementType::Float16, 10),
            (ElementType::Float64, 11),
            (ElementType::Uint64, 13),
            (ElementType::Bfloat16, 16),
        ];
        for (ty, code) in codes {
            assert_eq!(ty.onnx_code(), code, "{ty:?}");
        }
    }

    #[test]
    fn outputs_widen_to_a_type_that_holds_every_value() {
        assert_eq!(ElementType::Uint8.output_wire(), ElementType::Int16);
        assert_eq!(ElementType::Uint16.output_wire(), ElementType::Int32);
        assert_eq!(ElementType::Uint32.output_wire(), ElementType::Int64);
        assert_eq!(ElementType::Float16.output_wire(), ElementType::Float32);
        assert_eq!(ElementType::Int8.output_wire(), ElementType::Int8);
        assert_eq!(ElementType::Float16.input_wire(), ElementType::Float32);
        assert_eq!(ElementType::Uint8.input_wire(), ElementType::Uint8);
    }

    #[test]
    fn names_cover_types_not_exchanged() {
        assert_eq!(ort_type_name(TensorElementType::Float32), "float32");
        assert_eq!(ort_type_name(TensorElementType::String), "string");
        assert_eq!(ort_type_name(TensorElementType::Complex64), "complex64");
    }
}
