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
//! predictions that are arrays (their element counts written, their values zero). In the same pass,
//! while the row is in the CPU's cache, it copies the row's features into the tensors ([`gather`]
//! goes on after a row Java had to take).
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
    /// Where the output row's variable-length region starts.
    slots_end: usize,
    /// The predictions' arrays' bytes, at the end of the output row.
    reserved: usize,
    /// How much longer the output row is than the input row.
    growth: usize,
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
        let fields = input_fields + arrays.len();
        if input_bitset != bitset_bytes(input_fields)
            || bitset != bitset_bytes(fields)
            || moved.iter().any(|&m| m >= input_fields)
            || arrays
                .iter()
                .any(|&(bytes, n)| bytes > 0 && (!bytes.is_multiple_of(8) || bytes < 8 + bitset_bytes(n as usize)))
        {
            return Err(bad());
        }
        let reserved = arrays.iter().map(|&(bytes, _)| bytes).sum();
        let slots_end = bitset + 8 * fields;
        Ok(Layout {
            slots_end,
            reserved,
            growth: slots_end - input_bitset - 8 * input_fields + reserved,
            input_bitset,
            bitset,
            input_fields,
            moved,
            arrays,
        })
    }

    /// How much longer the output row is than the input row.
    pub fn growth(&self) -> usize {
        self.growth
    }
}

/// Bytes of the null bitset of a row of `fields` fields, or of an array of that many elements.
fn bitset_bytes(fields: usize) -> usize {
    fields.div_ceil(64) * 8
}

// Per-row helpers answer None for a row that is not what its layout says; the batch functions turn
// that into an error naming the row. Option keeps the error type out of these inner loops.

#[inline]
fn word(bytes: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_ne_bytes(bytes.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

#[inline]
fn put_word(bytes: &mut [u8], at: usize, value: i64) -> Option<()> {
    bytes.get_mut(at..at.checked_add(8)?)?.copy_from_slice(&value.to_ne_bytes());
    Some(())
}

#[inline]
fn is_null(row: &[u8], ordinal: usize) -> Option<bool> {
    Some(word(row, ordinal / 64 * 8)? >> (ordinal % 64) & 1 != 0)
}

/// Row `r`'s bytes, or an error if its span is not inside the arena.
#[inline]
fn row_of<'a>(arena: &'a mut [u8], starts: &[i32], r: usize) -> Result<&'a mut [u8]> {
    let (start, end) = (starts[r], starts[r + 1]);
    let len = arena.len();
    usize::try_from(start)
        .ok()
        .zip(usize::try_from(end).ok())
        .and_then(|(start, end)| arena.get_mut(start..end))
        .ok_or_else(|| Error::InvalidArgument(format!("row {r} spans {start}..{end}, outside an arena of {len} bytes")))
}

fn malformed(r: usize) -> Error {
    Error::InvalidArgument(format!("row {r} does not fit its layout, or its slot is past the tensor"))
}

/// Model inputs fed from array columns whose every row holds a fixed number of values, already in
/// the tensor's element layout, and the tensors they are copied into, a row after another.
pub struct Gather<'a> {
    pub feeds: Vec<ArrayFeed>,
    pub tensors: Vec<&'a mut [u8]>,
}

/// One such input: its field, the values per row and their width.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrayFeed {
    pub ordinal: usize,
    pub elements: usize,
    pub element_bytes: usize,
}

impl Gather<'_> {
    /// Where each feed's parts sit in rows whose null bitset takes `bitset` bytes.
    fn places(&self, bitset: usize) -> Vec<FeedPlace> {
        self.feeds
            .iter()
            .map(|feed| FeedPlace {
                null_word: feed.ordinal / 64 * 8,
                null_bit: 1 << (feed.ordinal % 64),
                field: bitset + 8 * feed.ordinal,
                count: feed.elements as i64,
                header: 8 + bitset_bytes(feed.elements),
                bytes: feed.elements * feed.element_bytes,
            })
            .collect()
    }

    /// Copies `row`'s features into tensor slot `slot`: false if one cannot be copied as it is (a
    /// null array, another length, a null element). A false leaves the slot to be written again.
    #[inline]
    fn row(&mut self, places: &[FeedPlace], row: &[u8], slot: usize) -> Option<bool> {
        for (place, tensor) in places.iter().zip(self.tensors.iter_mut()) {
            if word(row, place.null_word)? & place.null_bit != 0 {
                return Some(false);
            }
            let at = (word(row, place.field)? >> 32) as usize;
            let array = row.get(at..at.checked_add(place.header + place.bytes)?)?;
            let (header, values) = array.split_at(place.header);
            let mut null_bits = 0;
            for w in header[8..].chunks_exact(8) {
                null_bits |= word(w, 0)?;
            }
            if word(header, 0)? != place.count || null_bits != 0 {
                return Some(false);
            }
            tensor.get_mut(slot * place.bytes..(slot + 1) * place.bytes)?.copy_from_slice(values);
        }
        Some(true)
    }
}

/// A feed's places in a row: its null bit, its field, and the header and values of its array.
struct FeedPlace {
    null_word: usize,
    null_bit: i64,
    field: usize,
    count: i64,
    header: usize,
    bytes: usize,
}

/// Lays rows `0..starts.len() - 1` out as output rows, in place (see the module's description), and
/// with `gather`, copies their features into tensor slots `0..` up to the first row that cannot be
/// copied as it is. Returns that row (the row count when every row was copied; 0 without `gather`).
pub fn lay(arena: &mut [u8], starts: &[i32], layout: &Layout, mut gather: Option<Gather<'_>>) -> Result<usize> {
    let rows = starts.len().saturating_sub(1);
    let mut gathered = if gather.is_some() { None } else { Some(0) };
    let places = gather.as_ref().map_or_else(Vec::new, |g| g.places(layout.bitset));
    for r in 0..rows {
        let row = row_of(arena, starts, r)?;
        lay_row(row, layout).ok_or_else(|| malformed(r))?;
        if let (None, Some(g)) = (gathered, gather.as_mut()) {
            if !g.row(&places, row, r).ok_or_else(|| malformed(r))? {
                gathered = Some(r);
            }
        }
    }
    Ok(gathered.unwrap_or(rows))
}

fn lay_row(row: &mut [u8], layout: &Layout) -> Option<()> {
    let Layout { input_bitset, bitset, input_fields, slots_end, reserved, growth, .. } = *layout;
    let fixed = 8 * input_fields;
    let size = row.len();
    let variable = size.checked_sub(growth + input_bitset + fixed)?;
    // The variable-length bytes first: the fixed slots' move, if any, lands where they were.
    row.copy_within(input_bitset + fixed..input_bitset + fixed + variable, slots_end);
    if bitset != input_bitset {
        row.copy_within(input_bitset..input_bitset + fixed, bitset);
        row[input_bitset..bitset].fill(0);
    }
    row[bitset + fixed..slots_end].fill(0);
    row[size - reserved..].fill(0);
    let shift = (slots_end - input_bitset - fixed) as i64;
    for &ordinal in &layout.moved {
        if !is_null(row, ordinal)? {
            let at = bitset + 8 * ordinal;
            put_word(row, at, word(row, at)? + (shift << 32))?;
        }
    }
    let mut array = slots_end + variable;
    for (f, &(bytes, elements)) in layout.arrays.iter().enumerate() {
        if bytes > 0 {
            put_word(row, bitset + 8 * (input_fields + f), (array as i64) << 32 | bytes as i64)?;
            put_word(row, array, elements)?;
            array += bytes;
        }
    }
    Some(())
}

/// Copies the features of laid rows `from..to` into tensor slots `first_slot..`, up to the first
/// row that cannot be copied as it is; returns that row (`to` when there is none). Java's writer
/// takes that row, and this goes on after it.
pub fn gather(
    arena: &mut [u8],
    starts: &[i32],
    bitset: usize,
    gather: &mut Gather<'_>,
    (from, to): (usize, usize),
    first_slot: usize,
) -> Result<usize> {
    let places = gather.places(bitset);
    for r in from..to {
        let row = row_of(arena, starts, r)?;
        if !gather.row(&places, row, first_slot + (r - from)).ok_or_else(|| malformed(r))? {
            return Ok(r);
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
    for (r, &slot) in slots.iter().enumerate() {
        if let Ok(slot) = usize::try_from(slot) {
            fill_row(row_of(arena, starts, r)?, bitset, prediction, values, slot).ok_or_else(|| malformed(r))?;
        }
    }
    Ok(())
}

#[inline]
fn fill_row(row: &mut [u8], bitset: usize, prediction: &Prediction, values: &[u8], slot: usize) -> Option<()> {
    let per_row = prediction.array_elements.max(1) * prediction.value_bytes;
    let value = values.get(slot * per_row..(slot + 1) * per_row)?;
    let field = bitset + 8 * prediction.ordinal;
    let at = if prediction.array_elements == 0 {
        field
    } else {
        (word(row, field)? >> 32) as usize + 8 + bitset_bytes(prediction.array_elements)
    };
    let target = row.get_mut(at..at + per_row)?;
    target.copy_from_slice(value);
    if prediction.boolean {
        target.iter_mut().for_each(|b| *b = u8::from(*b != 0));
    }
    Some(())
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
        lay(&mut arena, &starts, &layout, None).expect("lays");
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

    const FEED: ArrayFeed = ArrayFeed { ordinal: 1, elements: 2, element_bytes: 4 };

    fn floats(bytes: &[u8]) -> Vec<f32> {
        bytes.chunks(4).map(|b| f32::from_ne_bytes(b.try_into().unwrap())).collect()
    }

    #[test]
    fn laying_gathers_up_to_a_row_it_cannot_copy_and_gather_goes_on_after_it() {
        let layout = layout();
        let rows = [
            input_row(1, Some(&[1.0, 2.0])),
            input_row(2, Some(&[3.0, 4.0])),
            input_row(3, None),
            input_row(4, Some(&[5.0, 6.0])),
            input_row(5, Some(&[7.0])),
        ];
        let (mut arena, starts) = arena_of(&rows, &layout);
        let mut tensor = vec![0u8; 4 * 8];
        let laid = lay(&mut arena, &starts, &layout, Some(Gather { feeds: vec![FEED], tensors: vec![&mut tensor] }));
        assert_eq!(laid.unwrap(), 2, "the null array stops gathering");
        let last = &arena[starts[4] as usize..starts[5] as usize];
        assert_eq!(word(last, 8).unwrap(), 5, "every row is laid all the same");
        let mut rest = Gather { feeds: vec![FEED], tensors: vec![&mut tensor] };
        assert_eq!(gather(&mut arena, &starts, 8, &mut rest, (3, 5), 2).unwrap(), 4, "so does a short array");
        assert_eq!(floats(&tensor[..24]), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn a_null_element_stops_gathering() {
        let layout = layout();
        let mut row = input_row(1, Some(&[1.0, 2.0]));
        row[24 + 8] = 0b10;
        let (mut arena, starts) = arena_of(&[row], &layout);
        let mut tensor = vec![0u8; 8];
        let laid = lay(&mut arena, &starts, &layout, Some(Gather { feeds: vec![FEED], tensors: vec![&mut tensor] }));
        assert_eq!(laid.unwrap(), 0);
    }

    #[test]
    fn predictions_land_in_their_rows_by_slot() {
        let layout = layout();
        let rows = [input_row(1, Some(&[1.0, 2.0])), input_row(2, None), input_row(3, Some(&[3.0, 4.0]))];
        let (mut arena, starts) = arena_of(&rows, &layout);
        lay(&mut arena, &starts, &layout, None).expect("lays");
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
        assert!(lay(&mut arena, &[0, len + 8], &layout, None).is_err());
        assert!(lay(&mut arena, &[0, 16], &layout, None).is_err(), "too short for its layout");
        let mut corrupt = input_row(1, Some(&[1.0, 2.0]));
        corrupt[20..24].copy_from_slice(&4096i32.to_ne_bytes());
        let (mut arena, starts) = arena_of(&[corrupt], &layout);
        let mut tensor = [0u8; 8];
        assert!(
            lay(&mut arena, &starts, &layout, Some(Gather { feeds: vec![FEED], tensors: vec![&mut tensor] })).is_err()
        );
        let mut short_tensor = [0u8; 4];
        let (mut arena, starts) = arena_of(&[input_row(1, Some(&[1.0, 2.0]))], &layout);
        let gathering = Some(Gather { feeds: vec![FEED], tensors: vec![&mut short_tensor] });
        assert!(lay(&mut arena, &starts, &layout, gathering).is_err(), "a tensor too small");
        assert!(Layout::from_longs(&[8, 8, 2, 1]).is_err(), "a short description");
    }
}
