//! Reading a model's signature: from a built session, or from the .onnx file alone without its
//! weights (as a driver does, which never needs a multi-gigabyte model's external data).

use std::path::Path;

use ort::session::Session;
use ort::value::{Outlet, ValueType};

use super::cut::cut;
use super::identity::read;
use super::session::bare_session;
use crate::onnx_proto::{self, TensorData};
use crate::signature::{Signature, TensorInfo, TensorKind};
use crate::tensor;
use crate::weights;
use crate::{Error, Result};

/// The signature of the model at `path`, read without its external data: the initializers kept in
/// external files are declared as inputs instead, which lets ONNX Runtime type every output while
/// only the .onnx file is read. `outputs` are tensors inside the graph to expose as extra outputs,
/// as [`open_with_outputs`](super::open_with_outputs) does.
pub fn read_signature(path: &str, outputs: &[String]) -> Result<Signature> {
    let failed = |reason: String| Error::ModelLoad { path: path.into(), reason };
    let bytes = cut(path, read(Path::new(path))?, outputs)?;
    let initializers = onnx_proto::initializers(&bytes).map_err(|e| failed(e.to_string()))?;
    // What ONNX Runtime would read of the inline ones, checked first, so a lie is told in our words.
    for initializer in &initializers {
        weights::check_inline(initializer).map_err(failed)?;
    }
    let external: Vec<String> =
        initializers.into_iter().filter(|i| matches!(i.data, TensorData::External { .. })).map(|i| i.name).collect();
    let weightless = if external.is_empty() {
        bytes
    } else {
        onnx_proto::external_initializers_as_inputs(&bytes).map_err(|e| failed(e.to_string()))?
    };
    let mut signature = signature_of(&bare_session(path, &weightless)?);
    signature.inputs.retain(|i| !external.contains(&i.name));
    Ok(signature)
}

/// The inputs and outputs of a built session.
pub(super) fn signature_of(session: &Session) -> Signature {
    let infos = |outlets: &[Outlet]| outlets.iter().map(|o| tensor_info(o.name(), o.dtype())).collect();
    Signature { inputs: infos(session.inputs()), outputs: infos(session.outputs()) }
}

fn tensor_info(name: &str, dtype: &ValueType) -> TensorInfo {
    let info = |kind: TensorKind, element_type: String, key_type: Option<String>| TensorInfo {
        name: name.into(),
        kind,
        element_type,
        key_type,
        shape: vec![],
        dim_names: vec![],
    };
    match dtype {
        ValueType::Tensor { ty, shape, dimension_symbols } => TensorInfo {
            shape: shape.to_vec(),
            dim_names: dimension_symbols.to_vec(),
            ..info(TensorKind::Tensor, tensor::ort_type_name(*ty), None)
        },
        ValueType::Sequence(inner) => match inner.as_ref() {
            ValueType::Map { key, value } => {
                info(TensorKind::Maps, tensor::ort_type_name(*value), Some(tensor::ort_type_name(*key)))
            }
            other => info(TensorKind::Other, format!("sequence of {other}"), None),
        },
        other => info(TensorKind::Other, format!("{other}"), None),
    }
}
