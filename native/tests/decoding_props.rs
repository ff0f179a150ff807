//! Property tests over everything the native library decodes from outside: laid UnsafeRows (any
//! arena, row boundaries, layout, feeds and predictions), JVM buffers imported as tensors (any
//! shape, length, offsets and alignment, then made into ONNX Runtime values), and ONNX protobuf
//! bytes (arbitrary, and a valid model mutated: truncated, bytes flipped, bytes inserted). None may
//! crash: each call returns a value or an error, and no write lands outside its buffer (guard
//! bytes after each stay as they were). Each property prints how many cases it ran.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

mod common;

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sparkort::exchange::{self, InputBuffers};
use sparkort::jni::wire::RowLayout;
use sparkort::onnx_proto;
use sparkort::tensor::{self, ElementType};
use sparkort::unsafe_rows::{self, ArrayFeed, Gather, Prediction};
use sparkort::weights::SharedWeights;

const GUARD: usize = 32;
const GUARD_BYTE: u8 = 0xA5;

/// Runs `cases` cases of `strategy` through `test`, failing on the first that fails, and prints the count.
fn run<S: Strategy>(name: &str, cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let ran = std::cell::Cell::new(0u32);
    let result = runner.run(&strategy, |value| {
        ran.set(ran.get() + 1);
        test(value)
    });
    let ran = ran.get();
    println!("property {name}: {ran} cases");
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
}

/// `bytes` followed by guard bytes; `guarded` checks they are untouched.
fn with_guard(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.extend([GUARD_BYTE; GUARD]);
    bytes
}

fn guarded(buffer: &[u8]) -> bool {
    buffer[buffer.len() - GUARD..].iter().all(|&b| b == GUARD_BYTE)
}

fn bitset(n: usize) -> usize {
    n.div_ceil(64) * 8
}

/// Layout descriptions: mostly self-consistent ones (as NativeWire.rowLayout writes them), some arbitrary.
fn layouts() -> impl Strategy<Value = Vec<i64>> {
    let consistent = (0usize..5, prop::collection::vec(0usize..6, 0..3), prop::collection::vec(0usize..6, 0..3))
        .prop_map(|(fields, moved, arrays)| {
            let mut d = vec![bitset(fields) as i64, bitset(fields + arrays.len()) as i64, fields as i64];
            let moved: Vec<usize> = moved.into_iter().filter(|&m| m < fields).collect();
            d.push(moved.len() as i64);
            d.extend(moved.iter().map(|&m| m as i64));
            d.push(arrays.len() as i64);
            for n in arrays {
                // 0: one value a row; else an array of n - 1 float32 (0 elements included).
                let (bytes, elements) =
                    if n == 0 { (0, 0) } else { (8 + bitset(n - 1) + (4 * (n - 1)).div_ceil(8) * 8, n - 1) };
                d.extend([bytes as i64, elements as i64]);
            }
            d
        });
    prop_oneof![
        6 => consistent,
        1 => prop::collection::vec(any::<i64>(), 0..12),
        1 => prop::collection::vec(-2i64..48, 0..12),
    ]
}

/// Row boundaries: increasing ones inside (or just past) the arena, and arbitrary ones.
fn starts() -> impl Strategy<Value = Vec<i32>> {
    prop_oneof![
        4 => prop::collection::vec(0i32..96, 1..8).prop_map(|sizes| {
            let mut starts = vec![0];
            for size in sizes {
                starts.push(starts[starts.len() - 1] + size);
            }
            starts
        }),
        1 => prop::collection::vec(any::<i32>(), 0..8),
    ]
}

#[derive(Debug, Clone)]
struct RowsCase {
    arena: Vec<u8>,
    starts: Vec<i32>,
    layout: Vec<i64>,
    feeds: Option<Vec<(usize, usize, usize)>>,
    tensor: usize,
    slots: Vec<i32>,
    prediction: (usize, usize, usize, bool),
    values: Vec<u8>,
    range: (usize, usize, usize),
}

fn rows_cases() -> impl Strategy<Value = RowsCase> {
    let feeds =
        prop::option::of(prop::collection::vec((0usize..6, prop_oneof![0usize..6, any::<usize>()], 0usize..9), 0..3));
    (
        prop::collection::vec(any::<u8>(), 0..400),
        starts(),
        layouts(),
        feeds,
        0usize..160,
        prop::collection::vec(-2i32..8, 0..8),
        (0usize..8, 0usize..6, 0usize..10, any::<bool>()),
        prop::collection::vec(any::<u8>(), 0..96),
        (0usize..8, 0usize..9, 0usize..8),
    )
        .prop_map(|(arena, starts, layout, feeds, tensor, slots, prediction, values, range)| RowsCase {
            arena,
            starts,
            layout,
            feeds,
            tensor,
            slots,
            prediction,
            values,
            range,
        })
}

#[test]
fn laying_gathering_and_filling_rows_never_crash_nor_write_outside() {
    let (laid, filled) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    run("unsafe_rows lay/gather/fill", 100_000, rows_cases(), |case| {
        let Ok(layout) = RowLayout::layout(&case.layout) else { return Ok(()) };
        let mut arena = with_guard(case.arena.clone());
        let len = case.arena.len();
        let mut tensor = with_guard(vec![0; case.tensor]);
        let feeds: Vec<ArrayFeed> = case
            .feeds
            .iter()
            .flatten()
            .map(|&(ordinal, elements, element_bytes)| ArrayFeed { ordinal, elements, element_bytes })
            .collect();
        {
            let tensor_len = tensor.len() - GUARD;
            // One tensor for every feed: the library must not need them apart to stay in bounds.
            let (slice, _) = tensor.split_at_mut(tensor_len);
            let gather =
                case.feeds.as_ref().map(|_| Gather { feeds: feeds.clone(), tensors: split(slice, feeds.len()) });
            if unsafe_rows::lay(&mut arena[..len], &case.starts, &layout, gather).is_ok() {
                laid.set(laid.get() + 1);
            }
        }
        prop_assert!(guarded(&arena), "lay wrote past the arena");
        prop_assert!(guarded(&tensor), "lay wrote past the tensor");
        {
            let tensor_len = tensor.len() - GUARD;
            let mut gather = Gather { feeds: feeds.clone(), tensors: split(&mut tensor[..tensor_len], feeds.len()) };
            let (from, to, slot) = case.range;
            let _ = unsafe_rows::gather(&mut arena[..len], &case.starts, &layout, &mut gather, (from, to), slot);
        }
        prop_assert!(guarded(&arena), "gather wrote past the arena");
        prop_assert!(guarded(&tensor), "gather wrote past the tensor");
        let (k, array_elements, value_bytes, boolean) = case.prediction;
        // Mostly a prediction the layout has (as ArenaRows sends them), sometimes anything.
        let prediction = match described_prediction(&case.layout, k) {
            Some((ordinal, elements)) if k % 4 != 0 => Prediction {
                ordinal,
                array_elements: elements,
                value_bytes: if elements > 0 { 4 } else { value_bytes % 9 },
                boolean,
            },
            _ => Prediction { ordinal: k, array_elements, value_bytes, boolean },
        };
        let rows = case.starts.len().saturating_sub(1);
        let slots = if k % 3 == 0 { &case.slots[..] } else { &case.slots[..case.slots.len().min(rows)] };
        if unsafe_rows::fill(&mut arena[..len], &case.starts, slots, &layout, &prediction, &case.values).is_ok() {
            filled.set(filled.get() + 1);
        }
        prop_assert!(guarded(&arena), "fill wrote past the arena");
        Ok(())
    });
    println!("  of which laid without error: {}, filled without error: {}", laid.get(), filled.get());
    assert!(laid.get() > 5000 && filled.get() > 5000, "the cases reach the row work, not only its first checks");
}

/// Prediction `k` (modulo their number) of a layout description: its field ordinal and array elements.
fn described_prediction(described: &[i64], k: usize) -> Option<(usize, usize)> {
    let layout = RowLayout::decode(described).ok()?;
    if layout.arrays.is_empty() {
        return None;
    }
    let p = k % layout.arrays.len();
    let array = layout.arrays[p];
    Some((layout.input_fields + p, if array.bytes > 0 { array.elements } else { 0 }))
}

/// `n` disjoint pieces of `buffer`, the last taking the rest.
fn split(buffer: &mut [u8], n: usize) -> Vec<&mut [u8]> {
    let mut pieces = Vec::new();
    let mut rest = buffer;
    for i in 0..n {
        let take = if i + 1 == n { rest.len() } else { rest.len() / (n - i) };
        let (piece, tail) = rest.split_at_mut(take);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

#[derive(Debug, Clone)]
struct ImportCase {
    element_type: usize,
    shape: Vec<i64>,
    words: Vec<u64>,
    misalign: usize,
    length: LengthChoice,
    offsets: Vec<i32>,
    offsets_length: LengthChoice,
}

#[derive(Debug, Clone, Copy)]
enum LengthChoice {
    /// What the shape needs, when the buffer holds that many bytes.
    Needed,
    /// Some length the buffer holds.
    Within(usize),
    Negative(i64),
}

fn lengths() -> impl Strategy<Value = LengthChoice> {
    prop_oneof![
        4 => Just(LengthChoice::Needed),
        2 => any::<usize>().prop_map(LengthChoice::Within),
        1 => (i64::MIN..0).prop_map(LengthChoice::Negative),
    ]
}

fn import_cases() -> impl Strategy<Value = ImportCase> {
    let dims = prop_oneof![8 => 0i64..5, 1 => any::<i64>(), 1 => Just(i64::MAX), 1 => -3i64..0];
    (
        0..ElementType::ALL.len(),
        prop::collection::vec(dims, 0..4),
        prop::collection::vec(any::<u64>(), 0..40),
        prop_oneof![4 => Just(0usize), 1 => 1usize..8],
        lengths(),
        prop_oneof![
            2 => prop::collection::vec(0i32..12, 0..20).prop_map(|mut o| { o.sort(); o }),
            1 => prop::collection::vec(any::<i32>(), 0..20),
        ],
        lengths(),
    )
        .prop_map(|(element_type, shape, words, misalign, length, offsets, offsets_length)| ImportCase {
            element_type,
            shape,
            words,
            misalign,
            length,
            offsets,
            offsets_length,
        })
}

fn length(choice: LengthChoice, needed: Option<usize>, held: usize) -> i64 {
    match choice {
        LengthChoice::Needed => needed.filter(|&n| n <= held).unwrap_or(held) as i64,
        LengthChoice::Within(n) => (n % (held + 1)) as i64,
        LengthChoice::Negative(n) => n,
    }
}

#[test]
fn importing_jvm_buffers_as_tensors_never_crashes() {
    common::models(); // ONNX Runtime, for the values made from what imports
    let (imported_ok, valued) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    run("exchange::import + tensor::input_value", 60_000, import_cases(), |case| {
        let element_type = ElementType::ALL[case.element_type];
        let elements =
            case.shape.iter().try_fold(1usize, |n, &d| usize::try_from(d).ok().and_then(|d| n.checked_mul(d)));
        let bytes: Vec<u8> = case.words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let held = bytes.len().saturating_sub(case.misalign);
        let wire = element_type.input_wire().byte_size();
        let needed = match wire {
            Some(width) => elements.and_then(|n| n.checked_mul(width)),
            None => Some(held),
        };
        let offsets_held = 4 * case.offsets.len();
        let buffers = InputBuffers {
            input: "x".into(),
            column: "col_x".into(),
            element_type,
            shape: case.shape.clone(),
            data_address: bytes.as_ptr() as i64 + case.misalign as i64,
            data_length: length(case.length, needed, held),
            offsets_address: case.offsets.as_ptr() as i64,
            offsets_length: length(
                case.offsets_length,
                elements.and_then(|n| n.checked_add(1)?.checked_mul(4)),
                offsets_held,
            ),
        };
        // SAFETY: every length handed over is at most what its buffer holds, and both outlive the call.
        if let Ok(imported) = unsafe { exchange::import(&buffers) } {
            imported_ok.set(imported_ok.get() + 1);
            if tensor::input_value(&imported.values, element_type, &imported.shape).is_ok() {
                valued.set(valued.get() + 1);
            }
        }
        Ok(())
    });
    println!("  of which imported: {}, made into ONNX Runtime values: {}", imported_ok.get(), valued.get());
    assert!(valued.get() > 10_000, "the cases reach ONNX Runtime, not only the import's first checks");
}

/// A valid model's bytes, mutated: cut short, bytes overwritten, bytes inserted.
fn mutated(model: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = model.len();
    let cut = prop_oneof![3 => Just(None), 1 => (0..=len).prop_map(Some)];
    (cut, prop::collection::vec((0..len, any::<u8>()), 0..3), prop::collection::vec((0..len, any::<u8>()), 0..2))
        .prop_map(move |(cut, flips, inserts)| {
            let mut bytes = model.clone();
            for (at, b) in flips {
                bytes[at] = b;
            }
            for (at, b) in inserts {
                bytes.insert(at, b);
            }
            bytes.truncate(cut.unwrap_or(usize::MAX));
            bytes
        })
}

#[test]
fn decoding_onnx_bytes_never_crashes() {
    let models = common::models();
    let model = std::fs::read(models.join("linear.onnx")).expect("linear.onnx");
    let strategy = prop_oneof![
        3 => mutated(model),
        1 => prop::collection::vec(any::<u8>(), 0..300),
    ];
    let folder = std::env::temp_dir().join(format!("sparkort-props-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("scratch folder");
    let path = folder.join("model.onnx");
    let decoded = std::cell::Cell::new(0);
    run("onnx_proto + SharedWeights::load", 30_000, strategy, |bytes| {
        let _ = onnx_proto::external_data_files(&bytes);
        let _ = onnx_proto::external_initializers_as_inputs(&bytes);
        let _ = onnx_proto::computed_tensors(&bytes);
        let _ = onnx_proto::with_outputs(&bytes, &["h0".into(), "nope".into()]);
        if onnx_proto::initializers(&bytes).is_ok() {
            decoded.set(decoded.get() + 1);
            let _ = SharedWeights::load(Path::new(&path), &bytes);
        }
        Ok(())
    });
    println!("  of which decoded (weights then loaded): {}", decoded.get());
    assert!(decoded.get() > 3000, "the cases reach the weights, not only the decoder's first checks");
    std::fs::remove_dir_all(&folder).ok();
}
