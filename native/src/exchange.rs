use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::{make_array, ArrayRef};
use arrow_buffer::Buffer;
use arrow_data::ArrayData;

use crate::tensor::ElementType;
use crate::{Error, Result};

/// One model input as the JVM hands it over: the address of the Arrow Java buffer it filled with the
/// batch's values (row-major), the batch's shape, and the names errors must carry. The JVM has
/// already rejected null rows and elements, naming their position in the partition.
#[derive(Clone, Debug)]
pub struct InputBuffers {
    /// The ONNX input name.
    pub input: String,
    /// The DataFrame column feeding it.
    pub column: String,
    pub element_type: ElementType,
    /// Full tensor shape, batch first.
    pub shape: Vec<i64>,
    pub data_address: i64,
    pub data_length: i64,
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

/// Wraps the JVM's buffer as an Arrow array without copying, after checking everything that could
/// make the wrap unsound or the result wrong: a null or misaligned address, or a byte length that
/// does not match the shape.
///
/// # Safety
/// `data_address` must point to `data_length` readable bytes that stay valid and unchanged until the
/// returned array and every clone of it are dropped (the JNI call that hands them over must outlive them).
pub unsafe fn import(buffers: &InputBuffers) -> Result<ImportedInput> {
    let described = || format!("column '{}' (model input '{}')", buffers.column, buffers.input);
    if buffers.shape.is_empty() || buffers.shape.iter().any(|&d| d < 0) {
        return Err(Error::InvalidArgument(format!(
            "{}: batch shape {:?} must be non-empty with no negative dimension",
            described(),
            buffers.shape
        )));
    }
    let elements = buffers
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
        .ok_or_else(|| Error::InvalidArgument(format!("{}: shape {:?} overflows", described(), buffers.shape)))?;
    let size = buffers.element_type.byte_size();
    let expected_bytes = elements * size;
    if buffers.data_length < 0 || buffers.data_length as usize != expected_bytes {
        return Err(Error::InvalidArgument(format!(
            "{}: {} bytes handed over, shape {:?} of {} needs {}",
            described(),
            buffers.data_length,
            buffers.shape,
            buffers.element_type.name(),
            expected_bytes
        )));
    }
    let data = if expected_bytes == 0 {
        Buffer::from_vec(Vec::<u8>::new())
    } else {
        let ptr = NonNull::new(buffers.data_address as *mut u8)
            .ok_or_else(|| Error::InvalidArgument(format!("{}: null data address", described())))?;
        if !(ptr.as_ptr() as usize).is_multiple_of(size) {
            return Err(Error::InvalidArgument(format!(
                "{}: data address {:#x} is not aligned to {} bytes",
                described(),
                ptr.as_ptr() as usize,
                size
            )));
        }
        // SAFETY: the caller guarantees `expected_bytes` (== data_length) readable bytes at `ptr` for the
        // array's lifetime; `JvmOwned` makes the buffer free nothing when dropped.
        unsafe { Buffer::from_custom_allocation(ptr, expected_bytes, Arc::new(JvmOwned)) }
    };
    let values = ArrayData::builder(buffers.element_type.arrow_type())
        .len(elements)
        .add_buffer(data)
        .build()
        .map_err(|e| Error::InvalidArgument(format!("{}: {e}", described())))?;
    Ok(ImportedInput {
        name: buffers.input.clone(),
        column: buffers.column.clone(),
        element_type: buffers.element_type,
        shape: buffers.shape.clone(),
        values: make_array(values),
    })
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
        assert!(err.to_string().contains("needs 24"), "{err}");
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
