/// What a model input or output holds, as far as sparkort exchanges it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorKind {
    /// A tensor.
    Tensor,
    /// A sequence of maps, one per row (as scikit-learn's ZipMap returns).
    Maps,
    /// Any other value (a sequence of tensors, an optional), which sparkort cannot exchange.
    Other,
}

impl TensorKind {
    /// The name the signature JSON gives it, which `ModelSignature.java` reads.
    pub fn as_str(self) -> &'static str {
        match self {
            TensorKind::Tensor => "tensor",
            TensorKind::Maps => "maps",
            TensorKind::Other => "other",
        }
    }
}

/// One model input or output as the JVM needs it to plan columns: the element type by name,
/// the shape with -1 for symbolic dimensions, and the symbols themselves ("" when fixed).
#[derive(Clone, Debug, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub kind: TensorKind,
    /// Element type name from `tensor::ElementType::name` ("float32", ...): the tensor's, or the maps'
    /// values'; a description for other values.
    pub element_type: String,
    /// The maps' key type name.
    pub key_type: Option<String>,
    pub shape: Vec<i64>,
    pub dim_names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
}

impl Signature {
    pub fn input(&self, name: &str) -> Option<&TensorInfo> {
        self.inputs.iter().find(|i| i.name == name)
    }

    pub fn input_names(&self) -> String {
        self.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// A float32 tensor's description, for tests here and in other modules.
#[cfg(test)]
pub(crate) fn float_tensor(name: &str, shape: Vec<i64>, dims: &[&str]) -> TensorInfo {
    TensorInfo {
        name: name.into(),
        kind: TensorKind::Tensor,
        element_type: "float32".into(),
        key_type: None,
        shape,
        dim_names: dims.iter().map(|d| d.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, shape: Vec<i64>, dims: &[&str]) -> TensorInfo {
        float_tensor(name, shape, dims)
    }

    #[test]
    fn finds_inputs_by_name() {
        let signature =
            Signature { inputs: vec![info("a", vec![-1], &["N"]), info("b", vec![-1], &["N"])], outputs: vec![] };
        assert_eq!(signature.input("b").map(|i| i.name.as_str()), Some("b"));
        assert!(signature.input("c").is_none());
        assert_eq!(signature.input_names(), "a, b");
    }
}
