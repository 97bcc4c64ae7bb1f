//! Pieces shared by the fuzz targets: input framing, size caps and fixtures.
//!
//! Every target reads its input as a few control bytes followed by the text under test,
//! so that a seed file is mostly the real thing (a key, a policy file, a log) and a
//! crash input reads as text in its `Debug` form.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use arbitrary::{Error, Result, Unstructured};

/// Inputs longer than this are refused before they reach the code under test. Larger
/// inputs only slow the fuzzer down: every parser here is linear or capped below this.
pub const MAX_INPUT: usize = 64 * 1024;

/// A smaller cap for targets that run the full PII pipeline several times per input.
pub const MAX_TEXT: usize = 16 * 1024;

/// Fails with `IncorrectFormat` when the input is over `cap` bytes, so that libFuzzer
/// drops it at once.
///
/// # Errors
///
/// [`Error::IncorrectFormat`] for an oversized input.
pub fn within(u: &Unstructured<'_>, cap: usize) -> Result<()> {
    if u.len() > cap {
        return Err(Error::IncorrectFormat);
    }
    Ok(())
}

/// The next byte, or 0 once the input is used up.
pub fn byte(u: &mut Unstructured<'_>) -> u8 {
    u.bytes(1).map(|b| b[0]).unwrap_or(0)
}

/// The rest of the input as text (invalid UTF-8 replaced).
pub fn rest_text(u: Unstructured<'_>) -> String {
    String::from_utf8_lossy(u.take_rest()).into_owned()
}

/// Runs a future that never waits on a timer or a socket (the memory stores) to its end
/// without a runtime.
///
/// # Panics
///
/// When the future is still pending after many polls: it needs a runtime, and the
/// target using it is wrong.
#[allow(clippy::panic)]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
    panic!("a memory-store future did not complete without a runtime");
}

/// Cuts `text` into pieces of 1 to 16 bytes (moved forward to character boundaries),
/// with sizes drawn from `seed`: the same seed always gives the same cuts.
pub fn chunks(text: &str, seed: u8) -> Vec<&str> {
    let mut state = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::new();
    let mut at = 0;
    while at < text.len() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let mut end = (at + 1 + (state % 16) as usize).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[at..end]);
        at = end;
    }
    out
}

/// An edit of a byte string, chosen by the fuzzer, applied to a real value (a key, a
/// ciphertext, a header) to check that any change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Flip bits of the byte at this position (modulo the length).
    Flip(usize, u8),
    /// Cut the value to this length (modulo the length plus one).
    Truncate(usize),
    /// Insert a byte at this position.
    Insert(usize, u8),
    /// Remove the byte at this position.
    Remove(usize),
    /// Append bytes.
    Append(Vec<u8>),
}

impl Edit {
    /// Reads up to `max` edits from the control bytes of the input.
    pub fn read_many(u: &mut Unstructured<'_>, max: usize) -> Vec<Edit> {
        let count = usize::from(byte(u)) % (max + 1);
        (0..count).map(|_| Edit::read(u)).collect()
    }

    fn read(u: &mut Unstructured<'_>) -> Edit {
        let kind = byte(u) % 5;
        let at = usize::from(u16::from_le_bytes([byte(u), byte(u)]));
        let value = byte(u);
        match kind {
            0 => Edit::Flip(at, value.max(1)),
            1 => Edit::Truncate(at),
            2 => Edit::Insert(at, value),
            3 => Edit::Remove(at),
            _ => Edit::Append(vec![value; usize::from(value % 4) + 1]),
        }
    }

    /// Applies the edit to `bytes`.
    pub fn apply(&self, bytes: &mut Vec<u8>) {
        match self {
            Edit::Flip(at, mask) if !bytes.is_empty() => {
                let i = at % bytes.len();
                bytes[i] ^= mask;
            }
            Edit::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
            Edit::Insert(at, b) => bytes.insert(at % (bytes.len() + 1), *b),
            Edit::Remove(at) if !bytes.is_empty() => {
                let i = at % bytes.len();
                bytes.remove(i);
            }
            Edit::Append(more) => bytes.extend_from_slice(more),
            _ => {}
        }
    }
}

/// `bytes` after every edit in turn.
pub fn edited(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for edit in edits {
        edit.apply(&mut out);
    }
    out
}

/// The audit chain the `audit_verify` target and its seeds are made from.
pub mod audit {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    use bee_audit::{
        Activity, AuditSink, ChainKey, ChainedFileSink, Durability, Event, FileSinkConfig,
        HEAD_FILE, Head, Label, ManualClock, Record, Verbatim,
    };
    use jiff::Timestamp;

    /// The chain key of the fixture chain.
    pub const KEY: [u8; 32] = [42; 32];

    /// The fixture chain key.
    ///
    /// # Panics
    ///
    /// Never: the key has the right length.
    #[allow(clippy::expect_used)]
    pub fn key() -> ChainKey {
        ChainKey::from_bytes(&KEY).expect("32-byte key")
    }

    /// Writes the fixture chain (twelve records rotating over a few files, always the
    /// same bytes) into `dir`, and returns its files, oldest first, and its head.
    ///
    /// # Panics
    ///
    /// When the directory cannot be written.
    #[allow(clippy::expect_used)]
    pub fn write_chain(dir: &Path) -> (Vec<PathBuf>, Head) {
        let start = Timestamp::from_second(1_750_000_000).expect("time");
        let clock = Arc::new(ManualClock::new(start));
        let config = FileSinkConfig::new(dir)
            .rotate_bytes(1_500)
            .durability(Durability::Never);
        let (sink, _) = ChainedFileSink::open(config, &key(), clock).expect("open sink");
        for n in 0..12_i64 {
            let at = Timestamp::from_second(1_750_000_000 + n).expect("time");
            let event = Event::new(
                at,
                Activity::ConfigChange {
                    setting: Label::new("tiers").expect("label"),
                },
            )
            .message(format!("limit changed to {}", 60 + n));
            sink.write(&Record::scrub(event, &Verbatim)).expect("write");
        }
        sink.close().expect("close");
        let files = ChainedFileSink::files(dir).expect("list files");
        let head = Head::read(dir.join(HEAD_FILE), &key())
            .expect("read head")
            .expect("head exists");
        (files, head)
    }
}

/// Implements [`Arbitrary`](arbitrary::Arbitrary) for a target's input type from its
/// `read(Unstructured) -> Result<Self>`, which reads the whole input: libFuzzer hands a
/// target all its bytes at once, so `arbitrary` and `arbitrary_take_rest` are the same.
#[macro_export]
macro_rules! whole_input {
    ($input:ty) => {
        impl<'a> ::arbitrary::Arbitrary<'a> for $input {
            fn arbitrary(u: &mut ::arbitrary::Unstructured<'a>) -> ::arbitrary::Result<Self> {
                let all = u.bytes(u.len())?;
                Self::read(::arbitrary::Unstructured::new(all))
            }

            fn arbitrary_take_rest(u: ::arbitrary::Unstructured<'a>) -> ::arbitrary::Result<Self> {
                Self::read(u)
            }
        }
    };
}
