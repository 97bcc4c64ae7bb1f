//! The detector: a compiled profile that finds detections in text.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::error::ProfileError;
use crate::kind::{Detection, Kind};
use crate::normalize::View;
use crate::profile::{self, Profile, Validator};
use crate::scan::{self, Candidate, Enabled, Scanner};
use crate::validate;

/// Finds personal data and secrets in text.
///
/// Built once from a [`Profile`] and shared: cloning is cheap (the compiled state sits
/// behind an `Arc`) and it is `Send + Sync`, so an axum handler can keep one in its state.
#[derive(Debug, Clone)]
pub struct Detector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    profile: Profile,
    scanner: Scanner,
    allow: Vec<String>,
    deny: Option<(AhoCorasick, Vec<Kind>)>,
    recognizers: Vec<Compiled>,
    margin: usize,
}

#[derive(Debug)]
struct Compiled {
    regex: regex::Regex,
    kind: Kind,
    validator: Validator,
    score: f32,
}

/// A detection with its span in both the normalised view and the original text.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) kind: Kind,
    pub(crate) norm: (usize, usize),
    pub(crate) orig: (usize, usize),
    pub(crate) confidence: f32,
}

impl Default for Detector {
    fn default() -> Self {
        // The moderate preset is valid by construction; building it cannot fail.
        Detector::build(Profile::moderate())
    }
}

impl Detector {
    /// Compiles a profile.
    ///
    /// # Errors
    ///
    /// The [`ProfileError`] of [`Profile::validate`], or [`ProfileError::DenyList`].
    pub fn new(profile: &Profile) -> Result<Self, ProfileError> {
        profile.validate()?;
        let deny = if profile.deny.is_empty() {
            None
        } else {
            let values: Vec<String> = profile
                .deny
                .iter()
                .map(|d| View::new(&d.value).as_str().to_owned())
                .collect();
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .build(&values)
                .map_err(ProfileError::DenyList)?;
            Some((ac, profile.deny.iter().map(|d| d.kind.clone()).collect()))
        };
        let mut recognizers = Vec::with_capacity(profile.recognizers.len());
        for (index, r) in profile.recognizers.iter().enumerate() {
            let regex = profile::compile(&r.pattern)
                .map_err(|source| ProfileError::Pattern { index, source })?;
            recognizers.push(Compiled {
                regex,
                kind: r.kind.clone(),
                validator: r.validator,
                score: r.score,
            });
        }
        let margin = profile
            .recognizers
            .iter()
            .map(|r| r.max_len)
            .chain(profile.deny.iter().map(|d| d.value.len()))
            .max()
            .unwrap_or(0);
        let inner = Inner {
            profile: profile.clone(),
            scanner: Scanner::new(Enabled::new(&profile.kinds)),
            allow: profile
                .allow
                .iter()
                .map(|a| View::new(a).as_str().to_owned())
                .collect(),
            deny,
            recognizers,
            margin,
        };
        Ok(Detector {
            inner: Arc::new(inner),
        })
    }

    /// A detector for a preset by name (`moderate`, `strict`, ...).
    ///
    /// # Errors
    ///
    /// [`ProfileError::UnknownPreset`] for an unknown name.
    pub fn preset(name: &str) -> Result<Self, ProfileError> {
        Detector::new(&Profile::preset(name)?)
    }

    /// The profile this detector was built from.
    #[must_use]
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// Finds every detection in `text`, in order, without overlaps.
    #[must_use]
    pub fn detect(&self, text: &str) -> Vec<Detection> {
        let view = View::new(text);
        self.find(&view)
            .into_iter()
            .map(|f| Detection {
                kind: f.kind,
                start: f.orig.0,
                end: f.orig.1,
                confidence: f.confidence,
            })
            .collect()
    }

    /// Whether `text` contains anything this detector reports.
    #[must_use]
    pub fn contains_pii(&self, text: &str) -> bool {
        !self.detect(text).is_empty()
    }

    fn build(profile: Profile) -> Self {
        let inner = Inner {
            scanner: Scanner::new(Enabled::new(&profile.kinds)),
            profile,
            allow: Vec::new(),
            deny: None,
            recognizers: Vec::new(),
            margin: 0,
        };
        Detector {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn find(&self, view: &View<'_>) -> Vec<Found> {
        let text = view.as_str();
        let mut cands = Vec::new();
        self.inner
            .scanner
            .scan(text.as_bytes(), 0, true, &mut cands);
        self.extra(text, 0, true, &mut cands);
        self.settle(text, cands)
            .into_iter()
            .map(|c| Found::new(c, view))
            .collect()
    }

    /// Runs the pattern scanner from `from`; see [`Scanner::scan`].
    pub(crate) fn scan(
        &self,
        text: &str,
        from: usize,
        last: bool,
        out: &mut Vec<Candidate>,
    ) -> usize {
        self.inner
            .scanner
            .scan(text.as_bytes(), from, last, out)
            .resume
    }

    /// Runs the deny list and custom recognizers from `from`. Matches that could still
    /// grow with more text are left for the next call; returns where that call starts.
    pub(crate) fn extra(
        &self,
        text: &str,
        from: usize,
        last: bool,
        out: &mut Vec<Candidate>,
    ) -> usize {
        let inner = &self.inner;
        if inner.deny.is_none() && inner.recognizers.is_empty() {
            return text.len();
        }
        let limit = if last {
            text.len()
        } else {
            floor_boundary(text, text.len().saturating_sub(inner.margin))
        };
        let mut resume = limit;
        let from = floor_boundary(text, from);
        if let Some((ac, kinds)) = &inner.deny {
            for m in ac.find_iter(&text.as_bytes()[from..]) {
                let (s, e) = (from + m.start(), from + m.end());
                if e > limit || !word_bounded(text.as_bytes(), s, e) {
                    if e > limit {
                        resume = resume.min(s);
                    }
                    continue;
                }
                out.push(Candidate {
                    kind: kinds[m.pattern().as_usize()].clone(),
                    start: s,
                    end: e,
                    confidence: 1.0,
                });
            }
        }
        for r in &inner.recognizers {
            let mut at = from;
            while let Some(m) = r.regex.find_at(text, at) {
                if m.end() > limit {
                    resume = resume.min(m.start());
                    break;
                }
                if !m.is_empty() && passes(r.validator, m.as_str()) {
                    out.push(Candidate {
                        kind: r.kind.clone(),
                        start: m.start(),
                        end: m.end(),
                        confidence: r.score,
                    });
                }
                at = if m.is_empty() {
                    next_boundary(text, m.end())
                } else {
                    m.end()
                };
                if at > text.len() {
                    break;
                }
            }
        }
        resume
    }

    /// Drops what falls below the threshold or is allowed, then settles overlaps.
    pub(crate) fn settle(&self, text: &str, mut cands: Vec<Candidate>) -> Vec<Candidate> {
        let inner = &self.inner;
        let threshold = inner.profile.threshold;
        let kinds = &inner.profile.kinds;
        cands.retain(|c| {
            let value = text.get(c.start..c.end).unwrap_or("");
            c.confidence >= threshold
                && (c.kind.index().is_none() || kinds.contains(&c.kind))
                && !inner.allow.iter().any(|a| a.eq_ignore_ascii_case(value))
        });
        scan::resolve(cands)
    }
}

impl Found {
    pub(crate) fn new(c: Candidate, view: &View<'_>) -> Self {
        let orig = view.original_span(c.start, c.end);
        Found {
            kind: c.kind,
            norm: (c.start, c.end),
            orig,
            confidence: c.confidence,
        }
    }
}

fn passes(validator: Validator, value: &str) -> bool {
    match validator {
        Validator::None => true,
        Validator::Luhn => {
            let digits: Vec<u8> = value.bytes().filter(u8::is_ascii_digit).collect();
            digits.len() >= 2 && validate::luhn(&digits)
        }
        Validator::Iban => {
            let compact: Vec<u8> = value.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
            validate::iban(&compact)
        }
    }
}

fn word_bounded(text: &[u8], s: usize, e: usize) -> bool {
    let before = s.checked_sub(1).map(|i| text[i]);
    let after = text.get(e).copied();
    let inner_word = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    let first = text.get(s).copied();
    let last = e.checked_sub(1).map(|i| text[i]);
    let cuts_word = |outside: Option<u8>, edge: Option<u8>| inner_word(outside) && inner_word(edge);
    !cuts_word(before, first) && !cuts_word(after, last)
}

pub(crate) fn floor_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while i > 0 && !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn next_boundary(text: &str, i: usize) -> usize {
    let mut j = i + 1;
    while j < text.len() && !text.is_char_boundary(j) {
        j += 1;
    }
    j
}
