//! Cutting a model's graph: tensors computed inside it exposed as extra outputs (`fetchDict` may
//! ask for them), which makes another model, keyed apart from the whole one.

use crate::onnx_proto;
use crate::{Error, Result};

/// The model's bytes with `outputs` exposed as graph outputs (as they are when there are none).
pub(super) fn cut(path: &str, bytes: Vec<u8>, outputs: &[String]) -> Result<Vec<u8>> {
    if outputs.is_empty() {
        return Ok(bytes);
    }
    let failed = |e: onnx_proto::DecodeError| Error::ModelLoad { path: path.into(), reason: e.to_string() };
    let computed = onnx_proto::computed_tensors(&bytes).map_err(failed)?;
    if let Some(unknown) = outputs.iter().find(|o| !computed.contains(*o)) {
        return Err(Error::InvalidInput(format!(
            "fetchDict asks for '{unknown}', which is neither an output of model {path} nor a tensor its graph computes"
        )));
    }
    onnx_proto::with_outputs(&bytes, outputs).map_err(failed)
}
