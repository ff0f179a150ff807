//! Every format that crosses the JNI boundary, each once: a struct with named offsets, and the one
//! function that writes it (for what this library sends) or parses and checks it (for what the JVM
//! sends: lengths, counts and ranges, before anything else reads it). The JVM's side of each is
//! `jvm-bridge/.../NativeWire.java`; `native/tests/wire-golden.json` holds an example of each that
//! both sides' tests read (`cargo test --test wire_golden`, `NativeWireGoldenTest`), so a format
//! changed on one side only fails a unit test. A format changes here and in `NativeWire` only.
//!
//! | Export                    | Direction | Format                                                      |
//! |---------------------------|-----------|-------------------------------------------------------------|
//! | `openModel`               | in        | [`ModelFile`] as a `String[]`                               |
//! | `openModel`               | out       | [`OpenReport`] in the caller's `long[]`                     |
//! | `modelStats`              | out       | [`StatsRecord`] as a `long[]`                               |
//! | `run`                     | in        | [`RunRecord`]: a `String[]` and a `long[]`, [`InputRecord`] per input |
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
use crate::model_node::{ModelStats, NamedContent};
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

/// `openModel(.., long[] report)`: what the call reports back in the caller's array.
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

/// `openModel`'s `model`: the model to open, as a `String[]`: the local path of its .onnx file, then
/// the content key the JVM knows it by (`ModelSource.key`) and the SHA-256 of that .onnx file, each
/// 64 hex digits; or key and SHA-256 both "" for a model opened by path alone, whose files this
/// library then hashes for its key (see `model_node::open_named` and `open_with_outputs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFile {
    pub path: String,
    /// `None` when the JVM gave no key.
    pub named: Option<NamedContent>,
}

impl ModelFile {
    pub const PATH: usize = 0;
    pub const KEY: usize = 1;
    pub const ONNX_SHA256: usize = 2;
    pub const WIDTH: usize = 3;

    pub fn decode(w: &[String]) -> Result<Self> {
        let bad = || Error::InvalidArgument(format!("openModel: model {w:?} is malformed"));
        if w.len() != Self::WIDTH || w[Self::PATH].is_empty() {
            return Err(bad());
        }
        let named = match (w[Self::KEY].as_str(), w[Self::ONNX_SHA256].as_str()) {
            ("", "") => None,
            (key, sha) => Some(NamedContent {
                key: sha256_hex(key).ok_or_else(bad)?,
                onnx_sha256: sha256_hex(sha).ok_or_else(bad)?,
            }),
        };
        Ok(ModelFile { path: w[Self::PATH].clone(), named })
    }

    /// The `String[]` the JVM sends (for tests: the JVM's `NativeWire` writes it).
    pub fn encode(&self) -> Vec<String> {
        let mut w = vec![String::new(); Self::WIDTH];
        w[Self::PATH] = self.path.clone();
        if let Some(named) = &self.named {
            w[Self::KEY] = hex(&named.key);
            w[Self::ONNX_SHA256] = hex(&named.onnx_sha256);
        }
        w
    }
}

/// 64 hex digits as the 32 bytes they spell; `None` for anything else.
fn sha256_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `run(model, String[] names, long[] inputs)`: one batch, one record in two arrays (a Java array
/// holds values of one type). `names`: the inputs' names, then the column each is fed from (named
/// in errors), then the outputs to fetch, in order. `inputs`: `HEADER` values (the input count and
/// the fetch count), then an [`InputRecord`] per input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunRecord {
    pub names: Vec<String>,
    pub inputs: Vec<i64>,
}

/// One input in [`RunRecord`]'s `inputs`: `HEADER` values (its ONNX element type code and its rank),
/// its `rank` dims (batch first for batched models), then `BUFFERS_WIDTH` values: its data's address
/// and bytes, and for strings (else 0, 0) its int32 offsets' (one per element plus one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputRecord;

impl InputRecord {
    pub const ELEMENT_TYPE: usize = 0;
    pub const RANK: usize = 1;
    /// Values before the dims.
    pub const HEADER: usize = 2;
    /// After the dims.
    pub const DATA_ADDRESS: usize = 0;
    pub const DATA_BYTES: usize = 1;
    pub const OFFSETS_ADDRESS: usize = 2;
    pub const OFFSETS_BYTES: usize = 3;
    pub const BUFFERS_WIDTH: usize = 4;
}

/// A batch as [`RunRecord`] carries it: the inputs, and the names of the outputs to fetch.
#[derive(Clone, Debug)]
pub struct RunRequest {
    pub inputs: Vec<InputBuffers>,
    pub fetch: Vec<String>,
}

impl RunRecord {
    pub const INPUT_COUNT: usize = 0;
    pub const FETCH_COUNT: usize = 1;
    /// Values before the first input's record.
    pub const HEADER: usize = 2;

    /// The batch, once the counts are checked against the names and every input's record against
    /// the array's length.
    pub fn decode(self) -> Result<RunRequest> {
        let RunRecord { names, inputs: w } = self;
        let bad = |why: &str| Error::InvalidArgument(format!("run: {why}"));
        let header = w.get(..Self::HEADER).ok_or_else(|| bad("the record has no header"))?;
        let inputs = index(header[Self::INPUT_COUNT], || bad("a negative input count"))?;
        let fetches = index(header[Self::FETCH_COUNT], || bad("a negative fetch count"))?;
        if inputs.checked_mul(2).and_then(|n| n.checked_add(fetches)) != Some(names.len()) {
            return Err(bad("the record's counts disagree with its names (inputs, their columns, fetched outputs)"));
        }
        let mut names = names.into_iter();
        let input_names: Vec<String> = names.by_ref().take(inputs).collect();
        let columns: Vec<String> = names.by_ref().take(inputs).collect();
        let fetch: Vec<String> = names.collect();
        let short = || bad("the record is shorter than its inputs say");
        let mut at = Self::HEADER;
        let mut out = Vec::with_capacity(inputs);
        for (input, column) in input_names.into_iter().zip(columns) {
            let head = w.get(at..at + InputRecord::HEADER).ok_or_else(short)?;
            let code = head[InputRecord::ELEMENT_TYPE];
            let element_type = i32::try_from(code).ok().and_then(ElementType::from_onnx_code).ok_or_else(|| {
                Error::InvalidArgument(format!("input '{input}': unsupported element type code {code}"))
            })?;
            let rank = index(head[InputRecord::RANK], || bad("a negative rank"))?;
            at += InputRecord::HEADER;
            let shape = w.get(at..).and_then(|rest| rest.get(..rank)).ok_or_else(short)?.to_vec();
            at += rank;
            let buffers = w.get(at..at + InputRecord::BUFFERS_WIDTH).ok_or_else(short)?;
            at += InputRecord::BUFFERS_WIDTH;
            out.push(InputBuffers {
                input,
                column,
                element_type,
                shape,
                data_address: buffers[InputRecord::DATA_ADDRESS],
                data_length: buffers[InputRecord::DATA_BYTES],
                offsets_address: buffers[InputRecord::OFFSETS_ADDRESS],
                offsets_length: buffers[InputRecord::OFFSETS_BYTES],
            });
        }
        if at != w.len() {
            return Err(bad("the record is longer than its inputs say"));
        }
        Ok(RunRequest { inputs: out, fetch })
    }

    /// The record the JVM sends for `run` (for tests: the JVM's `NativeWire` writes it).
    pub fn encode(run: &RunRequest) -> RunRecord {
        let mut names: Vec<String> = run.inputs.iter().map(|i| i.input.clone()).collect();
        names.extend(run.inputs.iter().map(|i| i.column.clone()));
        names.extend(run.fetch.iter().cloned());
        let mut w = vec![0; Self::HEADER];
        w[Self::INPUT_COUNT] = long(run.inputs.len());
        w[Self::FETCH_COUNT] = long(run.fetch.len());
        for input in &run.inputs {
            let mut head = [0; InputRecord::HEADER];
            head[InputRecord::ELEMENT_TYPE] = i64::from(input.element_type.onnx_code());
            head[InputRecord::RANK] = long(input.shape.len());
            w.extend(head);
            w.extend(&input.shape);
            let mut buffers = [0; InputRecord::BUFFERS_WIDTH];
            buffers[InputRecord::DATA_ADDRESS] = input.data_address;
            buffers[InputRecord::DATA_BYTES] = input.data_length;
            buffers[InputRecord::OFFSETS_ADDRESS] = input.offsets_address;
            buffers[InputRecord::OFFSETS_BYTES] = input.offsets_length;
            w.extend(buffers);
        }
        RunRecord { names, inputs: w }
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

    /// A record of inputs `a` (float32, 4 x 3, at 100) and `b` (float64, 4, at 200), fetching `out`.
    fn two_inputs() -> RunRecord {
        RunRecord {
            names: vec!["a".into(), "b".into(), "col_a".into(), "col_b".into(), "out".into()],
            inputs: vec![2, 1, 1, 2, 4, 3, 100, 48, 0, 0, 11, 1, 4, 200, 32, 0, 0],
        }
    }

    #[test]
    fn input_descriptions_are_split_per_input() {
        let run = two_inputs().decode().expect("consistent arguments");
        let inputs = &run.inputs;
        assert_eq!(inputs[0].shape, vec![4, 3]);
        assert_eq!(inputs[1].shape, vec![4]);
        assert_eq!(inputs[1].element_type, ElementType::Float64);
        assert_eq!((inputs[1].data_address, inputs[1].data_length), (200, 32));
        assert_eq!(inputs[1].column, "col_b");
        assert_eq!(run.fetch, vec!["out".to_string()]);
        assert_eq!(RunRecord::encode(&run), two_inputs(), "encodes back to the record");
    }

    #[test]
    fn inconsistent_argument_arrays_are_rejected() {
        let mut no_column = two_inputs();
        no_column.names.remove(2);
        assert!(matches!(no_column.decode(), Err(Error::InvalidArgument(_))));
        let mut complex = two_inputs();
        complex.inputs[2] = 14;
        assert!(complex.decode().is_err(), "complex64 is not exchanged");
        let mut short = two_inputs();
        short.inputs.pop();
        assert!(matches!(short.decode(), Err(Error::InvalidArgument(_))), "a buffer value missing");
        let mut long = two_inputs();
        long.inputs.push(0);
        assert!(matches!(long.decode(), Err(Error::InvalidArgument(_))), "a value past the last input");
        let mut ranked = two_inputs();
        ranked.inputs[3] = 40;
        assert!(matches!(ranked.decode(), Err(Error::InvalidArgument(_))), "dims past the end");
    }

    #[test]
    fn a_model_file_names_its_content_in_hex_or_not_at_all() {
        let key = "ab".repeat(32);
        let sha = "0f".repeat(32);
        let named = ModelFile::decode(&["/m.onnx".into(), key.clone(), sha.clone()]).expect("named");
        assert_eq!(named.named, Some(NamedContent { key: [0xab; 32], onnx_sha256: [0x0f; 32] }));
        assert_eq!(named.encode(), vec!["/m.onnx".to_string(), key.clone(), sha.clone()]);
        let bare = ModelFile::decode(&["/m.onnx".into(), String::new(), String::new()]).expect("path alone");
        assert_eq!(bare.named, None);
        for bad in [
            vec!["/m.onnx".to_string(), key.clone(), String::new()],
            vec!["/m.onnx".to_string(), key[1..].to_string(), sha.clone()],
            vec!["/m.onnx".to_string(), key.replace('a', "g"), sha.clone()],
            vec![String::new(), key.clone(), sha.clone()],
            vec!["/m.onnx".to_string(), key],
        ] {
            assert!(matches!(ModelFile::decode(&bad), Err(Error::InvalidArgument(_))), "{bad:?}");
        }
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
