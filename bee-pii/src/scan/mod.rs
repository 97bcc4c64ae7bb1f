//! The single pass over the normalised text.
//!
//! A table of trigger bytes (digits, `@`, `:`, `=`, `_`) and an Aho-Corasick automaton of
//! token prefixes (`AKIA`, `sk-`, `eyJ`, `-----BEGIN `...) find the few places where
//! personal data can start. At each trigger a small hand-written matcher reads the bytes
//! around it, validates what it found and moves the cursor past it, so that no byte is
//! examined by more than a bounded number of matchers and the cost stays linear.
//!
//! Matchers read through [`Ctx`], which remembers whether they needed a byte past the end
//! of the text. The streaming redactor uses that to stop before a matcher whose answer
//! could change with more text, and to resume there when more text arrives.

mod context;
mod net;
mod number;
mod secret;

use std::cell::Cell;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Input, MatchKind};

use crate::kind::Kind;

/// How far before a trigger a matcher may read (context words, key names, URL schemes).
pub(crate) const LOOKBEHIND: usize = 320;
/// How far before its trigger a candidate may start (an email's local part, a URL's
/// user information, a key's prefix).
pub(crate) const MAX_LEFT: usize = 160;

/// A finding in the coordinates of the normalised text, before overlaps are settled.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) kind: Kind,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) confidence: f32,
}

/// Which built-in kinds the scanner looks for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Enabled([bool; 11]);

impl Enabled {
    pub(crate) fn new(kinds: &[Kind]) -> Self {
        let mut on = [false; 11];
        for kind in kinds {
            if let Some(i) = kind.index() {
                on[i] = true;
            }
        }
        Enabled(on)
    }

    pub(crate) fn has(&self, kind: &Kind) -> bool {
        kind.index().is_some_and(|i| self.0[i])
    }
}

/// What an Aho-Corasick match of a prefix starts.
#[derive(Debug, Clone, Copy)]
enum Prefix {
    Aws,
    Google,
    SecretDash,
    GitLab,
    Slack,
    Jwt,
    Pem,
    PasswordIs,
}

/// Token prefixes that contain no trigger byte. Prefixes with `_` (`ghp_`, `sk_live_`,
/// `github_pat_`...) are found from the underscore instead, which keeps this automaton
/// small and its prefilter fast on prose.
const PREFIXES: &[(&str, Prefix)] = &[
    ("AKIA", Prefix::Aws),
    ("ASIA", Prefix::Aws),
    ("AIza", Prefix::Google),
    ("sk-", Prefix::SecretDash),
    ("glpat-", Prefix::GitLab),
    ("xox", Prefix::Slack),
    ("eyJ", Prefix::Jwt),
    ("-----BEGIN ", Prefix::Pem),
];

/// How much text the scanner searches at once (bytes).
const WINDOW: usize = 16 * 1024;

/// `password is `, found from its middle so that case does not matter for the `P`.
const PHRASE: &[u8] = b"ssword is ";

/// The longest prefix pattern: a match cannot be seen closer than this to the end.
const PREFIX_MARGIN: usize = 12;

const T_DIGIT: u8 = 1;
const T_AT: u8 = 2;
const T_COLON: u8 = 3;
const T_EQUALS: u8 = 4;
const T_UNDERSCORE: u8 = 5;

static TRIGGERS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = T_DIGIT;
        d += 1;
    }
    t[b'@' as usize] = T_AT;
    t[b':' as usize] = T_COLON;
    t[b'=' as usize] = T_EQUALS;
    t[b'_' as usize] = T_UNDERSCORE;
    t
};

/// The compiled scanner: prefix automaton and the kinds to look for.
#[derive(Debug, Clone)]
pub(crate) struct Scanner {
    prefixes: Option<AhoCorasick>,
    // `password is ...` in prose. Kept out of the automaton, whose prefilter slows down
    // several times over on prose when patterns start with common letters.
    phrase: memchr::memmem::Finder<'static>,
    enabled: Enabled,
}

/// Where a scan stopped: every trigger before `resume` has been handled.
pub(crate) struct Stop {
    pub(crate) resume: usize,
}

impl Scanner {
    pub(crate) fn new(enabled: Enabled) -> Self {
        let prefixes = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(PREFIXES.iter().map(|(p, _)| p))
            .ok();
        let phrase = memchr::memmem::Finder::new(PHRASE).into_owned();
        Scanner {
            prefixes,
            phrase,
            enabled,
        }
    }

    /// Scans `text` from `from`, pushing candidates to `out`.
    ///
    /// With `last == false` the text may continue: the scan stops at the first trigger
    /// whose matcher needed bytes past the end, or where a prefix could still be cut off,
    /// and reports that position for the next call.
    pub(crate) fn scan(
        &self,
        text: &[u8],
        from: usize,
        last: bool,
        out: &mut Vec<Candidate>,
    ) -> Stop {
        let ctx = Ctx {
            text,
            touched_end: Cell::new(false),
            enabled: self.enabled,
        };
        let limit = if last {
            text.len()
        } else {
            text.len().saturating_sub(PREFIX_MARGIN)
        };
        let mut cursor = from;
        // The text is searched in windows that stay in the first-level cache: the byte
        // triggers, the prefix automaton and the phrase finder all run over one window
        // before the next is read.
        let mut window = (cursor + WINDOW).min(text.len());
        let mut next_prefix = self.find_prefix(text, cursor, window);
        let mut next_phrase = self.find_phrase(text, cursor, window);
        loop {
            if next_prefix.is_some_and(|(p, _)| p < cursor) {
                next_prefix = self.find_prefix(text, cursor, window);
            }
            if next_phrase.is_some_and(|p| p < cursor) {
                next_phrase = self.find_phrase(text, cursor, window);
            }
            let byte = next_trigger(&text[..window], cursor);
            let prefix = match (next_prefix, next_phrase) {
                (Some((a, k)), Some(b)) if a <= b => Some((a, k)),
                (_, Some(b)) => Some((b, Prefix::PasswordIs)),
                (a, None) => a,
            };
            let (pos, what) = match (byte, prefix) {
                (Some(b), Some((p, kind))) if p <= b => (p, Some(kind)),
                (Some(b), _) => (b, None),
                (None, Some((p, kind))) => (p, Some(kind)),
                (None, None) if window < text.len() => {
                    // Nothing left in this window: move on to the next one.
                    cursor = cursor.max(window);
                    window = (cursor + WINDOW).min(text.len());
                    next_prefix = self.find_prefix(text, cursor, window);
                    next_phrase = self.find_phrase(text, cursor, window);
                    continue;
                }
                (None, None) => {
                    return Stop {
                        resume: cursor.max(limit).min(text.len()),
                    };
                }
            };
            if pos >= limit {
                return Stop {
                    resume: cursor.max(pos.min(limit)),
                };
            }
            let mark = out.len();
            ctx.touched_end.set(false);
            let next = match what {
                Some(prefix) => ctx.prefix(prefix, pos, out),
                None => ctx.trigger(TRIGGERS[usize::from(text[pos])], pos, out),
            };
            if !last && ctx.touched_end.get() {
                out.truncate(mark);
                return Stop { resume: pos };
            }
            cursor = next.max(pos + 1);
            if cursor >= window && window < text.len() {
                window = (cursor + WINDOW).min(text.len());
                next_prefix = self.find_prefix(text, cursor, window);
                next_phrase = self.find_phrase(text, cursor, window);
            }
        }
    }

    /// The first `password is` starting in `from..to`.
    fn find_phrase(&self, text: &[u8], from: usize, to: usize) -> Option<usize> {
        let hay = text.get(from..(to + PREFIX_MARGIN).min(text.len()))?;
        self.phrase.find(hay).map(|i| from + i).filter(|&p| p < to)
    }

    /// The first token prefix starting in `from..to`.
    fn find_prefix(&self, text: &[u8], from: usize, to: usize) -> Option<(usize, Prefix)> {
        let end = (to + PREFIX_MARGIN).min(text.len());
        if from >= end {
            return None;
        }
        // The patterns are fixed, short and few, so the automaton always builds.
        let m = self
            .prefixes
            .as_ref()?
            .find(Input::new(text).span(from..end))?;
        (m.start() < to).then(|| (m.start(), PREFIXES[m.pattern().as_usize()].1))
    }
}

/// The next byte at or after `from` that can start a matcher.
fn next_trigger(text: &[u8], from: usize) -> Option<usize> {
    let rest = text.get(from..)?;
    let mut words = rest.chunks_exact(8);
    let mut base = from;
    for word in &mut words {
        // Eight bytes at a time (SWAR): most words of prose hold no trigger at all.
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        if may_trigger(u64::from_le_bytes(bytes))
            && let Some(i) = word.iter().position(|&b| TRIGGERS[usize::from(b)] != 0)
        {
            return Some(base + i);
        }
        base += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&b| TRIGGERS[usize::from(b)] != 0)
        .map(|i| base + i)
}

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether a word of eight bytes may hold a trigger: a byte in `0x30..=0x3D` (digits, `:`,
/// `=` and two neighbours), `@` or `_`. Exact for ASCII; non-ASCII bytes never trigger.
#[inline(always)]
fn may_trigger(x: u64) -> bool {
    let low7 = x & (LOW * 127);
    let above = low7.wrapping_add(LOW * (127 - 0x2F));
    let below = (LOW * (127 + 0x3E)).wrapping_sub(low7);
    let range = above & below & !x & HIGH;
    range | has_zero(x ^ (LOW * 0x40)) | has_zero(x ^ (LOW * 0x5F)) != 0
}

#[inline(always)]
fn has_zero(v: u64) -> u64 {
    v.wrapping_sub(LOW) & !v & HIGH
}

/// What matchers see: the text, and a flag set when they read past its end.
pub(crate) struct Ctx<'t> {
    pub(crate) text: &'t [u8],
    touched_end: Cell<bool>,
    pub(crate) enabled: Enabled,
}

impl Ctx<'_> {
    fn trigger(&self, trigger: u8, pos: usize, out: &mut Vec<Candidate>) -> usize {
        match trigger {
            T_DIGIT => number::at_digit(self, pos, out),
            T_AT => net::at_sign(self, pos, out),
            T_COLON => {
                let next = secret::assignment(self, pos, out);
                next.max(net::at_colon(self, pos, out))
            }
            T_EQUALS => secret::assignment(self, pos, out),
            T_UNDERSCORE => secret::underscore(self, pos, out),
            _ => pos + 1,
        }
    }

    fn prefix(&self, prefix: Prefix, pos: usize, out: &mut Vec<Candidate>) -> usize {
        match prefix {
            Prefix::Aws => secret::aws(self, pos, out),
            Prefix::Google => secret::google(self, pos, out),
            Prefix::SecretDash => secret::sk_dash(self, pos, out),
            Prefix::GitLab => secret::gitlab(self, pos, out),
            Prefix::Slack => secret::slack(self, pos, out),
            Prefix::Jwt => secret::jwt(self, pos, out),
            Prefix::Pem => secret::pem(self, pos, out),
            Prefix::PasswordIs => secret::password_is(self, pos, out),
        }
    }

    /// The byte at `i`, or 0 past the end (noting that more text could change things).
    pub(crate) fn byte(&self, i: usize) -> u8 {
        match self.text.get(i) {
            Some(&b) => b,
            None => {
                self.touched_end.set(true);
                0
            }
        }
    }

    /// The byte `back` positions before `i`, or 0 before the start.
    pub(crate) fn before(&self, i: usize, back: usize) -> u8 {
        i.checked_sub(back)
            .and_then(|j| self.text.get(j))
            .copied()
            .unwrap_or(0)
    }

    /// Counts bytes from `i` that satisfy `pred`, at most `max`.
    pub(crate) fn run(&self, i: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut n = 0;
        while n < max {
            let b = self.byte(i + n);
            if b == 0 || !pred(b) {
                break;
            }
            n += 1;
        }
        n
    }

    /// Counts bytes before `i` that satisfy `pred`, at most `max`.
    pub(crate) fn run_back(&self, i: usize, max: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut n = 0;
        while n < max && n < i && pred(self.text[i - n - 1]) {
            n += 1;
        }
        n
    }

    pub(crate) fn on(&self, kind: &Kind) -> bool {
        self.enabled.has(kind)
    }

    pub(crate) fn push(
        &self,
        out: &mut Vec<Candidate>,
        kind: Kind,
        start: usize,
        end: usize,
        confidence: f32,
    ) {
        if self.on(&kind) && end > start {
            out.push(Candidate {
                kind,
                start,
                end,
                confidence: confidence.clamp(0.0, 1.0),
            });
        }
    }
}

/// Settles overlaps: one detection per region, the higher-ranked kind winning, then the
/// more confident, then the longer.
pub(crate) fn resolve(mut cands: Vec<Candidate>) -> Vec<Candidate> {
    sort_candidates(&mut cands);
    let mut kept: Vec<Candidate> = Vec::with_capacity(cands.len());
    for c in cands {
        match kept.last_mut() {
            Some(last) if c.start < last.end => {
                if beats(&c, last) {
                    *last = c;
                }
            }
            _ => kept.push(c),
        }
    }
    kept
}

pub(crate) fn sort_candidates(cands: &mut [Candidate]) {
    cands.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(b.end.cmp(&a.end))
            .then(b.kind.rank().cmp(&a.kind.rank()))
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.kind.cmp(&b.kind))
    });
}

fn beats(a: &Candidate, b: &Candidate) -> bool {
    let key = |c: &Candidate| (c.kind.rank(), c.confidence, c.end - c.start);
    let (ka, kb) = (key(a), key(b));
    (ka.0, ka.1) > (kb.0, kb.1) || ((ka.0, ka.1) == (kb.0, kb.1) && ka.2 > kb.2)
}

#[inline]
pub(crate) fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

#[inline]
pub(crate) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_test_finds_every_trigger_byte() {
        for b in 0u8..=255 {
            let word = u64::from_le_bytes([b' ', b' ', b' ', b, b' ', b' ', b' ', b' ']);
            if TRIGGERS[usize::from(b)] != 0 {
                assert!(may_trigger(word), "byte {b:#x}");
            }
        }
        assert!(!may_trigger(u64::from_le_bytes(*b"abc,. ?!")));
    }

    #[test]
    fn next_trigger_matches_a_plain_search() {
        let text = b"plain words, then a digit 7 and more words after it: done";
        for from in 0..text.len() {
            let want = text[from..]
                .iter()
                .position(|&b| TRIGGERS[usize::from(b)] != 0)
                .map(|i| from + i);
            assert_eq!(next_trigger(text, from), want);
        }
    }
}
