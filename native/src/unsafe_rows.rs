//! A batch of Spark UnsafeRows in one JVM byte array (an "arena"), worked on a batch at a time: the
//! per-row layout, feature copies and prediction writes cost the JVM's task thread more than a
//! dozen nanoseconds a row each in Java, and a few here.
//!
//! An UnsafeRow of `n` fields is a null bitset of `8 * ceil(n / 64)` bytes, then one 8-byte slot
//! per field (a fixed-width value, or `offset << 32 | size` of its variable-length bytes, the
//! offset from the row's start), then the variable-length region. An UnsafeArrayData is its element
//! count (8 bytes), a null bitset of `8 * ceil(count / 64)` bytes, then the elements. Words are in
//! the machine's byte order, as Spark's `Platform` writes them.
//!
//! Row `r` of a batch spans `starts[r]..starts[r + 1]` of the arena. Java copies each input row's
//! bytes to the start of its span; [`lay`] turns them into the output row in place: the input's
//! fields, then one slot per prediction, then the input's variable-length bytes, then room for the
//! predictions that are arrays (their element counts written, their values zero).
//!
//! Every offset read from the arena is checked against it: a row that is not what the layout
//! says is an error, never a read or write outside the arrays.

use crate::{Error, Result};

/// Where the output row's parts sit, the same for every row of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    input_bitset: usize,
    bitset: usize,
    input_fields: usize,
    /// Input fields held in the variable-length region, whose offsets move.
    moved: Vec<usize>,
    /// Per prediction: (bytes its array takes, its element count), or (0, 0) for one value a row.
    arrays: Vec<(usize, i64)>,
}

impl Layout {
    /// From `[inputBitsetBytes, bitsetBytes, inputFields, moved count, moved ordinals...,
    /// prediction count, (arrayBytes, elements) per prediction...]`, as `LaidRows` writes it.
    pub fn from_longs(described: &[i64]) -> Result<Layout> {
        let bad = || Error::InvalidArgument(format!("row layout {described:?} is malformed"));
        let mut values = described.iter().map(|&v| usize::try_from(v).map_err(|_| bad()));
        let mut next = || values.next().unwrap_or_else(|| Err(bad()));
        let input_bitset = next()?;
        let bitset = next()?;
        let input_fields = next()?;
        let moved = (0..next()?).map(|_| next()).collect::<Result<Vec<_>>>()?;
        let arrays = (0..next()?).map(|_| Ok((next()?, next()? as i64))).collect::<Result<Vec<_>>>()?;
        let layout = Layout { input_bitset, bitset, input_fields, moved, arrays };
        let fields = layout.input_fields + layout.arrays.len();
        if layout.input_bitset != bitset_bytes(layout.input_fields)
            || layout.bitset != bitset_bytes(fields)
            || layout.moved.iter().any(|&m| m >= layout.input_fields)
            || layout
                .arrays
                .iter()
                .any(|&(bytes, n)| bytes > 0 && (bytes % 8 != 0 || bytes < 8 + bitset_bytes(n as usize)))
        {
            return Err(bad());
        }
        Ok(layout)
    }

    fn fields(&self) -> usize {
        self.input_fields + self.arrays.len()
    }

    /// How much longer the output row is than the input row.
    pub fn growth(&self) -> usize {
        self.bitset - self.input_bitset + 8 * self.arrays.len() + self.reserved()
    }

    fn reserved(&self) -> usize {
        self.arrays.iter().map(|&(bytes, _)| bytes).sum()
    }
}

/// Bytes of the null bitset of a row of `fields` fields, or of an array of that many elements.
fn bitset_bytes(fields: usize) -> usize {
    fields.div_ceil(64) * 8
}

fn word(bytes: &[u8], at: usize) -> Result<i64> {
    bytes
        .get(at..at + 8)
        .map(|w| {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            i64::from_ne_bytes(b)
        })
        .ok_or_else(|| Error::InvalidArgument(format!("row word at {at} is outside the arena")))
}

fn put_word(bytes: &mut [u8], at: usize, value: i64) -> Result<()> {
    bytes
        .get_mut(at..at + 8)
        .ok_or_else(|| Error::InvalidArgument(format!("row word at {at} is outside the arena")))?
        .copy_from_slice(&value.to_ne_bytes());
    Ok(())
}

fn is_null(row: &[u8], ordinal: usize) -> Result<bool> {
    Ok(word(row, ordinal / 64 * 8)? >> (ordinal % 64) & 1 != 0)
}

/// The span of row `r`, checked against the arena.
fn span(starts: &[i32], r: usize, arena_len: usize) -> Result<(usize, usize)> {
    let (start, end) = (starts[r], starts[r + 1]);
    if start < 0 || end < start || end as usize > arena_len {
        return Err(Error::InvalidArgument(format!(
            "row {r} spans {start}..{end}, outside an arena of {arena_len} bytes"
        )));
    }
    Ok((start as usize, end as usize))
}

/// Lays rows `0..starts.len() - 1` out as output rows, in place (see the module's description).
pub fn lay(arena: &mut [u8], starts: &[i32], layout: &Layout) -> Result<()> {
    let fixed = 8 * layout.input_fields;
    let slots_end = layout.bitset + 8 * layout.fields();
    let shift = (slots_end - layout.input_bitset - fixed) as i64;
    let reserved = layout.reserved();
    for r in 0..starts.len().saturating_sub(1) {
        let (start, end) = span(starts, r, arena.len())?;
        let row = &mut arena[start..end];
        let size = row.len();
        if size < layout.input_bitset + fixed + layout.growth() {
            return Err(Error::InvalidArgument(format!("row {r} has {size} bytes, too few for its layout")));
        }
        let variable = size - layout.growth() - layout.input_bitset - fixed;
        // Back to front, so no part is overwritten before it has moved.
        row.copy_within(layout.input_bitset + fixed..layout.input_bitset + fixed + variable, slots_end);
        if layout.bitset != layout.input_bitset {
            row.copy_within(layout.input_bitset..layout.input_bitset + fixed, layout.bitset);
            row[layout.input_bitset..layout.bitset].fill(0);
        }
        row[layout.bitset + fixed..slots_end].fill(0);
        row[size - reserved..].fill(0);
        for &ordinal in &layout.moved {
            if !is_null(row, ordinal)? {
                let at = layout.bitset + 8 * ordinal;
                put_word(row, at, word(row, at)? + (shift << 32))?;
            }
        }
        let mut array = slots_end + variable;
        for (f, &(bytes, elements)) in layout.arrays.iter().enumerate() {
            if bytes > 0 {
                put_word(row, layout.bitset + 8 * (layout.input_fields + f), (array as i64) << 32 | bytes as i64)?;
                put_word(row, array, elements)?;
                array += bytes;
            }
        }
    }
    Ok(())
}

/// A model input fed from one array column whose every row holds `elements` values, already in the
/// tensor's element layout: they are copied as they are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrayFeed {
    pub ordinal: usize,
    pub elements: usize,
    pub element_bytes: usize,
}

/// Copies rows `from..to`'s feeds into the tensors, row `from` at tensor slot `first_slot`, until a
/// row that cannot be copied as it is: a null array, one of another length, or one with a null
/// element. Returns that row's index (`to` when there is none); Java's writer deals with it.
pub fn gather(
    arena: &[u8],
    starts: &[i32],
    bitset: usize,
    feeds: &[ArrayFeed],
    tensors: &mut [&mut [u8]],
    (from, to): (usize, usize),
    first_slot: usize,
) -> Result<usize> {
    for r in from..to {
        let (start, end) = span(starts, r, arena.len())?;
        let row = &arena[start..end];
        let slot = first_slot + (r - from);
        for (feed, tensor) in feeds.iter().zip(tensors.iter_mut()) {
            if is_null(row, feed.ordinal)? {
                return Ok(r);
            }
            let at = (word(row, bitset + 8 * feed.ordinal)? >> 32) as usize;
            if word(row, at)? != feed.elements as i64 {
                return Ok(r);
            }
            let header = 8 + bitset_bytes(feed.elements);
            if (at + 8..at + header).step_by(8).any(|w| word(row, w).map_or(true, |bits| bits != 0)) {
                return Ok(r);
            }
            let bytes = feed.elements * feed.element_bytes;
            let values = row
                .get(at + header..at + header + bytes)
                .ok_or_else(|| Error::InvalidArgument(format!("row {r}'s array runs past its row")))?;
            tensor
                .get_mut(slot * bytes..(slot + 1) * bytes)
                .ok_or_else(|| Error::InvalidArgument(format!("tensor slot {slot} is past the input buffer")))?
                .copy_from_slice(values);
        }
    }
    Ok(to)
}

/// One prediction column of a run, written into the laid rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prediction {
    pub ordinal: usize,
    /// Values per row: 0 for one value in the field's slot, else the length of its reserved array.
    pub array_elements: usize,
    pub value_bytes: usize,
    /// Booleans are stored as 0 or 1, whatever non-zero byte the model gave.
    pub boolean: bool,
}

/// Writes each row's predictions from `values` (the output tensor, rows in tensor-slot order);
/// rows whose slot is negative are left as they are (their predictions are null).
pub fn fill(
    arena: &mut [u8],
    starts: &[i32],
    slots: &[i32],
    bitset: usize,
    prediction: &Prediction,
    values: &[u8],
) -> Result<()> {
    let per_row = prediction.array_elements.max(1) * prediction.value_bytes;
    let header = if prediction.array_elements == 0 { 0 } else { 8 + bitset_bytes(prediction.array_elements) };
    for (r, &slot) in slots.iter().enumerate() {
        if slot < 0 {
            continue;
        }
        let slot = slot as usize;
        let value = values
            .get(slot * per_row..(slot + 1) * per_row)
            .ok_or_else(|| Error::InvalidArgument(format!("slot {slot} is past the output tensor")))?;
        let (start, end) = span(starts, r, arena.len())?;
        let row = &mut arena[start..end];
        let field = bitset + 8 * prediction.ordinal;
        let at = if prediction.array_elements == 0 { field } else { (word(row, field)? >> 32) as usize + header };
        let target = row
            .get_mut(at..at + per_row)
            .ok_or_else(|| Error::InvalidArgument(format!("row {r}'s prediction runs past its row")))?;
        target.copy_from_slice(value);
        if prediction.boolean {
            target.iter_mut().for_each(|b| *b = u8::from(*b != 0));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes an UnsafeArrayData of `n` elements of `width` bytes takes, padded to a word.
    fn array_bytes(n: usize, width: usize) -> usize {
        8 + bitset_bytes(n) + (n * width).div_ceil(8) * 8
    }

    /// An UnsafeRow of (long id, array<float> features) as Spark writes it, bytes and size.
    fn input_row(id: i64, features: Option<&[f32]>) -> Vec<u8> {
        let mut row = vec![0u8; 8 + 16];
        row[8..16].copy_from_slice(&id.to_ne_bytes());
        match features {
            None => row[0] |= 0b10,
            Some(values) => {
                let at = row.len();
                let bytes = array_bytes(values.len(), 4);
                row.resize(at + bytes, 0);
                row[at..at + 8].copy_from_slice(&(values.len() as i64).to_ne_bytes());
                let data = at + 8 + bitset_bytes(values.len());
                for (i, v) in values.iter().enumerate() {
                    row[data + 4 * i..data + 4 * i + 4].copy_from_slice(&v.to_ne_bytes());
                }
                row[16..24].copy_from_slice(&((at as i64) << 32 | bytes as i64).to_ne_bytes());
            }
        }
        row
    }

    /// (id, features) in, then a float score and a 3-float array out.
    fn layout() -> Layout {
        Layout::from_longs(&[8, 8, 2, 1, 1, 2, 0, 0, array_bytes(3, 4) as i64, 3]).expect("valid layout")
    }

    fn arena_of(rows: &[Vec<u8>], layout: &Layout) -> (Vec<u8>, Vec<i32>) {
        let (mut arena, mut starts) = (Vec::new(), vec![0]);
        for row in rows {
            arena.extend_from_slice(row);
            arena.resize(arena.len() + layout.growth(), 0xAB);
            starts.push(arena.len() as i32);
        }
        (arena, starts)
    }

    #[test]
    fn laid_rows_hold_the_input_then_room_for_the_predictions() {
        let layout = layout();
        let (mut arena, starts) = arena_of(&[input_row(7, Some(&[1.0, 2.0])), input_row(8, None)], &layout);
        lay(&mut arena, &starts, &layout).expect("lays");
        let first = &arena[starts[0] as usize..starts[1] as usize];
        assert_eq!(word(first, 8).unwrap(), 7);
        let features = word(first, 16).unwrap();
        let (at, size) = ((features >> 32) as usize, features & 0xffff_ffff);
        assert_eq!((at, size), (8 + 32, array_bytes(2, 4) as i64), "the array moved past four slots");
        assert_eq!(word(first, at).unwrap(), 2);
        assert_eq!(f32::from_ne_bytes(first[at + 20..at + 24].try_into().unwrap()), 2.0);
        assert_eq!(word(first, 24).unwrap(), 0, "the score's slot starts clear");
        let scores = word(first, 32).unwrap();
        assert_eq!(word(first, (scores >> 32) as usize).unwrap(), 3, "the score array's length is written");
        assert_eq!((scores >> 32) as usize + array_bytes(3, 4), first.len());
        let second = &arena[starts[1] as usize..starts[2] as usize];
        assert!(is_null(second, 1).unwrap() && !is_null(second, 2).unwrap());
        assert_eq!(word(second, 16).unwrap(), 0, "a null field's slot is not moved");
    }

    #[test]
    fn gathering_stops_at_a_row_it_cannot_copy() {
        let layout = layout();
        let rows = [
            input_row(1, Some(&[1.0, 2.0])),
            input_row(2, Some(&[3.0, 4.0])),
            input_row(3, None),
            input_row(4, Some(&[5.0])),
        ];
        let (mut arena, starts) = arena_of(&rows, &layout);
        lay(&mut arena, &starts, &layout).expect("lays");
        let feed = ArrayFeed { ordinal: 1, elements: 2, element_bytes: 4 };
        let mut tensor = vec![0u8; 4 * 8];
        let stop = gather(&arena, &starts, 8, &[feed], &mut [&mut tensor], (0, 4), 0).unwrap();
        assert_eq!(stop, 2, "the null array stops it");
        let floats: Vec<f32> = tensor.chunks(4).map(|b| f32::from_ne_bytes(b.try_into().unwrap())).collect();
        assert_eq!(&floats[..4], &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            gather(&arena, &starts, 8, &[feed], &mut [&mut tensor], (3, 4), 2).unwrap(),
            3,
            "so does a short one"
        );
    }

    #[test]
    fn a_null_element_stops_gathering() {
        let layout = layout();
        let mut row = input_row(1, Some(&[1.0, 2.0]));
        row[24 + 8] = 0b10;
        let (mut arena, starts) = arena_of(&[row], &layout);
        lay(&mut arena, &starts, &layout).expect("lays");
        let feed = ArrayFeed { ordinal: 1, elements: 2, element_bytes: 4 };
        let mut tensor = vec![0u8; 8];
        assert_eq!(gather(&arena, &starts, 8, &[feed], &mut [&mut tensor], (0, 1), 0).unwrap(), 0);
    }

    #[test]
    fn predictions_land_in_their_rows_by_slot() {
        let layout = layout();
        let rows = [input_row(1, Some(&[1.0, 2.0])), input_row(2, None), input_row(3, Some(&[3.0, 4.0]))];
        let (mut arena, starts) = arena_of(&rows, &layout);
        lay(&mut arena, &starts, &layout).expect("lays");
        let slots = [0, -1, 1];
        let scores: Vec<u8> = [0.5f32, 1.5].iter().flat_map(|v| v.to_ne_bytes()).collect();
        let score = Prediction { ordinal: 2, array_elements: 0, value_bytes: 4, boolean: false };
        fill(&mut arena, &starts, &slots, 8, &score, &scores).unwrap();
        let probabilities: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_ne_bytes()).collect();
        let array = Prediction { ordinal: 3, array_elements: 3, value_bytes: 4, boolean: false };
        fill(&mut arena, &starts, &slots, 8, &array, &probabilities).unwrap();
        let third = &arena[starts[2] as usize..starts[3] as usize];
        assert_eq!(f32::from_ne_bytes(third[24..28].try_into().unwrap()), 1.5);
        let at = (word(third, 32).unwrap() >> 32) as usize + 16;
        assert_eq!(f32::from_ne_bytes(third[at + 8..at + 12].try_into().unwrap()), 5.0);
        let second = &arena[starts[1] as usize..starts[2] as usize];
        assert_eq!(word(second, 24).unwrap(), 0, "a row without a slot keeps a clear slot");
        let flags = Prediction { ordinal: 2, array_elements: 0, value_bytes: 1, boolean: true };
        fill(&mut arena, &starts, &slots, 8, &flags, &[7, 0]).unwrap();
        assert_eq!(arena[starts[0] as usize + 24], 1);
    }

    #[test]
    fn rows_that_do_not_fit_the_arena_are_errors() {
        let layout = layout();
        let (mut arena, _) = arena_of(&[input_row(1, Some(&[1.0]))], &layout);
        let len = arena.len() as i32;
        assert!(lay(&mut arena, &[0, len + 8], &layout).is_err());
        assert!(lay(&mut arena, &[0, 16], &layout).is_err(), "too short for its layout");
        let mut corrupt = input_row(1, Some(&[1.0, 2.0]));
        corrupt[20..24].copy_from_slice(&4096i32.to_ne_bytes());
        let (mut arena, starts) = arena_of(&[corrupt], &layout);
        lay(&mut arena, &starts, &layout).expect("lays");
        let feed = ArrayFeed { ordinal: 1, elements: 2, element_bytes: 4 };
        assert!(gather(&arena, &starts, 8, &[feed], &mut [&mut [0u8; 8]], (0, 1), 0).is_err());
        assert!(Layout::from_longs(&[8, 8, 2, 1]).is_err(), "a short description");
    }
}
