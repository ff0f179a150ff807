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
    /// The layout of rows of `input_fields` input fields, of which those in `moved` are held in the
    /// variable-length region, and one prediction per `arrays` entry: (bytes its array takes, its
    /// element count), or (0, 0) for one value a row. Parsed from the JVM by `jni::wire::RowLayout`.
    pub fn new(input_fields: usize, moved: Vec<usize>, arrays: Vec<(usize, i64)>) -> Result<Layout> {
        let fields = input_fields + arrays.len();
        let bad =
            || Error::InvalidArgument(format!("row layout of {input_fields} fields, {moved:?} moved, {arrays:?}"));
        if moved.iter().any(|&m| m >= input_fields)
            || arrays.iter().any(|&(bytes, n)| {
                bytes > 0
                    && (!bytes.is_multiple_of(8) || bytes < 8 + bitset_bytes(usize::try_from(n).unwrap_or(usize::MAX)))
            })
        {
            return Err(bad());
        }
        let (input_bitset, bitset) = (bitset_bytes(input_fields), bitset_bytes(fields));
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

    /// Bytes of the input rows' null bitset.
    pub fn input_bitset(&self) -> usize {
        self.input_bitset
    }

    /// Bytes of the laid rows' null bitset.
    pub fn bitset(&self) -> usize {
        self.bitset
    }

    /// How much longer a laid row is than its input row: the room the JVM leaves after each input
    /// row it copies into the arena (it asks for it with `rowGrowth`; it is worked out here only).
    pub fn growth(&self) -> usize {
        self.growth
    }

    /// The fewest bytes a laid row has: its fields' null bits and slots, and the predictions' arrays.
    fn min_row(&self) -> usize {
        self.slots_end + self.reserved
    }
}

/// Bytes of the null bitset of a row of `fields` fields, or of an array of that many elements.
fn bitset_bytes(fields: usize) -> usize {
    fields.div_ceil(64) * 8
}

#[cold]
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
    /// Where each feed's parts sit in rows of `layout` whose null bitset takes `bitset` bytes (the
    /// input's before they are laid out, the output's after).
    fn places(&self, layout: &Layout, bitset: usize) -> Result<Vec<FeedPlace>> {
        self.feeds
            .iter()
            .map(|feed| {
                let bytes = feed.elements.checked_mul(feed.element_bytes).filter(|&b| b <= i32::MAX as usize);
                match bytes {
                    Some(bytes) if feed.ordinal < layout.input_fields => Ok(FeedPlace {
                        null_word: feed.ordinal / 64 * 8,
                        null_bit: 1 << (feed.ordinal % 64),
                        field: bitset + 8 * feed.ordinal,
                        count: feed.elements as i64,
                        header: 8 + bitset_bytes(feed.elements),
                        bytes,
                    }),
                    _ => Err(Error::InvalidArgument(format!("{feed:?} does not fit the row layout"))),
                }
            })
            .collect()
    }

    /// Copies `row`'s features into tensor slot `slot`: false if one cannot be copied as it is (a
    /// null array, another length, a null element). A false leaves the slot to be written again.
    ///
    /// # Safety
    /// `row` must be checked as `Row` says and laid out as `places` were worked out for; its
    /// arrays must end by `end`, at most the row's size.
    #[inline]
    unsafe fn row(&mut self, places: &[FeedPlace], row: Row, end: usize, slot: usize) -> Option<bool> {
        for (place, tensor) in places.iter().zip(self.tensors.iter_mut()) {
            // SAFETY: null bits and fields sit in the row's first `Layout::min_row` bytes.
            let (bits, field) = unsafe { (row.word(place.null_word), row.word(place.field)) };
            if bits & place.null_bit != 0 {
                return Some(false);
            }
            let at = (field as u64 >> 32) as usize;
            // The count first: an array of another length (a shorter one may end the row) is Java's to
            // name; only one whose values do not fit the row is malformed.
            if at.checked_add(8)? > end {
                return None;
            }
            // SAFETY: the count's word, `at..at + 8`, was just checked to be in the row.
            if unsafe { row.word(at) } != place.count {
                return Some(false);
            }
            if at.checked_add(place.header + place.bytes)? > end {
                return None;
            }
            // SAFETY: the array's header and values, `at..at + header + bytes`, were just checked to be in the row.
            let null_bits = unsafe { (at + 8..at + place.header).step_by(8).fold(0, |bits, w| bits | row.word(w)) };
            if null_bits != 0 {
                return Some(false);
            }
            let target = tensor.get_mut(slot.checked_mul(place.bytes)?..)?.get_mut(..place.bytes)?;
            // SAFETY: the values are in the row (checked above) and `target` holds as many bytes; the
            // tensor is an input buffer, not the arena, so the two do not overlap.
            unsafe { std::ptr::copy_nonoverlapping(row.at.add(at + place.header), target.as_mut_ptr(), place.bytes) };
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

/// A row of the arena, for the per-row work of `lay` and `gather`, which reads and writes it
/// through a raw pointer: the per-word bounds checks and error paths of safe slices cost several
/// times the work itself (11 against under 4 ns a row for the linear model's rows). Instead each
/// row is checked once: it lies inside the arena, and it has at least its layout's `min_row` bytes,
/// so every null bit and fixed slot is inside it. An array's offset, read from the row, is checked
/// where it is used.
#[derive(Clone, Copy)]
struct Row {
    at: *mut u8,
    size: usize,
}

impl Row {
    /// Row `r` of the arena of `len` bytes at `base`, checked as `Row` says. Each batch function
    /// takes `base` from its arena once and reaches every row through it.
    #[inline(always)]
    fn of(base: *mut u8, len: usize, starts: &[i32], r: usize, layout: &Layout) -> Result<Row> {
        let (start, end) = (starts[r] as usize, starts[r + 1] as usize);
        // A negative start or end becomes huge and fails a test.
        if start > end || end > len || end - start < layout.min_row() {
            return Err(malformed(r));
        }
        Ok(Row { at: base.wrapping_add(start), size: end - start })
    }

    /// # Safety
    /// `offset + 8 <= self.size`.
    #[inline(always)]
    unsafe fn word(self, offset: usize) -> i64 {
        // SAFETY: per this function's contract the word is inside the row.
        unsafe { self.at.add(offset).cast::<i64>().read_unaligned() }
    }

    /// # Safety
    /// `offset + 8 <= self.size`.
    #[inline(always)]
    unsafe fn put_word(self, offset: usize, value: i64) {
        // SAFETY: per this function's contract the word is inside the row.
        unsafe { self.at.add(offset).cast::<i64>().write_unaligned(value) }
    }
}

/// Lays rows `0..starts.len() - 1` out as output rows, in place (see the module's description), and
/// with `gather`, copies their features into tensor slots `0..` up to the first row that cannot be
/// copied as it is. Returns that row (the row count when every row was copied; 0 without `gather`).
pub fn lay(arena: &mut [u8], starts: &[i32], layout: &Layout, mut gather: Option<Gather<'_>>) -> Result<usize> {
    let rows = starts.len().saturating_sub(1);
    // Features are copied from the input row, before it is laid out: reading an array just moved
    // would wait for the move's wide stores to land (measured: a third of this loop's time).
    let places = gather.as_ref().map_or_else(|| Ok(Vec::new()), |g| g.places(layout, layout.input_bitset))?;
    let (base, len) = (arena.as_mut_ptr(), arena.len());
    // Rows copied so far; gathering stops (`gather` is dropped) at the first row that cannot be.
    let mut gathered = 0;
    for r in 0..rows {
        let row = Row::of(base, len, starts, r, layout)?;
        // The rows were copied in a batch ago; asking for one a few rows ahead saves a wait on memory.
        #[cfg(target_arch = "x86_64")]
        if let Some(&ahead) = starts.get(r + 4) {
            // SAFETY: a prefetch is a hint: it reads nothing and cannot fault, whatever the address.
            unsafe {
                core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                    base.wrapping_add(ahead as usize).cast_const().cast(),
                )
            };
        }
        if let Some(g) = gather.as_mut() {
            // SAFETY: `Row::of` checked the row; it still holds the input row, as `places` were worked out for.
            if unsafe { g.row(&places, row, row.size - layout.growth, r) }.ok_or_else(|| malformed(r))? {
                gathered += 1;
            } else {
                gather = None;
            }
        }
        // SAFETY: `Row::of` checked the row.
        unsafe { lay_row(row, layout) };
    }
    Ok(gathered)
}

/// # Safety
/// `row` must be checked as `Row` says.
#[inline]
unsafe fn lay_row(row: Row, layout: &Layout) {
    let Layout { input_bitset, bitset, input_fields, slots_end, reserved, .. } = *layout;
    let fixed = 8 * input_fields;
    let variable = row.size - layout.min_row();
    let shift = (slots_end - input_bitset - fixed) as i64;
    // SAFETY: the output row's parts, `0..slots_end`, `slots_end..slots_end + variable` and the last
    // `reserved` bytes, end at `row.size = slots_end + variable + reserved`; the input's, read
    // before they are overwritten, end earlier (`input_bitset + fixed + variable = row.size - growth`).
    unsafe {
        // The variable-length bytes first: the fixed slots' move, if any, lands where they were.
        std::ptr::copy(row.at.add(input_bitset + fixed), row.at.add(slots_end), variable);
        if bitset != input_bitset {
            std::ptr::copy(row.at.add(input_bitset), row.at.add(bitset), fixed);
            std::ptr::write_bytes(row.at.add(input_bitset), 0, bitset - input_bitset);
        }
        for slot in (bitset + fixed..slots_end).step_by(8) {
            row.put_word(slot, 0);
        }
        if reserved > 0 {
            std::ptr::write_bytes(row.at.add(row.size - reserved), 0, reserved);
        }
        for &ordinal in &layout.moved {
            if row.word(ordinal / 64 * 8) >> (ordinal % 64) & 1 == 0 {
                let at = bitset + 8 * ordinal;
                row.put_word(at, row.word(at) + (shift << 32));
            }
        }
        let mut array = slots_end + variable;
        for (f, &(bytes, elements)) in layout.arrays.iter().enumerate() {
            if bytes > 0 {
                row.put_word(bitset + 8 * (input_fields + f), (array as i64) << 32 | bytes as i64);
                row.put_word(array, elements);
                array += bytes;
            }
        }
    }
}

/// Copies the features of laid rows `from..to` into tensor slots `first_slot..`, up to the first
/// row that cannot be copied as it is; returns that row (`to` when there is none). Java's writer
/// takes that row, and this goes on after it.
pub fn gather(
    arena: &mut [u8],
    starts: &[i32],
    layout: &Layout,
    gather: &mut Gather<'_>,
    (from, to): (usize, usize),
    first_slot: usize,
) -> Result<usize> {
    if from > to || to >= starts.len() {
        return Err(Error::InvalidArgument(format!(
            "rows {from}..{to} of a batch of {} rows",
            starts.len().saturating_sub(1)
        )));
    }
    let places = gather.places(layout, layout.bitset)?;
    let (base, len) = (arena.as_mut_ptr(), arena.len());
    for r in from..to {
        let row = Row::of(base, len, starts, r, layout)?;
        // SAFETY: `Row::of` checked the row, laid out before by `lay`.
        if !unsafe { gather.row(&places, row, row.size, first_slot + (r - from)) }.ok_or_else(|| malformed(r))? {
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
    layout: &Layout,
    prediction: &Prediction,
    values: &[u8],
) -> Result<()> {
    // Whether the prediction is an array (of as many elements as the layout reserved, 0 included)
    // or one value in its field's slot is the layout's to say.
    let reserved = prediction.ordinal.checked_sub(layout.input_fields).and_then(|p| layout.arrays.get(p));
    let fits = match reserved {
        Some(&(bytes, elements)) if bytes > 0 => elements == prediction.array_elements as i64,
        Some(_) => prediction.array_elements == 0 && prediction.value_bytes <= 8,
        None => false,
    };
    if !fits || slots.len() >= starts.len().max(1) {
        return Err(Error::InvalidArgument(format!(
            "{prediction:?} for {} slots does not fit the row layout or a batch of {} rows",
            slots.len(),
            starts.len().saturating_sub(1)
        )));
    }
    let array = reserved.is_some_and(|&(bytes, _)| bytes > 0);
    if array && prediction.array_elements == 0 {
        // Every row's array is empty: `lay` wrote their element counts, 0, and there is nothing to copy.
        return Ok(());
    }
    let (base, len) = (arena.as_mut_ptr(), arena.len());
    for (r, &slot) in slots.iter().enumerate() {
        if let Ok(slot) = usize::try_from(slot) {
            let row = Row::of(base, len, starts, r, layout)?;
            // SAFETY: `Row::of` checked the row, and the prediction's field is one of its slots.
            unsafe { fill_row(row, layout.bitset, prediction, values, slot) }.ok_or_else(|| malformed(r))?;
        }
    }
    Ok(())
}

/// # Safety
/// `row` must be checked as `Row` says, and the prediction's field be one of the layout's.
#[inline]
unsafe fn fill_row(row: Row, bitset: usize, prediction: &Prediction, values: &[u8], slot: usize) -> Option<()> {
    let per_row = prediction.array_elements.max(1).checked_mul(prediction.value_bytes)?;
    let value = values.get(slot.checked_mul(per_row)?..)?.get(..per_row)?;
    let field = bitset + 8 * prediction.ordinal;
    let at = if prediction.array_elements == 0 {
        field
    } else {
        // SAFETY: the field is a slot of the row (this function's contract).
        (unsafe { row.word(field) } as u64 >> 32) as usize + 8 + bitset_bytes(prediction.array_elements)
    };
    if at.checked_add(per_row)? > row.size {
        return None;
    }
    // SAFETY: `at..at + per_row` was just checked to be in the row; `values` is a run's output
    // tensor, not the arena.
    let target = unsafe {
        std::ptr::copy_nonoverlapping(value.as_ptr(), row.at.add(at), per_row);
        std::slice::from_raw_parts_mut(row.at.add(at), per_row)
    };
    if prediction.boolean {
        target.iter_mut().for_each(|b| *b = u8::from(*b != 0));
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jni::wire::RowLayout;

    fn word(bytes: &[u8], at: usize) -> Option<i64> {
        Some(i64::from_ne_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    }

    fn is_null(row: &[u8], ordinal: usize) -> Option<bool> {
        Some(word(row, ordinal / 64 * 8)? >> (ordinal % 64) & 1 != 0)
    }

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
        RowLayout::layout(&[8, 8, 2, 1, 1, 2, 0, 0, array_bytes(3, 4) as i64, 3]).expect("valid layout")
    }

    fn arena_of(rows: &[Vec<u8>], layout: &Layout) -> (Vec<u8>, Vec<i32>) {
        let (mut arena, mut starts) = (Vec::new(), vec![0]);
        for row in rows {
            arena.extend_from_slice(row);
            arena.resize(arena.len() + layout.growth, 0xAB);
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
        assert_eq!(gather(&mut arena, &starts, &layout, &mut rest, (3, 5), 2).unwrap(), 4, "so does a short array");
        assert_eq!(floats(&tensor[..24]), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn a_short_array_ending_the_row_stops_gathering_and_is_no_error() {
        let layout = layout();
        let four = ArrayFeed { elements: 4, ..FEED };
        for short in [&[][..], &[1.0][..], &[1.0, 2.0][..]] {
            let (mut arena, starts) = arena_of(&[input_row(1, Some(short))], &layout);
            let mut tensor = vec![0u8; 16];
            let laid =
                lay(&mut arena, &starts, &layout, Some(Gather { feeds: vec![four], tensors: vec![&mut tensor] }));
            assert_eq!(laid.unwrap(), 0, "{} elements go to Java, which names the column", short.len());
        }
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
        fill(&mut arena, &starts, &slots, &layout, &score, &scores).unwrap();
        let probabilities: Vec<u8> = (0..6).flat_map(|i| (i as f32).to_ne_bytes()).collect();
        let array = Prediction { ordinal: 3, array_elements: 3, value_bytes: 4, boolean: false };
        fill(&mut arena, &starts, &slots, &layout, &array, &probabilities).unwrap();
        let third = &arena[starts[2] as usize..starts[3] as usize];
        assert_eq!(f32::from_ne_bytes(third[24..28].try_into().unwrap()), 1.5);
        let at = (word(third, 32).unwrap() >> 32) as usize + 16;
        assert_eq!(f32::from_ne_bytes(third[at + 8..at + 12].try_into().unwrap()), 5.0);
        let second = &arena[starts[1] as usize..starts[2] as usize];
        assert_eq!(word(second, 24).unwrap(), 0, "a row without a slot keeps a clear slot");
        let flags = Prediction { ordinal: 2, array_elements: 0, value_bytes: 1, boolean: true };
        fill(&mut arena, &starts, &slots, &layout, &flags, &[7, 0]).unwrap();
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
        assert!(RowLayout::layout(&[8, 8, 2, 1]).is_err(), "a short description");
        assert!(RowLayout::layout(&[8, 8, 2, 1 << 40]).is_err(), "a count beyond the description");
        let (mut arena, starts) = arena_of(&[input_row(1, Some(&[1.0, 2.0]))], &layout);
        let beyond = ArrayFeed { ordinal: 2, ..FEED };
        let mut tensor = [0u8; 8];
        let gathering = Some(Gather { feeds: vec![beyond], tensors: vec![&mut tensor] });
        assert!(lay(&mut arena, &starts, &layout, gathering).is_err(), "a feed past the input's fields");
        let input_field = Prediction { ordinal: 1, array_elements: 0, value_bytes: 4, boolean: false };
        assert!(
            fill(&mut arena, &starts, &[0], &layout, &input_field, &[0; 4]).is_err(),
            "a prediction into an input field"
        );
    }
}
