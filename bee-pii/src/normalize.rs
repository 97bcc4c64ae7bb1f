//! The normalised view that detection runs on, with a map back to the original text.
//!
//! Text is cut into groups (a character and the combining marks after it). Each group is
//! replaced by its NFKC form, with three additions: invisible format characters and
//! control characters other than tab, newline and carriage return are dropped,
//! non-ASCII decimal digits become ASCII digits, and Unicode dashes become `-`. A group
//! whose NFKC form would be more than four times its size is kept as it is, which caps
//! the expansion. Because every group maps to a contiguous range of the original, a span
//! of the view maps back to a span of the original on character boundaries.
//!
//! Pure ASCII without control characters is already in this form: it is borrowed as it
//! is and no map is built.

use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::canonical_combining_class;

/// How many times larger than its source a group's normal form may be.
const MAX_EXPANSION: usize = 4;

/// The text detection runs on.
pub(crate) struct View<'a> {
    text: Cow<'a, str>,
    map: Option<OffsetMap>,
    original_len: usize,
}

/// For each byte of the view, the original range of the group that produced it.
struct OffsetMap {
    starts: Vec<usize>,
    ends: Vec<usize>,
}

impl<'a> View<'a> {
    /// Builds the view of `text`, borrowing it when it needs no change.
    pub(crate) fn new(text: &'a str) -> Self {
        if is_clean(text.as_bytes()) {
            return View {
                text: Cow::Borrowed(text),
                map: None,
                original_len: text.len(),
            };
        }
        let (normal, map) = normalise(text);
        View {
            text: Cow::Owned(normal),
            map: Some(map),
            original_len: text.len(),
        }
    }

    /// The normalised text.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// Maps a span of the view to the span of the original text it came from.
    pub(crate) fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        match &self.map {
            None => (start, end),
            Some(map) => {
                let s = map.starts.get(start).copied().unwrap_or(self.original_len);
                let e = end
                    .checked_sub(1)
                    .and_then(|last| map.ends.get(last).copied())
                    .unwrap_or(s);
                (s, e.max(s))
            }
        }
    }
}

/// Whether text is already in normal form: printable ASCII, tab, newline, return.
pub(crate) fn is_clean(bytes: &[u8]) -> bool {
    // Branch-free over fixed blocks so that the compiler can vectorise the check.
    let mut chunks = bytes.chunks_exact(32);
    for chunk in &mut chunks {
        let bad = chunk.iter().fold(false, |acc, &b| acc | !clean_byte(b));
        if bad {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| clean_byte(b))
}

#[inline(always)]
fn clean_byte(b: u8) -> bool {
    (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t' || b == b'\r'
}

/// Where the last group of `text` starts: text before it normalises the same whatever
/// follows.
pub(crate) fn last_group_start(text: &str) -> usize {
    for (i, c) in text.char_indices().rev() {
        if canonical_combining_class(c) == 0 {
            return i;
        }
    }
    0
}

fn normalise(text: &str) -> (String, OffsetMap) {
    let mut out = String::with_capacity(text.len());
    let mut map = OffsetMap {
        starts: Vec::with_capacity(text.len()),
        ends: Vec::new(),
    };
    normalise_into(text, 0, &mut out, &mut map.starts, &mut map.ends);
    (out, map)
}

/// Appends the normal form of `text` to `out`, and for each byte written the original
/// range (offset by `base`) of the group it came from. `text` must start and end on group
/// boundaries for the result to equal a slice of the whole text's view.
pub(crate) fn normalise_into(
    text: &str,
    base: usize,
    out: &mut String,
    starts: &mut Vec<usize>,
    ends: &mut Vec<usize>,
) {
    let mut iter = text.char_indices().peekable();
    while let Some((start, c)) = iter.next() {
        let mut end = start + c.len_utf8();
        while let Some(&(i, next)) = iter.peek() {
            if canonical_combining_class(next) == 0 || is_invisible(next) {
                break;
            }
            end = i + next.len_utf8();
            iter.next();
        }
        push_group(out, &text[start..end], c);
        starts.resize(out.len(), base + start);
        ends.resize(out.len(), base + end);
    }
}

fn push_group(out: &mut String, group: &str, first: char) {
    if group.len() == 1 {
        let b = group.as_bytes()[0];
        if clean_byte(b) {
            out.push(char::from(b));
        }
        return;
    }
    if group.len() == first.len_utf8() {
        if is_invisible(first) || first.is_control() {
            return;
        }
        if let Some(digit) = decimal_digit(first) {
            out.push(char::from(b'0' + digit));
            return;
        }
        if is_dash(first) {
            out.push('-');
            return;
        }
    }
    let before = out.len();
    out.extend(group.nfkc().filter(|&c| !is_invisible(c)));
    if out.len() - before > MAX_EXPANSION * group.len() {
        out.truncate(before);
        out.push_str(group);
    }
}

/// Invisible format characters that can hide data: zero-width characters, joiners,
/// bidirectional controls, soft hyphen, word joiner and invisible operators, variation
/// selectors, tags, the byte order mark and Hangul fillers.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFF8}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

fn is_dash(c: char) -> bool {
    matches!(
        c,
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}'
    )
}

/// The value of a decimal digit from a script other than ASCII, for the scripts whose
/// digits NFKC leaves alone (Arabic-Indic, Devanagari, Thai and the rest).
pub(crate) fn decimal_digit(c: char) -> Option<u8> {
    const ZEROS: &[u32] = &[
        0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6,
        0x0D66, 0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0,
        0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0,
        0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0,
        0x11450, 0x114D0, 0x11650, 0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0,
        0x16A60, 0x16AC0, 0x16B50, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
    ];
    let cp = u32::from(c);
    if cp < 0x0660 {
        return None;
    }
    let idx = ZEROS.partition_point(|&z| z <= cp).checked_sub(1)?;
    let offset = cp - ZEROS[idx];
    u8::try_from(offset).ok().filter(|&d| d < 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str) -> String {
        View::new(text).as_str().to_owned()
    }

    #[test]
    fn clean_ascii_is_borrowed() {
        let v = View::new("plain text 123");
        assert!(matches!(v.text, Cow::Borrowed(_)));
    }

    #[test]
    fn fullwidth_digits_and_dashes_fold_to_ascii() {
        assert_eq!(view("４５１８－５８８８"), "4518-5888");
    }

    #[test]
    fn zero_width_and_soft_hyphen_are_removed() {
        assert_eq!(view("a\u{200B}b\u{00AD}c\u{FEFF}d"), "abcd");
    }

    #[test]
    fn other_script_digits_fold_to_ascii() {
        assert_eq!(view("\u{0663}\u{0664} \u{096B}"), "34 5");
    }

    #[test]
    fn control_characters_are_removed_but_newlines_kept() {
        assert_eq!(view("a\u{0}b\nc\u{7}"), "ab\nc");
    }

    #[test]
    fn spans_map_back_over_removed_characters() {
        let text = "x noor@\u{200B}mail.example.org";
        let v = View::new(text);
        let n = v.as_str();
        let at = n.find('n').unwrap();
        assert_eq!(v.original_span(at, n.len()), (2, text.len()));
    }

    #[test]
    fn expansion_is_capped() {
        let text = "\u{FDFA}".repeat(10);
        let v = View::new(&text);
        assert!(v.as_str().len() <= MAX_EXPANSION * text.len());
    }

    #[test]
    fn every_listed_zero_is_a_digit_zero() {
        for z in [0x0660u32, 0x0966, 0x0E50, 0xFF10, 0x1D7CE] {
            let c = char::from_u32(z).unwrap();
            assert!(c.is_numeric());
        }
        assert_eq!(decimal_digit('\u{0669}'), Some(9));
        assert_eq!(decimal_digit('a'), None);
    }
}
