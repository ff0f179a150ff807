use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::{make_array, ArrayRef};
use arrow_buffer::{Buffer, MutableBuffer};
use arrow_data::ArrayData;

use crate::tensor::ElementType;
use crate::{Error, Result};

/// One model input as the JVM hands it over: the Arrow Java buffers it filled with the batch's values
/// (row-major, in the element type's input wire layout), the tensor's shape, and the names errors must
/// carry. The JVM has already rejected (or left out) null rows and elements, naming their position.
#[derive(Clone, Debug)]
pub struct InputBuffers {
    /// The ONNX input name.
    pub input: String,
    /// The DataFrame column(s) feeding it.
    pub column: String,
    /// The model's element type; the buffers hold `element_type.input_wire()`.
    pub element_type: ElementType,
    /// Full tensor shape (batch first, for batched models).
    pub shape: Vec<i64>,
    pub data_address: i64,
    pub data_length: i64,
    /// Strings only: i32 offsets into the data, one per element plus one.
    pub offsets_address: i64,
    pub offsets_length: i64,
}

/// An input after validation: an Arrow array over the JVM's memory, and the shape to view it with.
pub struct ImportedInput {
    pub name: String,
    pub column: String,
    pub element_type: ElementType,
    pub shape: Vec<i64>,
    pub values: ArrayRef,
}

/// Marks Arrow buffers whose memory belongs to the JVM: dropping the last reference frees nothing.
struct JvmOwned;

/// Wraps the JVM's buffers as an Arrow array without copying, after checking everything that could
/// make the wrap unsound or the result wrong: a null or misaligned address, a byte length that does
/// not match the shape, and for strings offsets out of order or bounds, or bytes that are not UTF-8.
///
/// # Safety
/// Each address must point to its length of readable bytes that stay valid and unchanged until the
/// returned array and every clone of it are dropped (the JNI call that hands them over must outlive them).
pub unsafe fn import(buffers: &InputBuffers) -> Result<ImportedInput> {
    let described = || format!("column '{}' (model input '{}')", buffers.column, buffers.input);
    let invalid = |what: String| Error::InvalidArgument(format!("{}: {what}", described()));
    if buffers.shape.iter().any(|&d| d < 0) {
        return Err(invalid(format!("batch shape {:?} has a negative dimension", buffers.shape)));
    }
    let elements = buffers
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
        .ok_or_else(|| invalid(format!("shape {:?} overflows", buffers.shape)))?;
    let wire = buffers.element_type.input_wire();
    let builder = ArrayData::builder(buffers.element_type.arrow_wire_type()).len(elements);
    let overflows = || invalid(format!("shape {:?} of {} overflows", buffers.shape, wire.name()));
    let builder = match wire.byte_size() {
        Some(size) => {
            let bytes = elements.checked_mul(size).ok_or_else(overflows)?;
            let data = jvm_buffer(buffers.data_address, buffers.data_length, bytes, size)
                .map_err(|e| invalid(format!("{e} (shape {:?} of {})", buffers.shape, wire.name())))?;
            builder.add_buffer(data)
        }
        None => {
            let offset_bytes = elements.checked_add(1).and_then(|n| n.checked_mul(4)).ok_or_else(overflows)?;
            let offsets = jvm_buffer(buffers.offsets_address, buffers.offsets_length, offset_bytes, 4)
                .map_err(|e| invalid(format!("string offsets: {e}")))?;
            let data_length = usize::try_from(buffers.data_length)
                .map_err(|_| invalid(format!("string bytes: negative length {}", buffers.data_length)))?;
            let data = jvm_buffer(buffers.data_address, buffers.data_length, data_length, 1)
                .map_err(|e| invalid(format!("string bytes: {e}")))?;
            builder.add_buffer(offsets).add_buffer(data)
        }
    };
    // `build` validates in full: offsets in order and in bounds, and UTF-8 for strings.
    let values = builder.build().map_err(|e| invalid(e.to_string()))?;
    Ok(ImportedInput {
        name: buffers.input.clone(),
        column: buffers.column.clone(),
        element_type: buffers.element_type,
        shape: buffers.shape.clone(),
        values: make_array(values),
    })
}

/// The JVM's `length` bytes at `address` as an Arrow buffer, if `length` is `expected` and the address
/// is non-null (unless empty) and aligned to `align`.
///
/// # Safety
/// As for [`import`]: `length` readable bytes at `address`, valid for the buffer's lifetime.
unsafe fn jvm_buffer(address: i64, length: i64, expected: usize, align: usize) -> std::result::Result<Buffer, String> {
    if usize::try_from(length).ok() != Some(expected) {
        return Err(format!("{length} bytes handed over, {expected} needed"));
    }
    if expected == 0 {
        // A zero-length tensor: nothing is read, but Arrow still wants the (dangling) address aligned
        // for the type, which an empty `Vec<u8>`'s is not; an empty MutableBuffer's is aligned to 64.
        return Ok(MutableBuffer::new(0).into());
    }
    let ptr = NonNull::new(address as *mut u8).ok_or("null address")?;
    if !(ptr.as_ptr() as usize).is_multiple_of(align) {
        return Err(format!("address {:#x} is not aligned to {align} bytes", ptr.as_ptr() as usize));
    }
    // SAFETY: the caller guarantees `expected` (== length) readable bytes at `ptr` for the buffer's
    // lifetime; `JvmOwned` makes the buffer free nothing when dropped.
    Ok(unsafe { Buffer::from_custom_allocation(ptr, expected, Arc::new(JvmOwned)) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float32Type;

    fn buffers(values: &[f32], shape: Vec<i64>) -> InputBuffers {
        InputBuffers {
            input: "features".into(),
            column: "feats".into(),
            element_type: ElementType::Float32,
            shape,
            data_address: values.as_ptr() as i64,
            data_length: std::mem::size_of_val(values) as i64,
            offsets_address: 0,
            offsets_length: 0,
        }
    }

    #[test]
    fn wraps_without_copying() {
        let values = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        // SAFETY: `values` outlives `imported`.
        let imported = unsafe { import(&buffers(&values, vec![2, 3])) }.expect("valid input");
        let array = imported.values.as_primitive::<Float32Type>();
        assert_eq!(array.values().as_ref(), &values);
        assert_eq!(array.values().as_ptr(), values.as_ptr(), "no copy was made");
        assert_eq!(imported.shape, vec![2, 3]);
    }

    #[test]
    fn rejects_length_that_does_not_match_shape() {
        let values = [1.0f32; 5];
        // SAFETY: `values` outlives the call.
        let err = unsafe { import(&buffers(&values, vec![2, 3])) }.err().expect("must fail");
        assert!(err.to_string().contains("column 'feats' (model input 'features')"), "{err}");
        assert!(err.to_string().contains("24 needed"), "{err}");
    }

    #[test]
    fn rejects_null_and_misaligned_addresses() {
        let mut b = buffers(&[1.0f32; 2], vec![2, 1]);
        b.data_address = 0;
        // SAFETY: a null address is rejected before any read.
        assert!(unsafe { import(&b) }.is_err());
        let bytes = [0u8; 16];
        let mut b = buffers(&[1.0f32; 2], vec![2, 1]);
        b.data_address = bytes.as_ptr() as i64 + 1 + (bytes.as_ptr() as i64 % 4 == 3) as i64;
        // SAFETY: a misaligned address is rejected before any read.
        let err = unsafe { import(&b) }.err().expect("must fail");
        assert!(err.to_string().contains("not aligned"), "{err}");
    }

    #[test]
    fn negative_dimension_is_rejected() {
        let values = [1.0f32; 2];
        // SAFETY: rejected before any read.
        assert!(unsafe { import(&buffers(&values, vec![-1, 2])) }.is_err());
    }
}
