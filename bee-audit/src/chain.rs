//! The chained record line.
//!
//! Every line of a chained log is
//!
//! ```text
//! {"seq":<n>,"prev":"<64 hex>","event":<event JSON>,"mac":"<64 hex>"}
//! ```
//!
//! where `mac` is HMAC-SHA256, under a key derived from the [`ChainKey`], of every byte of
//! the line before `,"mac"` (so of `seq`, `prev` and the event exactly as written), and
//! `prev` is the `mac` of the record before it (all zeros for the first record of a chain).
//! Sequence numbers start at 1 and grow by one. The hex is lowercase and checked as such,
//! so no two spellings of one MAC exist. The fixed frame lets `verify` check a line
//! without parsing the event.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::key::ChainKey;

/// Length of a MAC in bytes.
pub(crate) const MAC_LEN: usize = 32;
/// A record MAC.
pub(crate) type Tag = [u8; MAC_LEN];
/// The `prev` of the first record of a chain.
pub(crate) const GENESIS: Tag = [0; MAC_LEN];

const SEQ_OPEN: &[u8] = b"{\"seq\":";
const PREV_OPEN: &[u8] = b",\"prev\":\"";
const EVENT_OPEN: &[u8] = b"\",\"event\":";
const MAC_OPEN: &[u8] = b",\"mac\":\"";
const CLOSE: &[u8] = b"\"}";
/// Bytes after the signed part of a line: `,"mac":"` + 64 hex + `"}`.
const SUFFIX_LEN: usize = MAC_OPEN.len() + 2 * MAC_LEN + CLOSE.len();

/// The end of a chain so far: the last record's sequence number and MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) seq: u64,
    pub(crate) mac: Tag,
}

impl Link {
    /// The state before the first record of a chain.
    pub(crate) const START: Link = Link {
        seq: 0,
        mac: GENESIS,
    };
}

/// Frames and checks record lines under one key.
#[derive(Clone)]
pub(crate) struct Chainer {
    // Keyed once; each record clones the keyed state instead of rekeying.
    mac: Hmac<Sha256>,
}

impl Chainer {
    pub(crate) fn new(key: &ChainKey) -> Self {
        Self {
            mac: key.record_mac(),
        }
    }

    /// Appends the line (with its newline) after `last` to `out`; `event` writes the event
    /// JSON. Returns the new end of the chain.
    pub(crate) fn frame<E>(
        &self,
        last: Link,
        out: &mut Vec<u8>,
        event: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Link, E> {
        let start = out.len();
        let seq = last.seq.saturating_add(1);
        out.extend_from_slice(SEQ_OPEN);
        out.extend_from_slice(itoa_u64(seq, &mut [0; 20]));
        out.extend_from_slice(PREV_OPEN);
        push_hex(out, &last.mac);
        out.extend_from_slice(EVENT_OPEN);
        event(out)?;

        let mac = self.tag(&out[start..]);
        out.extend_from_slice(MAC_OPEN);
        push_hex(out, &mac);
        out.extend_from_slice(CLOSE);
        out.push(b'\n');
        Ok(Link { seq, mac })
    }

    /// Whether the line's MAC is right for its signed bytes.
    pub(crate) fn authentic(&self, line: &Line<'_>) -> bool {
        // Constant-time: a verifier that leaked how much of a MAC matched would let an
        // attacker who can submit lines find a valid MAC byte by byte.
        self.tag(line.signed).ct_eq(&line.mac).into()
    }

    fn tag(&self, signed: &[u8]) -> Tag {
        self.mac
            .clone()
            .chain_update(signed)
            .finalize()
            .into_bytes()
            .into()
    }
}

/// A line split into its frame; not yet authenticated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub(crate) seq: u64,
    pub(crate) prev: Tag,
    pub(crate) mac: Tag,
    pub(crate) signed: &'a [u8],
    pub(crate) event: &'a [u8],
}

impl<'a> Line<'a> {
    /// Splits a line (without its newline), or `None` when the frame is wrong.
    pub(crate) fn parse(line: &'a [u8]) -> Option<Self> {
        let signed_len = line.len().checked_sub(SUFFIX_LEN)?;
        let (signed, suffix) = line.split_at(signed_len);
        let mac_hex = suffix.strip_prefix(MAC_OPEN)?.strip_suffix(CLOSE)?;

        let rest = signed.strip_prefix(SEQ_OPEN)?;
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let seq = parse_seq(&rest[..digits])?;
        let rest = rest[digits..].strip_prefix(PREV_OPEN)?;
        let prev_hex = rest.get(..2 * MAC_LEN)?;
        let event = rest[2 * MAC_LEN..].strip_prefix(EVENT_OPEN)?;

        Some(Self {
            seq,
            prev: parse_hex(prev_hex)?,
            mac: parse_hex(mac_hex)?,
            signed,
            event,
        })
    }
}

/// Decimal digits without a leading zero, fitting a u64.
fn parse_seq(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Lowercase hex only, so that a MAC has exactly one spelling.
fn parse_hex(hex: &[u8]) -> Option<Tag> {
    if hex.len() != 2 * MAC_LEN {
        return None;
    }
    let mut out = [0u8; MAC_LEN];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

fn itoa_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789"[usize::try_from(n % 10).unwrap_or(0)];
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chainer() -> Chainer {
        Chainer::new(&ChainKey::from_bytes(&[9; 32]).unwrap())
    }

    fn framed(last: Link, event: &str) -> (Vec<u8>, Link) {
        let mut out = Vec::new();
        let link = chainer()
            .frame(last, &mut out, |o| {
                o.extend_from_slice(event.as_bytes());
                Ok::<_, ()>(())
            })
            .unwrap();
        (out, link)
    }

    #[test]
    fn framed_line_parses_back_and_authenticates() {
        let (line, link) = framed(Link::START, r#"{"a":1}"#);
        assert!(line.ends_with(b"\n"));
        let parsed = Line::parse(&line[..line.len() - 1]).unwrap();
        assert_eq!(
            (parsed.seq, parsed.prev, parsed.mac),
            (1, GENESIS, link.mac)
        );
        assert_eq!(parsed.event, br#"{"a":1}"#);
        assert!(chainer().authentic(&parsed));

        let (second, next) = framed(link, "{}");
        let parsed = Line::parse(&second[..second.len() - 1]).unwrap();
        assert_eq!((parsed.seq, parsed.prev), (2, link.mac));
        assert_eq!(next.seq, 2);
    }

    #[test]
    fn uppercase_hex_and_leading_zeros_are_not_a_valid_frame() {
        let (line, _) = framed(Link::START, "{}");
        let text = String::from_utf8(line[..line.len() - 1].to_vec()).unwrap();
        let mac_at = text.rfind("\"mac\":\"").unwrap() + 7;
        let upper = format!("{}{}", &text[..mac_at], text[mac_at..].to_uppercase());
        if upper != text {
            assert!(Line::parse(upper.as_bytes()).is_none());
        }
        assert!(Line::parse(text.replace("\"seq\":1", "\"seq\":01").as_bytes()).is_none());
    }

    #[test]
    fn seq_parsing_rejects_overflow() {
        assert_eq!(parse_seq(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_seq(b"18446744073709551616"), None);
        assert_eq!(parse_seq(b"0"), Some(0));
    }
}
