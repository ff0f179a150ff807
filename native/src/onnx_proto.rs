//! Just enough of the ONNX protobuf format to find a model's top-level initializers (their data
//! inline or in external data files), to turn external ones into inputs, and to expose tensors computed inside the
//! graph as outputs, without a protobuf dependency.
//!
//! Field numbers are from onnx/onnx.proto3: ModelProto.graph = 7; GraphProto.node = 1,
//! initializer = 5, input = 11, output = 12, value_info = 13; NodeProto.output = 2;
//! ValueInfoProto.name = 1; TensorProto.dims = 1, data_type = 2, float_data = 4, int32_data = 5,
//! string_data = 6, int64_data = 7, name = 8, raw_data = 9, double_data = 10, uint64_data = 11,
//! external_data = 13, data_location = 14; StringStringEntryProto.key = 1, value = 2. Unknown fields
//! are copied as they are.

use std::collections::BTreeSet;

use thiserror::Error as ThisError;

#[derive(Debug, PartialEq, Eq, ThisError)]
#[error("not a readable ONNX model: {0}")]
pub struct DecodeError(String);

type Result<T> = std::result::Result<T, DecodeError>;

fn malformed(what: &str) -> DecodeError {
    DecodeError(what.into())
}

const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const GRAPH_INITIALIZER: u32 = 5;
const GRAPH_INPUT: u32 = 11;
const GRAPH_OUTPUT: u32 = 12;
const GRAPH_VALUE_INFO: u32 = 13;
const NODE_OUTPUT: u32 = 2;
const VALUE_INFO_NAME: u32 = 1;
const TENSOR_DIMS: u32 = 1;
const TENSOR_DATA_TYPE: u32 = 2;
const TENSOR_FLOAT_DATA: u32 = 4;
const TENSOR_INT32_DATA: u32 = 5;
const TENSOR_STRING_DATA: u32 = 6;
const TENSOR_INT64_DATA: u32 = 7;
const TENSOR_NAME: u32 = 8;
const TENSOR_DOUBLE_DATA: u32 = 10;
const TENSOR_UINT64_DATA: u32 = 11;
const TENSOR_RAW_DATA: u32 = 9;
const TENSOR_EXTERNAL_DATA: u32 = 13;
const TENSOR_DATA_LOCATION: u32 = 14;
const DATA_LOCATION_EXTERNAL: u64 = 1;

/// Where an initializer's bytes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TensorData<'m> {
    /// `raw_data`, little-endian, inside the model bytes.
    Raw(&'m [u8]),
    /// In a file beside the model: `location` relative to the model's folder, from `offset`,
    /// `length` bytes (the whole rest of the file when the model does not say).
    External { location: String, offset: u64, length: Option<u64> },
    /// In the typed repeated fields (`float_data`, ...): small tensors that writers did not pack.
    /// `values` counts the values those fields hold (a complex number takes two).
    Typed { values: u64 },
}

/// A top-level initializer (a graph weight) of a model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Initializer<'m> {
    pub name: String,
    /// `TensorProto.DataType` code (1 float, 11 double, ...).
    pub data_type: i32,
    pub dims: Vec<i64>,
    pub data: TensorData<'m>,
}

/// The model's top-level initializers, in graph order.
pub fn initializers(model: &[u8]) -> Result<Vec<Initializer<'_>>> {
    let mut out = Vec::new();
    for field in Fields::new(graph_of(model)?) {
        let field = field?;
        if field.number == GRAPH_INITIALIZER {
            out.push(tensor(field.bytes()?)?);
        }
    }
    Ok(out)
}

/// The distinct external data files the model's top-level initializers name, relative to its folder.
pub fn external_data_files(model: &[u8]) -> Result<Vec<String>> {
    let locations: BTreeSet<String> = initializers(model)?
        .into_iter()
        .filter_map(|i| match i.data {
            TensorData::External { location, .. } => Some(location),
            _ => None,
        })
        .collect();
    Ok(locations.into_iter().collect())
}

/// The model with each top-level initializer whose data is in an external file removed, and a graph
/// input of its name, type and shape declared instead. Every other field of the model and graph is
/// copied unchanged.
pub fn external_initializers_as_inputs(model: &[u8]) -> Result<Vec<u8>> {
    let mut graph = Vec::new();
    let mut inputs = Vec::new();
    for field in Fields::new(graph_of(model)?) {
        let field = field?;
        if field.number != GRAPH_INITIALIZER {
            graph.extend_from_slice(field.raw);
            continue;
        }
        let initializer = tensor(field.bytes()?)?;
        if matches!(initializer.data, TensorData::External { .. }) {
            put_bytes(&mut inputs, GRAPH_INPUT, &value_info(&initializer));
        } else {
            graph.extend_from_slice(field.raw);
        }
    }
    graph.extend_from_slice(&inputs);
    with_graph(model, &graph)
}

/// The model with `names`, tensors computed by its top-level nodes, added as graph outputs (typed
/// as the graph's `value_info` knows them, else left for ONNX Runtime to infer). Names that already
/// are outputs are left as they are. The caller checks the names with [`computed_tensors`].
pub fn with_outputs(model: &[u8], names: &[String]) -> Result<Vec<u8>> {
    let graph = graph_of(model)?;
    let mut outputs = BTreeSet::new();
    let mut typed = Vec::new();
    for field in Fields::new(graph) {
        let field = field?;
        match field.number {
            GRAPH_OUTPUT => {
                outputs.insert(value_info_name(field.bytes()?)?);
            }
            GRAPH_VALUE_INFO => typed.push((value_info_name(field.bytes()?)?, field.bytes()?)),
            _ => {}
        }
    }
    let mut added = graph.to_vec();
    for name in names.iter().filter(|n| !outputs.contains(*n)) {
        match typed.iter().find(|(n, _)| n == name) {
            Some((_, info)) => put_bytes(&mut added, GRAPH_OUTPUT, info),
            None => {
                let mut info = Vec::new();
                put_bytes(&mut info, VALUE_INFO_NAME, name.as_bytes());
                put_bytes(&mut added, GRAPH_OUTPUT, &info);
            }
        }
    }
    with_graph(model, &added)
}

/// The names of the tensors the graph's top-level nodes compute.
pub fn computed_tensors(model: &[u8]) -> Result<BTreeSet<String>> {
    let mut computed = BTreeSet::new();
    for field in Fields::new(graph_of(model)?) {
        let field = field?;
        if field.number == GRAPH_NODE {
            for node_field in Fields::new(field.bytes()?) {
                let node_field = node_field?;
                if node_field.number == NODE_OUTPUT {
                    computed.insert(string(node_field.bytes()?)?);
                }
            }
        }
    }
    Ok(computed)
}

fn value_info_name(bytes: &[u8]) -> Result<String> {
    for field in Fields::new(bytes) {
        let field = field?;
        if field.number == VALUE_INFO_NAME {
            return string(field.bytes()?);
        }
    }
    Ok(String::new())
}

/// The model with its graph replaced by `graph`, every other field copied.
fn with_graph(model: &[u8], graph: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(model.len() + graph.len());
    for field in Fields::new(model) {
        let field = field?;
        if field.number == MODEL_GRAPH {
            put_bytes(&mut out, MODEL_GRAPH, graph);
        } else {
            out.extend_from_slice(field.raw);
        }
    }
    Ok(out)
}

fn graph_of(model: &[u8]) -> Result<&[u8]> {
    let mut graph = None;
    for field in Fields::new(model) {
        let field = field?;
        if field.number == MODEL_GRAPH {
            graph = Some(field.bytes()?);
        }
    }
    graph.ok_or_else(|| malformed("the model has no graph"))
}

fn tensor(bytes: &[u8]) -> Result<Initializer<'_>> {
    let mut name = String::new();
    let mut data_type = 0;
    let mut dims = Vec::new();
    let mut raw = None;
    let mut external = false;
    let mut entries = Vec::new();
    let mut typed = 0u64;
    for field in Fields::new(bytes) {
        let field = field?;
        match field.number {
            TENSOR_FLOAT_DATA | TENSOR_INT32_DATA | TENSOR_STRING_DATA | TENSOR_INT64_DATA | TENSOR_DOUBLE_DATA
            | TENSOR_UINT64_DATA => typed = typed.saturating_add(repeated_count(&field)?),
            TENSOR_DIMS => match field.value {
                Value::Varint(d) => dims.push(d as i64),
                Value::Bytes(packed) => {
                    let mut at = 0;
                    while at < packed.len() {
                        dims.push(varint(packed, &mut at)? as i64);
                    }
                }
                _ => return Err(malformed("TensorProto.dims has the wrong wire type")),
            },
            TENSOR_DATA_TYPE => data_type = field.varint()? as i32,
            TENSOR_NAME => name = string(field.bytes()?)?,
            TENSOR_RAW_DATA => raw = Some(field.bytes()?),
            TENSOR_EXTERNAL_DATA => entries.push(entry(field.bytes()?)?),
            TENSOR_DATA_LOCATION => external = field.varint()? == DATA_LOCATION_EXTERNAL,
            _ => {}
        }
    }
    let data = if external {
        let find = |key: &str| entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        let number = |key: &str| -> Result<Option<u64>> {
            find(key)
                .map(|v| v.parse().map_err(|_| malformed(&format!("initializer '{name}': external {key} '{v}'"))))
                .transpose()
        };
        TensorData::External {
            location: find("location")
                .ok_or_else(|| malformed(&format!("initializer '{name}' is external but names no location")))?
                .to_string(),
            offset: number("offset")?.unwrap_or(0),
            length: number("length")?,
        }
    } else {
        raw.map_or(TensorData::Typed { values: typed }, TensorData::Raw)
    };
    Ok(Initializer { name, data_type, dims, data })
}

/// How many values one occurrence of a repeated field holds: one unpacked, or those packed in it.
fn repeated_count(field: &Field<'_>) -> Result<u64> {
    Ok(match (field.number, &field.value) {
        (TENSOR_STRING_DATA, _) | (_, Value::Varint(_) | Value::Fixed32 | Value::Fixed64) => 1,
        (TENSOR_FLOAT_DATA, Value::Bytes(b)) => b.len() as u64 / 4,
        (TENSOR_DOUBLE_DATA, Value::Bytes(b)) => b.len() as u64 / 8,
        (_, Value::Bytes(packed)) => {
            // Packed varints: each ends at a byte without the continuation bit.
            packed.iter().filter(|&&b| b & 0x80 == 0).count() as u64
        }
    })
}

fn entry(bytes: &[u8]) -> Result<(String, String)> {
    let (mut key, mut value) = (String::new(), String::new());
    for field in Fields::new(bytes) {
        let field = field?;
        match field.number {
            1 => key = string(field.bytes()?)?,
            2 => value = string(field.bytes()?)?,
            _ => {}
        }
    }
    Ok((key, value))
}

fn string(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed("a name is not UTF-8"))
}

/// A ValueInfoProto declaring a tensor of the initializer's name, element type and fixed shape.
fn value_info(init: &Initializer<'_>) -> Vec<u8> {
    let mut shape = Vec::new();
    for &d in &init.dims {
        let mut dim = Vec::new();
        put_varint_field(&mut dim, 1, d as u64);
        put_bytes(&mut shape, 1, &dim);
    }
    let mut tensor_type = Vec::new();
    put_varint_field(&mut tensor_type, 1, init.data_type as u64);
    put_bytes(&mut tensor_type, 2, &shape);
    let mut type_proto = Vec::new();
    put_bytes(&mut type_proto, 1, &tensor_type);
    let mut out = Vec::new();
    put_bytes(&mut out, 1, init.name.as_bytes());
    put_bytes(&mut out, 2, &type_proto);
    out
}

// ---- wire format ----

enum Value<'b> {
    Varint(u64),
    Fixed64,
    Fixed32,
    Bytes(&'b [u8]),
}

struct Field<'b> {
    number: u32,
    value: Value<'b>,
    /// The whole field as encoded, key included.
    raw: &'b [u8],
}

impl<'b> Field<'b> {
    fn bytes(&self) -> Result<&'b [u8]> {
        match self.value {
            Value::Bytes(b) => Ok(b),
            _ => Err(malformed(&format!("field {} should be length-delimited", self.number))),
        }
    }

    fn varint(&self) -> Result<u64> {
        match self.value {
            Value::Varint(v) => Ok(v),
            _ => Err(malformed(&format!("field {} should be a varint", self.number))),
        }
    }
}

/// The fields of one message, in order.
struct Fields<'b> {
    bytes: &'b [u8],
    at: usize,
    failed: bool,
}

impl<'b> Fields<'b> {
    fn new(bytes: &'b [u8]) -> Self {
        Fields { bytes, at: 0, failed: false }
    }

    fn read(&mut self) -> Result<Field<'b>> {
        let start = self.at;
        let key = varint(self.bytes, &mut self.at)?;
        let number = u32::try_from(key >> 3).map_err(|_| malformed("field number out of range"))?;
        let value = match key & 7 {
            0 => Value::Varint(varint(self.bytes, &mut self.at)?),
            1 => {
                self.skip(8)?;
                Value::Fixed64
            }
            2 => {
                let len =
                    usize::try_from(varint(self.bytes, &mut self.at)?).map_err(|_| malformed("length out of range"))?;
                let from = self.at;
                self.skip(len)?;
                Value::Bytes(&self.bytes[from..self.at])
            }
            5 => {
                self.skip(4)?;
                Value::Fixed32
            }
            other => return Err(malformed(&format!("unsupported wire type {other}"))),
        };
        Ok(Field { number, value, raw: &self.bytes[start..self.at] })
    }

    fn skip(&mut self, len: usize) -> Result<()> {
        match self.at.checked_add(len) {
            Some(end) if end <= self.bytes.len() => {
                self.at = end;
                Ok(())
            }
            _ => Err(malformed("a field runs past the end of its message")),
        }
    }
}

impl<'b> Iterator for Fields<'b> {
    type Item = Result<Field<'b>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.bytes.len() {
            return None;
        }
        let field = self.read();
        self.failed = field.is_err();
        Some(field)
    }
}

fn varint(bytes: &[u8], at: &mut usize) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at).ok_or_else(|| malformed("a varint runs past the end"))?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(malformed("a varint is longer than 10 bytes"))
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    put_varint(out, u64::from(number) << 3);
    put_varint(out, value);
}

fn put_bytes(out: &mut Vec<u8>, number: u32, bytes: &[u8]) {
    put_varint(out, (u64::from(number) << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs_of(model: &[u8]) -> Vec<(String, Vec<u8>)> {
        Fields::new(graph_of(model).expect("graph"))
            .map(|f| f.expect("field"))
            .filter(|f| f.number == GRAPH_OUTPUT)
            .map(|f| (value_info_name(f.bytes().expect("bytes")).expect("name"), f.bytes().expect("bytes").to_vec()))
            .collect()
    }

    #[test]
    fn computed_tensors_become_outputs_typed_when_the_graph_knows_them() {
        let named = |name: &str, extra: &[u8]| {
            let mut info = Vec::new();
            put_bytes(&mut info, VALUE_INFO_NAME, name.as_bytes());
            info.extend_from_slice(extra);
            info
        };
        let mut graph = Vec::new();
        for (inputs, output) in [("x", "h"), ("h", "g"), ("g", "y")] {
            let mut node = Vec::new();
            put_bytes(&mut node, 1, inputs.as_bytes());
            put_bytes(&mut node, NODE_OUTPUT, output.as_bytes());
            put_bytes(&mut graph, GRAPH_NODE, &node);
        }
        put_bytes(&mut graph, GRAPH_OUTPUT, &named("y", &[]));
        let h_type = named("h", &[0x12, 0x02, 0x0a, 0x00]); // type: an empty TypeProto.tensor_type
        put_bytes(&mut graph, GRAPH_VALUE_INFO, &h_type);
        let mut model = Vec::new();
        put_varint_field(&mut model, 1, 8); // ir_version, copied as is
        put_bytes(&mut model, MODEL_GRAPH, &graph);

        let cut = with_outputs(&model, &["h".into(), "g".into(), "y".into()]).expect("cut");
        let outputs = outputs_of(&cut);
        let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["y", "h", "g"], "existing outputs stay first and are not repeated");
        assert_eq!(outputs[1].1, h_type, "h keeps the type value_info gives it");
        assert_eq!(outputs[2].1, named("g", &[]), "g is left for ONNX Runtime to type");
        assert_eq!(&cut[..2], &model[..2], "other model fields are copied");
    }

    fn put_packed(out: &mut Vec<u8>, number: u32, values: &[i64]) {
        let mut packed = Vec::new();
        for &v in values {
            put_varint(&mut packed, v as u64);
        }
        put_bytes(out, number, &packed);
    }

    fn entry_bytes(key: &str, value: &str) -> Vec<u8> {
        let mut e = Vec::new();
        put_bytes(&mut e, 1, key.as_bytes());
        put_bytes(&mut e, 2, value.as_bytes());
        e
    }

    fn raw_tensor(name: &str, dims: &[i64], raw: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        put_packed(&mut t, TENSOR_DIMS, dims);
        put_varint_field(&mut t, TENSOR_DATA_TYPE, 1);
        put_bytes(&mut t, TENSOR_NAME, name.as_bytes());
        put_bytes(&mut t, TENSOR_RAW_DATA, raw);
        t
    }

    fn external_tensor(name: &str, location: &str, offset: &str) -> Vec<u8> {
        let mut t = Vec::new();
        // Unpacked dims, as some writers emit them.
        put_varint_field(&mut t, TENSOR_DIMS, 2);
        put_varint_field(&mut t, TENSOR_DIMS, 3);
        put_varint_field(&mut t, TENSOR_DATA_TYPE, 11);
        put_bytes(&mut t, TENSOR_NAME, name.as_bytes());
        put_bytes(&mut t, TENSOR_EXTERNAL_DATA, &entry_bytes("location", location));
        put_bytes(&mut t, TENSOR_EXTERNAL_DATA, &entry_bytes("offset", offset));
        put_bytes(&mut t, TENSOR_EXTERNAL_DATA, &entry_bytes("length", "48"));
        put_varint_field(&mut t, TENSOR_DATA_LOCATION, DATA_LOCATION_EXTERNAL);
        t
    }

    fn typed_tensor(name: &str) -> Vec<u8> {
        let mut t = Vec::new();
        put_varint_field(&mut t, TENSOR_DATA_TYPE, 7);
        put_bytes(&mut t, TENSOR_NAME, name.as_bytes());
        put_packed(&mut t, 7, &[5]); // int64_data
        t
    }

    /// A model with a node, an input and three initializers; `node` comes back to check copying.
    fn model() -> (Vec<u8>, Vec<u8>) {
        let mut node = Vec::new();
        put_bytes(&mut node, 1, b"x");
        put_bytes(&mut node, 4, b"MatMul");
        let mut graph = Vec::new();
        put_bytes(&mut graph, 1, &node);
        put_bytes(&mut graph, GRAPH_INITIALIZER, &raw_tensor("w", &[2, 1], &[0, 0, 128, 63, 0, 0, 0, 64]));
        put_bytes(&mut graph, GRAPH_INITIALIZER, &external_tensor("big", "weights/big.bin", "4096"));
        put_bytes(&mut graph, GRAPH_INITIALIZER, &external_tensor("big2", "weights/big.bin", "0"));
        put_bytes(&mut graph, GRAPH_INITIALIZER, &typed_tensor("k"));
        let mut input = Vec::new();
        put_bytes(&mut input, 1, b"x");
        put_bytes(&mut graph, GRAPH_INPUT, &input);
        let mut model = Vec::new();
        put_varint_field(&mut model, 1, 8); // ir_version
        put_bytes(&mut model, MODEL_GRAPH, &graph);
        put_bytes(&mut model, 2, b"sparkort-tests"); // producer_name, after the graph
        (model, node)
    }

    #[test]
    fn finds_inline_external_and_typed_initializers() {
        let (model, _) = model();
        let found = initializers(&model).expect("decodes");
        assert_eq!(found.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["w", "big", "big2", "k"]);
        assert_eq!(found[0].dims, [2, 1]);
        assert_eq!(found[0].data_type, 1);
        assert_eq!(found[0].data, TensorData::Raw(&[0, 0, 128, 63, 0, 0, 0, 64]));
        assert_eq!(found[1].dims, [2, 3], "unpacked dims");
        assert_eq!(found[1].data_type, 11);
        assert_eq!(
            found[1].data,
            TensorData::External { location: "weights/big.bin".into(), offset: 4096, length: Some(48) }
        );
        assert_eq!(found[3].data, TensorData::Typed { values: 1 });
        assert_eq!(external_data_files(&model).expect("decodes"), ["weights/big.bin"]);
    }

    #[test]
    fn external_initializers_can_become_inputs() {
        let (model, _) = model();
        let rewritten = external_initializers_as_inputs(&model).expect("rewrites");
        let names: Vec<String> = initializers(&rewritten).expect("decodes").into_iter().map(|i| i.name).collect();
        assert_eq!(names, ["w", "k"]);
        let inputs: Vec<Vec<u8>> = Fields::new(graph_of(&rewritten).expect("graph"))
            .map(|f| f.expect("field"))
            .filter(|f| f.number == GRAPH_INPUT)
            .map(|f| f.bytes().expect("message").to_vec())
            .collect();
        assert_eq!(inputs.len(), 3);
        let mut expected = Vec::new();
        put_bytes(&mut expected, 1, b"big");
        let dim = |d: u64| {
            let mut v = Vec::new();
            put_varint_field(&mut v, 1, d);
            v
        };
        let mut shape = Vec::new();
        put_bytes(&mut shape, 1, &dim(2));
        put_bytes(&mut shape, 1, &dim(3));
        let mut tensor_type = Vec::new();
        put_varint_field(&mut tensor_type, 1, 11);
        put_bytes(&mut tensor_type, 2, &shape);
        let mut type_proto = Vec::new();
        put_bytes(&mut type_proto, 1, &tensor_type);
        put_bytes(&mut expected, 2, &type_proto);
        assert_eq!(inputs[1], expected, "name, double, [2, 3]");
    }

    #[test]
    fn truncated_or_graphless_bytes_are_errors_not_panics() {
        let (model, _) = model();
        for cut in [1, 5, model.len() / 2, model.len() - 3] {
            assert!(initializers(&model[..cut]).is_err(), "cut at {cut}");
        }
        let mut no_graph = Vec::new();
        put_varint_field(&mut no_graph, 1, 8);
        assert_eq!(initializers(&no_graph), Err(malformed("the model has no graph")));
        assert!(initializers(&[0xff; 12]).is_err(), "an over-long varint");
        assert!(initializers(&[0x0b]).is_err(), "a group (wire type 3)");
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX, (-1i64) as u64] {
            let mut bytes = Vec::new();
            put_varint(&mut bytes, value);
            let mut at = 0;
            assert_eq!(varint(&bytes, &mut at), Ok(value));
            assert_eq!(at, bytes.len());
        }
    }
}
