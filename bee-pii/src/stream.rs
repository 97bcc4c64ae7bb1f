//! Redaction of text that arrives in chunks, such as a model's streamed answer.
//!
//! The redactor normalises each chunk as it arrives (holding back the last character and
//! its combining marks, which the next chunk could still change) and runs the same
//! scanner as whole-text detection over it. The scanner stops before any matcher that
//! needed bytes not received yet; everything more than [`MAX_LEFT`] bytes before that
//! point, and not inside a candidate, is final and is emitted. The output of all
//! [`StreamRedactor::push`] calls and [`StreamRedactor::finish`] together equals
//! [`Redactor::redact`] of the whole text.
//!
//! The held-back tail is bounded by the longest thing a matcher reads ahead (16 KiB for a
//! PEM block, a few hundred bytes otherwise) plus the custom recognizers' `max_len`.

use std::sync::Arc;

use crate::detector::{Found, floor_boundary};
use crate::normalize::{last_group_start, normalise_into};
use crate::redact::Redactor;
use crate::scan::{Candidate, LOOKBEHIND, MAX_LEFT};
use crate::vault::Vault;

/// Trim the retained text only once this much can go, so that trimming stays linear.
const TRIM_AT: usize = 8 * 1024;

/// Redacts a stream of chunks; see the module documentation.
///
/// ```
/// use bee_pii::{Detector, Redactor, StreamRedactor};
///
/// let mut stream = StreamRedactor::new(Redactor::new(Detector::default()));
/// let mut out = stream.push("write to a.b@exa");
/// out += &stream.push("mple.com today");
/// out += &stream.finish();
/// assert_eq!(out, "write to [EMAIL] today");
/// ```
#[derive(Debug)]
pub struct StreamRedactor {
    redactor: Redactor,
    vault: Option<Arc<Vault>>,
    /// Original text from `orig_base` on.
    orig: String,
    orig_base: usize,
    /// Original offset up to which the text has been normalised.
    done: usize,
    /// Normalised text from `norm_base` on, and for each of its bytes the original range.
    norm: String,
    norm_base: usize,
    starts: Vec<usize>,
    ends: Vec<usize>,
    /// Where the scanner and the extra passes go on (normalised offsets).
    scan_resume: usize,
    extra_resume: usize,
    /// What has been written out (normalised and original offsets).
    emitted_norm: usize,
    emitted_orig: usize,
    /// Candidates found but not yet written (normalised offsets).
    pending: Vec<Candidate>,
}

impl StreamRedactor {
    /// A stream redacted with `redactor`'s operators.
    #[must_use]
    pub fn new(redactor: Redactor) -> Self {
        StreamRedactor {
            redactor,
            vault: None,
            orig: String::new(),
            orig_base: 0,
            done: 0,
            norm: String::new(),
            norm_base: 0,
            starts: Vec::new(),
            ends: Vec::new(),
            scan_resume: 0,
            extra_resume: 0,
            emitted_norm: 0,
            emitted_orig: 0,
            pending: Vec::new(),
        }
    }

    /// A stream whose detections become placeholders of `vault`.
    #[must_use]
    pub fn with_vault(redactor: Redactor, vault: Arc<Vault>) -> Self {
        StreamRedactor {
            vault: Some(vault),
            ..StreamRedactor::new(redactor)
        }
    }

    /// Adds a chunk and returns the redacted text that is now final (possibly empty).
    #[must_use]
    pub fn push(&mut self, chunk: &str) -> String {
        self.orig.push_str(chunk);
        let rel = self.done - self.orig_base;
        let stable = rel + last_group_start(&self.orig[rel..]);
        self.advance(stable, false)
    }

    /// Ends the stream and returns the rest of the redacted text.
    #[must_use]
    pub fn finish(mut self) -> String {
        let all = self.orig.len();
        self.advance(all, true)
    }

    /// How many bytes of received text are held back, not yet written out.
    #[must_use]
    pub fn held(&self) -> usize {
        self.orig_base + self.orig.len() - self.emitted_orig
    }

    fn advance(&mut self, stable: usize, last: bool) -> String {
        self.normalise(stable);
        self.scan(last);
        let end = self.boundary(last);
        let out = self.emit(end);
        self.trim();
        out
    }

    fn normalise(&mut self, stable: usize) {
        let rel = self.done - self.orig_base;
        if stable > rel {
            let text = &self.orig[rel..stable];
            normalise_into(
                text,
                self.done,
                &mut self.norm,
                &mut self.starts,
                &mut self.ends,
            );
            self.done = self.orig_base + stable;
        }
    }

    fn scan(&mut self, last: bool) {
        let detector = self.redactor.detector();
        let base = self.norm_base;
        let mut found = Vec::new();
        let from = self.scan_resume - base;
        self.scan_resume = base + detector.scan(&self.norm, from, last, &mut found);
        let from = self.extra_resume.max(base) - base;
        self.extra_resume = base + detector.extra(&self.norm, from, last, &mut found);
        self.pending.extend(found.into_iter().map(|mut c| {
            c.start += base;
            c.end += base;
            c
        }));
    }

    /// The normalised offset up to which output is final.
    fn boundary(&self, last: bool) -> usize {
        let norm_end = self.norm_base + self.norm.len();
        if last {
            return norm_end;
        }
        let future = self
            .scan_resume
            .saturating_sub(MAX_LEFT)
            .min(self.extra_resume);
        let mut end = future.clamp(self.emitted_norm, norm_end);
        loop {
            end = self.group_start(end);
            let crossing = self
                .pending
                .iter()
                .filter(|c| c.start < end && end < c.end)
                .map(|c| c.start)
                .min();
            match crossing {
                Some(start) => end = start,
                None => return end,
            }
        }
    }

    /// Moves a normalised offset back to the first byte of its group.
    fn group_start(&self, mut pos: usize) -> usize {
        let norm_end = self.norm_base + self.norm.len();
        while pos > self.norm_base.max(self.emitted_norm) && pos < norm_end {
            let i = pos - self.norm_base;
            if self.starts[i] != self.starts[i - 1] {
                break;
            }
            pos -= 1;
        }
        pos
    }

    fn emit(&mut self, end: usize) -> String {
        let base = self.norm_base;
        let (ready, rest): (Vec<_>, Vec<_>) = self.pending.drain(..).partition(|c| c.end <= end);
        self.pending = rest;
        let ready = ready
            .into_iter()
            .map(|mut c| {
                c.start -= base;
                c.end -= base;
                c
            })
            .collect();
        let settled = self.redactor.detector().settle(&self.norm, ready);
        let end_orig = match self.starts.get(end - base) {
            Some(&o) => o,
            None => self.done,
        };
        let mut out = String::new();
        let mut at = self.emitted_orig;
        for c in settled {
            let orig = (self.starts[c.start], self.ends[c.end - 1]);
            let found = Found {
                kind: c.kind,
                norm: (c.start + base, c.end + base),
                orig,
                confidence: c.confidence,
            };
            out.push_str(&self.orig[at - self.orig_base..orig.0 - self.orig_base]);
            let original = &self.orig[orig.0 - self.orig_base..orig.1 - self.orig_base];
            let normal = &self.norm[c.start..c.end];
            match &self.vault {
                Some(vault) => vault.write(&found, original, normal, &mut out),
                None => self.redactor.replace(&found, original, normal, &mut out),
            }
            at = orig.1;
        }
        out.push_str(&self.orig[at - self.orig_base..end_orig - self.orig_base]);
        self.emitted_norm = end;
        self.emitted_orig = end_orig;
        out
    }

    fn trim(&mut self) {
        let keep = self
            .scan_resume
            .saturating_sub(LOOKBEHIND)
            .min(self.extra_resume.saturating_sub(16))
            .min(self.emitted_norm)
            .max(self.norm_base);
        let keep = self.group_start(keep);
        let cut = keep - self.norm_base;
        if cut < TRIM_AT {
            return;
        }
        let cut = floor_boundary(&self.norm, cut);
        let keep_orig = self
            .starts
            .get(cut)
            .copied()
            .unwrap_or(self.done)
            .min(self.emitted_orig);
        self.norm.drain(..cut);
        self.starts.drain(..cut);
        self.ends.drain(..cut);
        self.norm_base += cut;
        let orig_cut = floor_boundary(&self.orig, keep_orig - self.orig_base);
        self.orig.drain(..orig_cut);
        self.orig_base += orig_cut;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Detector;

    fn chunked(text: &str, size: usize) -> String {
        let redactor = Redactor::new(Detector::default());
        let mut stream = StreamRedactor::new(redactor);
        let mut out = String::new();
        let mut at = 0;
        while at < text.len() {
            let mut end = (at + size).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            out += &stream.push(&text[at..end]);
            at = end;
        }
        out + &stream.finish()
    }

    #[test]
    fn streaming_equals_whole_text_for_every_chunk_size() {
        let text = "Call (462) 320-8117 or mail noor.kim@\u{200B}mail.example.org; card \
                    ４５１８－５８８８－９０９４－７２２０, key 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.";
        let whole = Redactor::new(Detector::default()).redact(text);
        for size in 1..40 {
            assert_eq!(chunked(text, size), whole, "chunk size {size}");
        }
    }

    #[test]
    fn long_clean_stream_is_emitted_early_and_trimmed() {
        let redactor = Redactor::new(Detector::default());
        let mut stream = StreamRedactor::new(redactor);
        let mut out = String::new();
        for _ in 0..2000 {
            out += &stream.push("nothing to see in this sentence at all. ");
        }
        assert!(stream.held() < 1024, "held {}", stream.held());
        assert!(stream.orig.len() < 3 * TRIM_AT);
        out += &stream.finish();
        assert_eq!(out.len(), 2000 * 40);
    }
}
