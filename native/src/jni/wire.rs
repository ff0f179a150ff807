//! Every format that crosses the JNI boundary, each once: a struct with named offsets, and the one
//! function that writes it (for what this library sends) or parses and checks it (for what the JVM
//! sends: lengths, counts and ranges, before anything else reads it). The JVM's side of each is
//! `jvm-bridge/.../NativeWire.java`; `native/tests/wire-golden.json` holds an example of each that
//! both sides' tests read (`cargo test --test wire_golden`, `NativeWireGoldenTest`), so a format
//! changed on one side only fails a unit test. A format changes here and in `NativeWire` only.
//!
//! | Export                    | Direction | Format                                                      |
//! |---------------------------|-----------|-------------------------------------------------------------|
//! | `openModel`               | out       | [`OpenReport`] in the caller's `long[]`                     |
//! | `modelStats`              | out       | [`StatsRecord`] as a `long[]`                               |
//! | `run`                     | in        | [`RunArrays`]: parallel arrays, [`InputRecord`] per input   |
//! | `resultOutputs`           | out       | [`OutputRecord`] per fetched output, one `long[]`           |
//! | `layRows`, `gatherFeeds`, `fillRows`, `rowGrowth` | in | [`RowLayout`] as a `long[]`       |
//! | `layRows`, `gatherFeeds`  | in        | [`FeedRecord`] per model input, one `long[]`                |
//! | `fillRows`                | in        | [`PredictionRecord`] as a `long[]`                          |
//! | `modelSignature`          | out       | [`signature_json`]: a JSON object                           |
//! | `externalDataFiles`       | out       | [`file_list_json`]: a JSON array of strings                 |
//! | `drainLog`                | out       | [`log_text`]: `LEVEL message` lines                         |
//!
//! Row boundaries (`int[] starts`, `rows + 1` of them) and tensor slots (`int[] slots`, one per row,
//! negative for none) are plain arrays, read by `super::arrays::int_prefix`.

use log::Level;
use serde_json::{json, Value};

use crate::exchange::InputBuffers;
use crate::model_node::ModelStats;
use crate::signature::{Signature, TensorInfo};
use crate::tensor::{ElementType, Output};
use crate::unsafe_rows::{ArrayFeed, Layout, Prediction};
use crate::{Error, Result};

fn malformed(what: &str, wire: &[i64]) -> Error {
    Error::InvalidArgument(format!("{what} {wire:?} is malformed"))
}

/// A value the JVM sent as a `long` that must be a size or index.
fn index(v: i64, bad: impl Fn() -> Error) -> Result<usize> {
    usize::try_from(v).map_err(|_| bad())
}

/// A size this library sends as a `long` (saturating: no size here reaches it).
fn long(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// `openModel(.., long[] loadNanos)`: what the call reports back in the caller's array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// Nanoseconds this call spent loading the model; 0 when it was open already.
    pub load_nanos: i64,
}

impl OpenReport {
    pub const LOAD_NANOS: usize = 0;
    pub const WIDTH: usize = 1;

    pub fn encode(&self) -> [i64; Self::WIDTH] {
        let mut w = [0; Self::WIDTH];
        w[Self::LOAD_NANOS] = self.load_nanos;
        w
    }

    pub fn decode(w: &[i64]) -> Result<Self> {
        if w.len() != Self::WIDTH {
            return Err(malformed("open report", w));
        }
        Ok(OpenReport { load_nanos: w[Self::LOAD_NANOS] })
    }
}

/// `modelStats`: a model node's figures (`model_node::ModelStats`, less its disk bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatsRecord {
    pub load_nanos: i64,
    pub sessions: i64,
    pub intra_threads: i64,
    pub weight_bytes: i64,
    pub peak_concurrent_runs: i64,
    /// Loads of this content in this process, with any options.
    pub loads: i64,
}

impl StatsRecord {
    pub const LOAD_NANOS: usize = 0;
    pub const SESSIONS: usize = 1;
    pub const INTRA_THREADS: usize = 2;
    pub const WEIGHT_BYTES: usize = 3;
    pub const PEAK_CONCURRENT_RUNS: usize = 4;
    pub const LOADS: usize = 5;
    pub const WIDTH: usize = 6;

    pub fn of(s: &ModelStats) -> Self {
        StatsRecord {
            load_nanos: long(s.load_nanos),
            sessions: long(s.sessions),
            intra_threads: long(s.intra_threads),
            weight_bytes: long(s.weight_bytes),
            peak_concurrent_runs: long(s.peak_concurrent_runs),
            loads: long(s.loads),
        }
    }

    pub fn encode(&self) -> [i64; Self::WIDTH] {
        let mut w = [0; Self::WIDTH];
        w[Self::LOAD_NANOS] = self.load_nanos;
        w[Self::SESSIONS] = self.sessions;
        w[Self::INTRA_THREADS] = self.intra_threads;
        w[Self::WEIGHT_BYTES] = self.weight_bytes;
        w[Self::PEAK_CONCURRENT_RUNS] = self.peak_concurrent_runs;
        w[Self::LOADS] = self.loads;
        w
    }

    pub fn decode(w: &[i64]) -> Result<Self> {
        if w.len() != Self::WIDTH {
            return Err(malformed("model stats", w));
        }
        Ok(StatsRecord {
            load_nanos: w[Self::LOAD_NANOS],
            sessions: w[Self::SESSIONS],
            intra_threads: w[Self::INTRA_THREADS],
            weight_bytes: w[Self::WEIGHT_BYTES],
            peak_concurrent_runs: w[Self::PEAK_CONCURRENT_RUNS],
            loads: w[Self::LOADS],
        })
    }
}

/// `run`'s per-input memory, `buffers[WIDTH * i..WIDTH * (i + 1)]` for input `i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputRecord {
    pub data_address: i64,
    pub data_bytes: i64,
    /// Strings only (else 0): int32 offsets, one per element plus one.
    pub offsets_address: i64,
    pub offsets_bytes: i64,
}

impl InputRecord {
    pub const DATA_ADDRESS: usize = 0;
    pub const DATA_BYTES: usize = 1;
    pub const OFFSETS_ADDRESS: usize = 2;
    pub const OFFSETS_BYTES: usize = 3;
    pub const WIDTH: usize = 4;
}

/// `run`'s arguments but the handle and the fetched names: input `i` is `names[i]`, fed from
/// `columns[i]` (named in errors), of ONNX element type code `element_types[i]`, with shape the
/// next `ranks[i]` values of `shapes` (batch first for batched models), in the memory of
/// [`InputRecord`] `i` of `buffers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunArrays {
    pub names: Vec<String>,
    pub columns: Vec<String>,
    pub element_types: Vec<i32>,
    pub shapes: Vec<i64>,
    pub ranks: Vec<i32>,
    pub buffers: Vec<i64>,
}

impl RunArrays {
    /// The inputs, once the arrays are checked to agree on their number and the shapes on their ranks.
    pub fn decode(self) -> Result<Vec<InputBuffers>> {
        let RunArrays { names, columns, element_types, shapes, ranks, buffers } = self;
        let n = names.len();
        if columns.len() != n || element_types.len() != n || ranks.len() != n || buffers.len() != InputRecord::WIDTH * n
        {
            return Err(Error::InvalidArgument("run: argument arrays disagree on the number of inputs".into()));
        }
        let mut dims = shapes.into_iter();
        let mut out = Vec::with_capacity(n);
        for (i, ((input, column), record)) in
            names.into_iter().zip(columns).zip(buffers.chunks_exact(InputRecord::WIDTH)).enumerate()
        {
            let element_type = ElementType::from_onnx_code(element_types[i]).ok_or_else(|| {
                Error::InvalidArgument(format!("input '{input}': unsupported element type code {}", element_types[i]))
            })?;
            let rank = usize::try_from(ranks[i]).unwrap_or(0);
            let shape: Vec<i64> = dims.by_ref().take(rank).collect();
            if shape.len() != rank {
                return Err(Error::InvalidArgument("run: shapes shorter than ranks say".into()));
            }
            out.push(InputBuffers {
                input,
                column,
                element_type,
                shape,
                data_address: record[InputRecord::DATA_ADDRESS],
                data_length: record[InputRecord::DATA_BYTES],
                offsets_address: record[InputRecord::OFFSETS_ADDRESS],
                offsets_length: record[InputRecord::OFFSETS_BYTES],
            });
        }
        Ok(out)
    }

    /// The arrays the JVM sends for `inputs` (for tests: the JVM's `NativeWire` writes them).
    pub fn encode(inputs: &[InputBuffers]) -> RunArrays {
        let mut arrays = RunArrays {
            names: vec![],
            columns: vec![],
            element_types: vec![],
            shapes: vec![],
            ranks: vec![],
            buffers: vec![],
        };
        for input in inputs {
            arrays.names.push(input.input.clone());
            arrays.columns.push(input.column.clone());
            arrays.element_types.push(input.element_type.onnx_code());
            arrays.ranks.push(i32::try_from(input.shape.len()).unwrap_or(i32::MAX));
            arrays.shapes.extend(&input.shape);
            let mut record = [0; InputRecord::WIDTH];
            record[InputRecord::DATA_ADDRESS] = input.data_address;
            record[InputRecord::DATA_BYTES] = input.data_length;
            record[InputRecord::OFFSETS_ADDRESS] = input.offsets_address;
            record[InputRecord::OFFSETS_BYTES] = input.offsets_length;
            arrays.buffers.extend(record);
        }
        arrays
    }
}

/// `resultOutputs`: one fetched output of a run, `HEADER` values (kind, element type code, key
/// type code or -1, rank), then the `rank` dims, the number of buffers, and address and bytes of
/// each; the outputs follow one another in one `long[]`. Addresses stay valid until `closeResult`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputRecord {
    /// `tensor::OutputKind` as a number: 0 a tensor, 1 a sequence of maps.
    pub kind: i64,
    /// Wire element type code of the tensor or the maps' values (already widened to its Spark type).
    pub element_type: i64,
    /// Wire element type code of the maps' keys; -1 for none.
    pub key_type: i64,
    pub shape: Vec<i64>,
    /// (address, bytes) per buffer; see `tensor::OutputKind` for what each holds.
    pub buffers: Vec<(i64, i64)>,
}

impl OutputRecord {
    pub const KIND: usize = 0;
    pub const ELEMENT_TYPE: usize = 1;
    pub const KEY_TYPE: usize = 2;
    pub const RANK: usize = 3;
    /// Values before the dims.
    pub const HEADER: usize = 4;
    /// Values per buffer, after the buffer count.
    pub const BUFFER_WIDTH: usize = 2;

    pub fn of(output: &Output) -> Self {
        OutputRecord {
            kind: output.kind as i64,
            element_type: i64::from(output.element_type.onnx_code()),
            key_type: output.key_type.map_or(-1, |k| i64::from(k.onnx_code())),
            shape: output.shape.clone(),
            buffers: output.buffers().iter().map(|&(address, bytes)| (address as i64, long(bytes))).collect(),
        }
    }

    fn encode_into(&self, w: &mut Vec<i64>) {
        let mut header = [0; Self::HEADER];
        header[Self::KIND] = self.kind;
        header[Self::ELEMENT_TYPE] = self.element_type;
        header[Self::KEY_TYPE] = self.key_type;
        header[Self::RANK] = long(self.shape.len());
        w.extend(header);
        w.extend(&self.shape);
        w.push(long(self.buffers.len()));
        for &(address, bytes) in &self.buffers {
            w.extend([address, bytes]);
        }
    }

    /// The `long[]` for a run's outputs, in order.
    pub fn encode_all(outputs: &[OutputRecord]) -> Vec<i64> {
        let mut w = Vec::new();
        outputs.iter().for_each(|o| o.encode_into(&mut w));
        w
    }

    /// The outputs of a `resultOutputs` array (for tests: the JVM's `NativeWire` reads them).
    pub fn decode_all(w: &[i64]) -> Result<Vec<OutputRecord>> {
        let bad = || malformed("result description", w);
        let mut outputs = Vec::new();
        let mut at = 0;
        while at < w.len() {
            let header = w.get(at..at + Self::HEADER).ok_or_else(bad)?;
            let rank = index(header[Self::RANK], bad)?;
            let shape = w.get(at + Self::HEADER..at + Self::HEADER + rank).ok_or_else(bad)?.to_vec();
            at += Self::HEADER + rank;
            let count = index(*w.get(at).ok_or_else(bad)?, bad)?;
            let pairs = w.get(at + 1..at + 1 + Self::BUFFER_WIDTH * count).ok_or_else(bad)?;
            at += 1 + Self::BUFFER_WIDTH * count;
            outputs.push(OutputRecord {
                kind: header[Self::KIND],
                element_type: header[Self::ELEMENT_TYPE],
                key_type: header[Self::KEY_TYPE],
                shape,
                buffers: pairs.chunks_exact(Self::BUFFER_WIDTH).map(|p| (p[0], p[1])).collect(),
            });
        }
        Ok(outputs)
    }
}

/// The bytes and element count reserved in each laid row for one prediction: (0, 0) for one value
/// in the field's slot, else an UnsafeArrayData of `elements` elements taking `bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservedArray {
    pub bytes: usize,
    pub elements: usize,
}

/// The layout of a plan's laid rows (see `unsafe_rows`): `[INPUT_BITSET_BYTES, BITSET_BYTES,
/// INPUT_FIELDS, moved count, the moved ordinals..., prediction count, (bytes, elements) of each
/// prediction's reserved array...]`. `moved` are the input's variable-length fields, whose offsets
/// move when the row is laid out. Checked against UnsafeRow's format by [`RowLayout::layout`] and
/// [`Layout::new`], which works out the derived sizes (the row's growth, which the JVM asks for
/// with `rowGrowth` rather than working it out again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowLayout {
    pub input_bitset_bytes: usize,
    pub bitset_bytes: usize,
    pub input_fields: usize,
    pub moved: Vec<usize>,
    pub arrays: Vec<ReservedArray>,
}

impl RowLayout {
    pub const INPUT_BITSET_BYTES: usize = 0;
    pub const BITSET_BYTES: usize = 1;
    pub const INPUT_FIELDS: usize = 2;
    /// The moved count; the counted lists follow one another from here.
    pub const MOVED_COUNT: usize = 3;
    /// Values per prediction, after the prediction count.
    pub const ARRAY_WIDTH: usize = 2;

    pub fn decode(w: &[i64]) -> Result<Self> {
        let bad = || malformed("row layout", w);
        let mut values = w.iter().map(|&v| index(v, bad));
        let mut next = || values.next().unwrap_or_else(|| Err(bad()));
        // Counts beyond the description's length, and sizes beyond an int, cannot be Java's.
        let count = |n: usize| if n <= w.len() { Ok(n) } else { Err(bad()) };
        let size = |n: usize| if n <= i32::MAX as usize { Ok(n) } else { Err(bad()) };
        let input_bitset_bytes = next()?;
        let bitset_bytes = next()?;
        let input_fields = size(next()?)?;
        let moved = (0..count(next()?)?).map(|_| next()).collect::<Result<Vec<_>>>()?;
        let arrays = (0..count(next()?)?)
            .map(|_| Ok(ReservedArray { bytes: size(next()?)?, elements: next()? }))
            .collect::<Result<Vec<_>>>()?;
        Ok(RowLayout { input_bitset_bytes, bitset_bytes, input_fields, moved, arrays })
    }

    /// The `long[]` the JVM sends (for tests: the JVM's `NativeWire` writes it).
    pub fn encode(&self) -> Vec<i64> {
        let mut w = vec![0; Self::MOVED_COUNT];
        w[Self::INPUT_BITSET_BYTES] = long(self.input_bitset_bytes);
        w[Self::BITSET_BYTES] = long(self.bitset_bytes);
        w[Self::INPUT_FIELDS] = long(self.input_fields);
        w.push(long(self.moved.len()));
        w.extend(self.moved.iter().map(|&m| long(m)));
        w.push(long(self.arrays.len()));
        for a in &self.arrays {
            w.extend([long(a.bytes), long(a.elements)]);
        }
        w
    }

    /// The layout the JVM sent, parsed and checked: its bitset sizes must be UnsafeRow's for its fields.
    pub fn layout(w: &[i64]) -> Result<Layout> {
        let parts = Self::decode(w)?;
        let arrays = parts.arrays.iter().map(|a| (a.bytes, long(a.elements))).collect();
        let layout = Layout::new(parts.input_fields, parts.moved, arrays).map_err(|_| malformed("row layout", w))?;
        if layout.input_bitset() != parts.input_bitset_bytes || layout.bitset() != parts.bitset_bytes {
            return Err(malformed("row layout", w));
        }
        Ok(layout)
    }
}

/// `layRows`' and `gatherFeeds`' `feeds`: per model input, `WIDTH` values: the array field it is
/// copied from, its elements per row and bytes per element, and the tensor buffer's address and bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeedRecord {
    pub feed: ArrayFeed,
    /// Non-zero.
    pub address: i64,
    pub bytes: usize,
}

impl FeedRecord {
    pub const ORDINAL: usize = 0;
    pub const ELEMENTS: usize = 1;
    pub const ELEMENT_BYTES: usize = 2;
    pub const ADDRESS: usize = 3;
    pub const BYTES: usize = 4;
    pub const WIDTH: usize = 5;

    pub fn decode_all(w: &[i64]) -> Result<Vec<FeedRecord>> {
        let bad = || malformed("input buffers", w);
        if !w.len().is_multiple_of(Self::WIDTH) {
            return Err(bad());
        }
        w.chunks_exact(Self::WIDTH)
            .map(|r| {
                if r[Self::ADDRESS] == 0 {
                    return Err(bad());
                }
                Ok(FeedRecord {
                    feed: ArrayFeed {
                        ordinal: index(r[Self::ORDINAL], bad)?,
                        elements: index(r[Self::ELEMENTS], bad)?,
                        element_bytes: index(r[Self::ELEMENT_BYTES], bad)?,
                    },
                    address: r[Self::ADDRESS],
                    bytes: index(r[Self::BYTES], bad)?,
                })
            })
            .collect()
    }

    /// The `long[]` the JVM sends (for tests: the JVM's `NativeWire` writes it).
    pub fn encode_all(feeds: &[FeedRecord]) -> Vec<i64> {
        let mut w = Vec::with_capacity(Self::WIDTH * feeds.len());
        for f in feeds {
            let mut r = [0; Self::WIDTH];
            r[Self::ORDINAL] = long(f.feed.ordinal);
            r[Self::ELEMENTS] = long(f.feed.elements);
            r[Self::ELEMENT_BYTES] = long(f.feed.element_bytes);
            r[Self::ADDRESS] = f.address;
            r[Self::BYTES] = long(f.bytes);
            w.extend(r);
        }
        w
    }
}

/// `fillRows`' `prediction`: one fetched output written into laid rows: its field, values per row
/// (0 for one value in the field's slot), bytes per value, 1 for booleans else 0, and the output
/// tensor's address and bytes (address 0 only for an empty tensor).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PredictionRecord {
    pub prediction: Prediction,
    pub address: i64,
    pub bytes: usize,
}

impl PredictionRecord {
    pub const ORDINAL: usize = 0;
    pub const ARRAY_ELEMENTS: usize = 1;
    pub const VALUE_BYTES: usize = 2;
    pub const BOOLEAN: usize = 3;
    pub const ADDRESS: usize = 4;
    pub const BYTES: usize = 5;
    pub const WIDTH: usize = 6;

    pub fn decode(w: &[i64]) -> Result<Self> {
        let bad = || Error::InvalidArgument(format!("fillRows: prediction {w:?}"));
        if w.len() != Self::WIDTH || (w[Self::ADDRESS] == 0 && w[Self::BYTES] != 0) {
            return Err(bad());
        }
        Ok(PredictionRecord {
            prediction: Prediction {
                ordinal: index(w[Self::ORDINAL], bad)?,
                array_elements: index(w[Self::ARRAY_ELEMENTS], bad)?,
                value_bytes: index(w[Self::VALUE_BYTES], bad)?,
                boolean: w[Self::BOOLEAN] != 0,
            },
            address: w[Self::ADDRESS],
            bytes: index(w[Self::BYTES], bad)?,
        })
    }

    /// The `long[]` the JVM sends (for tests: the JVM's `NativeWire` writes it).
    pub fn encode(&self) -> [i64; Self::WIDTH] {
        let p = &self.prediction;
        let mut w = [0; Self::WIDTH];
        w[Self::ORDINAL] = long(p.ordinal);
        w[Self::ARRAY_ELEMENTS] = long(p.array_elements);
        w[Self::VALUE_BYTES] = long(p.value_bytes);
        w[Self::BOOLEAN] = i64::from(p.boolean);
        w[Self::ADDRESS] = self.address;
        w[Self::BYTES] = long(self.bytes);
        w
    }
}

fn tensor_json(info: &TensorInfo) -> Value {
    json!({
        "name": info.name,
        "kind": info.kind.as_str(),
        "type": info.element_type,
        "key": info.key_type,
        "shape": info.shape,
        "dims": info.dim_names,
    })
}

/// `modelSignature`: `{"inputs": [..], "outputs": [..]}`, each tensor `{"name", "kind", "type",
/// "key" (null unless maps), "shape" (-1 for symbolic dims), "dims" (their names, "" when fixed)}`.
pub fn signature_json(signature: &Signature) -> String {
    let list = |infos: &[TensorInfo]| infos.iter().map(tensor_json).collect::<Vec<_>>();
    json!({ "inputs": list(&signature.inputs), "outputs": list(&signature.outputs) }).to_string()
}

/// `externalDataFiles`: a JSON array of the paths, relative to the model's folder.
pub fn file_list_json(files: &[String]) -> String {
    Value::from(files).to_string()
}

/// `drainLog`: one record a line, `LEVEL message` (`ERROR`, `WARN`, `INFO`), newlines in a message
/// made spaces; "" for none.
pub fn log_text(records: &[(Level, String)]) -> String {
    let lines: Vec<String> =
        records.iter().map(|(level, message)| format!("{level} {}", message.replace('\n', " "))).collect();
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_descriptions_are_split_per_input() {
        let inputs = RunArrays {
            names: vec!["a".into(), "b".into()],
            columns: vec!["col_a".into(), "col_b".into()],
            element_types: vec![1, 11],
            shapes: vec![4, 3, 4],
            ranks: vec![2, 1],
            buffers: vec![100, 48, 0, 0, 200, 32, 0, 0],
        }
        .decode()
        .expect("consistent arguments");
        assert_eq!(inputs[0].shape, vec![4, 3]);
        assert_eq!(inputs[1].shape, vec![4]);
        assert_eq!(inputs[1].element_type, ElementType::Float64);
        assert_eq!((inputs[1].data_address, inputs[1].data_length), (200, 32));
        assert_eq!(inputs[1].column, "col_b");
    }

    fn run_arrays(columns: Vec<String>, element_types: Vec<i32>) -> RunArrays {
        RunArrays {
            names: vec!["a".into()],
            columns,
            element_types,
            shapes: vec![1],
            ranks: vec![1],
            buffers: vec![0; 4],
        }
    }

    #[test]
    fn inconsistent_argument_arrays_are_rejected() {
        let err = run_arrays(vec![], vec![1]).decode();
        assert!(matches!(err, Err(Error::InvalidArgument(_))));
        let err = run_arrays(vec!["c".into()], vec![14]).decode();
        assert!(err.is_err(), "complex64 is not exchanged");
    }

    fn info(name: &str, shape: Vec<i64>, dims: &[&str]) -> TensorInfo {
        crate::signature::float_tensor(name, shape, dims)
    }

    #[test]
    fn json_keeps_symbolic_dimensions_and_order() {
        let signature = Signature {
            inputs: vec![info("features", vec![-1, 64], &["N", ""])],
            outputs: vec![info("probabilities", vec![-1, 10], &["N", ""]), info("label", vec![-1], &["N"])],
        };
        let parsed: Value = serde_json::from_str(&signature_json(&signature)).expect("valid JSON");
        assert_eq!(parsed["inputs"][0]["name"], "features");
        assert_eq!(parsed["inputs"][0]["shape"], json!([-1, 64]));
        assert_eq!(parsed["inputs"][0]["dims"], json!(["N", ""]));
        assert_eq!(parsed["outputs"][1]["name"], "label");
        assert_eq!(parsed["outputs"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn malformed_records_are_rejected() {
        assert!(FeedRecord::decode_all(&[1, 2, 4, 64]).is_err(), "not a whole record");
        assert!(FeedRecord::decode_all(&[1, 2, 4, 0, 8]).is_err(), "a null address");
        assert!(FeedRecord::decode_all(&[-1, 2, 4, 64, 8]).is_err(), "a negative ordinal");
        assert!(PredictionRecord::decode(&[2, 0, 4, 0, 0, 8]).is_err(), "bytes without an address");
        assert!(PredictionRecord::decode(&[2, 0, 4, 0, 64]).is_err(), "a short record");
        assert!(OutputRecord::decode_all(&[0, 1, -1, 2, 4]).is_err(), "dims past the end");
        assert!(StatsRecord::decode(&[0; 8]).is_err(), "eight stats are two too many");
    }
}
