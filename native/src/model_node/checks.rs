//! Whether a batch's inputs fit the model: every model input fed exactly once, with the model's
//! element type and a shape that agrees with its fixed dimensions. A mistake is told in the user's
//! words: the column, the model input, what was expected and what came.

use std::borrow::Cow;

use ort::session::SessionInputValue;

use crate::exchange::ImportedInput;
use crate::signature::{Signature, TensorInfo, TensorKind};
use crate::tensor::{self, ElementType};
use crate::{Error, Result};

/// The session inputs for one batch, in the signature's order, once every input is checked.
pub(super) fn session_inputs<'a>(
    signature: &'a Signature,
    inputs: &'a [ImportedInput],
) -> Result<Vec<(Cow<'a, str>, SessionInputValue<'a>)>> {
    let mut values = Vec::with_capacity(inputs.len());
    for expected in &signature.inputs {
        let input = inputs.iter().find(|i| i.name == expected.name).ok_or_else(|| {
            Error::InvalidInput(format!(
                "model input '{}' is not fed: feedDict must map every model input ({}) to a column",
                expected.name,
                signature.input_names()
            ))
        })?;
        check_fits(input, expected)?;
        values.push((
            Cow::Borrowed(expected.name.as_str()),
            tensor::input_value(&input.values, input.element_type, &input.shape)?,
        ));
    }
    if let Some(extra) = inputs.iter().find(|i| signature.input(&i.name).is_none()) {
        return Err(Error::InvalidInput(format!(
            "column '{}' feeds '{}', which is not a model input; the model's inputs are: {}",
            extra.column,
            extra.name,
            signature.input_names()
        )));
    }
    Ok(values)
}

fn check_fits(input: &ImportedInput, expected: &TensorInfo) -> Result<()> {
    let fits_type = expected.kind == TensorKind::Tensor
        && ElementType::from_name(&expected.element_type) == Some(input.element_type);
    let fits_shape = input.shape.len() == expected.shape.len()
        && input.shape.iter().zip(&expected.shape).all(|(&got, &want)| want < 0 || got == want);
    if fits_type && fits_shape {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "column '{}' (model input '{}'): expected {} with shape {}, got {} with shape {:?}",
        input.column,
        input.name,
        expected.element_type,
        shape_text(expected),
        input.element_type.name(),
        input.shape
    )))
}

/// The expected shape as a user reads it: fixed dimensions as numbers, symbolic ones by their
/// symbol, or `?` when they have none.
fn shape_text(info: &TensorInfo) -> String {
    let dims: Vec<String> = info
        .shape
        .iter()
        .zip(info.dim_names.iter().map(String::as_str).chain(std::iter::repeat("")))
        .map(|(&d, name)| {
            if d >= 0 {
                d.to_string()
            } else if name.is_empty() {
                "?".into()
            } else {
                name.into()
            }
        })
        .collect();
    format!("[{}]", dims.join(", "))
}
