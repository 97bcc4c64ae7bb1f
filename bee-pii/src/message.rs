//! Validation of chat input before anything else reads it.
//!
//! The text is normalised first (NFKC), so that every later check, and everything
//! downstream, sees the same characters; escaping is for output only and never happens
//! before the checks. Control characters other than newline, carriage return and tab
//! are removed; invisible format characters are removed and counted.

use std::num::NonZeroUsize;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use unicode_normalization::UnicodeNormalization;

use crate::normalize::is_invisible;

/// Limits and rules for one chat message.
///
/// Defaults: 8000 characters, 2000 estimated tokens, markup reported and passed on for
/// output escaping, invisible characters removed and reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagePolicy {
    /// Most characters (Unicode scalar values) after normalisation.
    #[serde(default = "default_chars")]
    pub max_chars: NonZeroUsize,
    /// Most tokens, estimated as the larger of one per four characters and one per word.
    #[serde(default = "default_tokens")]
    pub max_tokens: NonZeroUsize,
    /// What to do with markup that would run in a browser.
    #[serde(default)]
    pub markup: MarkupAction,
    /// Whether invisible format characters make the message fail.
    #[serde(default)]
    pub reject_invisible: bool,
}

/// What to do with markup that would run in a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkupAction {
    /// Fail the message.
    Reject,
    /// Pass it on, reported; the caller must escape it on output ([`escape_html`]).
    #[default]
    Escape,
}

fn default_chars() -> NonZeroUsize {
    NonZeroUsize::new(8000).unwrap_or(NonZeroUsize::MIN)
}

fn default_tokens() -> NonZeroUsize {
    NonZeroUsize::new(2000).unwrap_or(NonZeroUsize::MIN)
}

impl Default for MessagePolicy {
    fn default() -> Self {
        MessagePolicy {
            max_chars: default_chars(),
            max_tokens: default_tokens(),
            markup: MarkupAction::default(),
            reject_invisible: false,
        }
    }
}

/// Markup that would become script in a browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Markup {
    /// A `<script` element.
    ScriptElement,
    /// A `javascript:` URL.
    JavascriptUrl,
    /// A `vbscript:` URL.
    VbscriptUrl,
    /// A `data:text/html` URL.
    DataHtmlUrl,
    /// An `on...=` event handler attribute inside a tag.
    EventHandler,
}

/// A message that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedMessage {
    /// The normalised text, with control and invisible characters removed.
    pub text: String,
    /// Characters in `text`.
    pub chars: usize,
    /// Estimated tokens in `text`.
    pub tokens: usize,
    /// How many invisible format characters were removed.
    pub invisible: usize,
    /// How many control characters were removed.
    pub controls: usize,
    /// Markup found (passed on for escaping under [`MarkupAction::Escape`]).
    pub markup: Vec<Markup>,
}

/// Why a message was refused. [`MessageError::rule`] names the rule for logs and
/// responses.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Nothing but whitespace (or nothing at all) after normalisation.
    #[error("message is empty")]
    Empty,
    /// More characters than the policy allows, counted after normalisation; input over
    /// sixteen bytes per allowed character is refused before normalising, counted raw.
    #[error("message has {actual} characters, more than the limit of {limit}")]
    TooManyChars {
        /// The policy's limit.
        limit: usize,
        /// Characters in the normalised message.
        actual: usize,
    },
    /// More estimated tokens than the policy allows.
    #[error("message has about {estimate} tokens, more than the limit of {limit}")]
    TooManyTokens {
        /// The policy's limit.
        limit: usize,
        /// The estimate.
        estimate: usize,
    },
    /// Markup that would run in a browser, under [`MarkupAction::Reject`].
    #[error("message contains markup that would run in a browser ({0:?})")]
    Markup(Markup),
    /// Invisible format characters, under `reject_invisible`.
    #[error("message contains {0} invisible characters")]
    Invisible(usize),
}

impl MessageError {
    /// The name of the rule that failed: `empty`, `max_chars`, `max_tokens`, `markup`
    /// or `invisible`.
    #[must_use]
    pub fn rule(&self) -> &'static str {
        match self {
            MessageError::Empty => "empty",
            MessageError::TooManyChars { .. } => "max_chars",
            MessageError::TooManyTokens { .. } => "max_tokens",
            MessageError::Markup(_) => "markup",
            MessageError::Invisible(_) => "invisible",
        }
    }
}

impl MessagePolicy {
    /// Normalises and checks a message.
    ///
    /// # Errors
    ///
    /// The first rule that fails, in this order: empty, characters, tokens, invisible
    /// characters, markup.
    pub fn check(&self, input: &str) -> Result<CheckedMessage, MessageError> {
        // A message far over the limit is refused before normalising it, which could
        // otherwise cost time and memory in proportion to an attacker's input.
        let rough = input.len() / 4;
        if rough > self.max_chars.get() * 4 {
            return Err(MessageError::TooManyChars {
                limit: self.max_chars.get(),
                actual: input.chars().count(),
            });
        }
        let (text, invisible, controls) = normalise(input);
        if text.trim().is_empty() {
            return Err(MessageError::Empty);
        }
        let chars = text.chars().count();
        if chars > self.max_chars.get() {
            return Err(MessageError::TooManyChars {
                limit: self.max_chars.get(),
                actual: chars,
            });
        }
        let tokens = estimate_tokens(&text);
        if tokens > self.max_tokens.get() {
            return Err(MessageError::TooManyTokens {
                limit: self.max_tokens.get(),
                estimate: tokens,
            });
        }
        if self.reject_invisible && invisible > 0 {
            return Err(MessageError::Invisible(invisible));
        }
        let markup = find_markup(&text);
        if let (MarkupAction::Reject, Some(&first)) = (self.markup, markup.first()) {
            return Err(MessageError::Markup(first));
        }
        Ok(CheckedMessage {
            text,
            chars,
            tokens,
            invisible,
            controls,
            markup,
        })
    }
}

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`,
/// `"` and `'`.
#[must_use]
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The token estimate: the larger of one per four characters and one per word.
#[must_use]
pub fn estimate_tokens(text: &str) -> usize {
    let chars = text.chars().count();
    let words = text.split_whitespace().count();
    chars.div_ceil(4).max(words)
}

fn normalise(input: &str) -> (String, usize, usize) {
    let mut invisible = 0;
    let mut controls = 0;
    let mut keep = |c: char| {
        if is_invisible(c) {
            invisible += 1;
            false
        } else if c.is_control() && !matches!(c, '\n' | '\r' | '\t') {
            controls += 1;
            false
        } else {
            true
        }
    };
    // Dropped characters go before NFKC: dropping them after could leave a letter and a
    // combining mark side by side uncomposed, and the result would change when checked
    // again. The second filter catches any such character NFKC itself produces.
    let dropped: String = input.chars().filter(|&c| keep(c)).collect();
    let text = dropped.nfkc().filter(|&c| keep(c)).collect();
    (text, invisible, controls)
}

/// Markup found in normalised text. URLs are compared the way browsers read them:
/// case-insensitive, with tabs and newlines inside the scheme ignored and character
/// references decoded.
fn find_markup(text: &str) -> Vec<Markup> {
    let folded = fold(text);
    let mut found = Vec::new();
    let checks: [(&str, Markup); 4] = [
        ("<script", Markup::ScriptElement),
        ("javascript:", Markup::JavascriptUrl),
        ("vbscript:", Markup::VbscriptUrl),
        ("data:text/html", Markup::DataHtmlUrl),
    ];
    for (needle, kind) in checks {
        if memchr::memmem::find(folded.as_bytes(), needle.as_bytes()).is_some() {
            found.push(kind);
        }
    }
    if event_handler(&folded) {
        found.push(Markup::EventHandler);
    }
    found
}

/// Lower-cases, drops tabs and newlines, and decodes `&#NN;`, `&#xHH;` and a few named
/// references that are used to hide `javascript:`.
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if c == '&'
            && let Some((decoded, used)) = reference(rest)
        {
            if !matches!(decoded, '\t' | '\n' | '\r') {
                out.extend(decoded.to_lowercase());
            }
            rest = &rest[used..];
            continue;
        }
        if !matches!(c, '\t' | '\n' | '\r') {
            out.extend(c.to_lowercase());
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn reference(s: &str) -> Option<(char, usize)> {
    let end = s.bytes().take(12).position(|b| b == b';')?;
    let body = &s[1..end];
    let named = match body.to_ascii_lowercase().as_str() {
        "colon" => Some(':'),
        "tab" => Some('\t'),
        "newline" => Some('\n'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "sol" => Some('/'),
        _ => None,
    };
    if let Some(c) = named {
        return Some((c, end + 1));
    }
    let num = body.strip_prefix('#')?;
    let value = match num.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => num.parse().ok()?,
    };
    Some((char::from_u32(value)?, end + 1))
}

/// An `on...=` attribute inside a `<tag ...>`.
fn event_handler(folded: &str) -> bool {
    let bytes = folded.as_bytes();
    for open in memchr::memchr_iter(b'<', bytes) {
        let tag = &bytes[open..];
        let close = tag
            .iter()
            .take(4096)
            .position(|&b| b == b'>')
            .unwrap_or(tag.len().min(4096));
        let inside = &tag[..close];
        let mut i = 1;
        while i + 2 < inside.len() {
            let sep = matches!(inside[i - 1], b' ' | b'/' | b'"' | b'\'' | b'\x0c');
            if sep && inside[i] == b'o' && inside[i + 1] == b'n' {
                let name = inside[i + 2..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphabetic())
                    .count();
                let after = &inside[i + 2 + name..];
                let eq = after.iter().find(|&&b| b != b' ');
                if name > 0 && eq == Some(&b'=') {
                    return true;
                }
            }
            i += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_blank_messages_fail_the_empty_rule() {
        let p = MessagePolicy::default();
        assert_eq!(p.check("").unwrap_err().rule(), "empty");
        assert_eq!(p.check(" \n\t\u{200B}").unwrap_err().rule(), "empty");
    }

    #[test]
    fn limits_name_their_rule() {
        let p = MessagePolicy {
            max_chars: NonZeroUsize::new(5).unwrap(),
            ..MessagePolicy::default()
        };
        assert_eq!(p.check("abcdef").unwrap_err().rule(), "max_chars");
        let p = MessagePolicy {
            max_tokens: NonZeroUsize::new(2).unwrap(),
            ..MessagePolicy::default()
        };
        assert_eq!(p.check("one two three").unwrap_err().rule(), "max_tokens");
    }

    #[test]
    fn text_is_normalised_and_cleaned_before_checks() {
        let m = MessagePolicy::default()
            .check("ｈｅｌｌｏ\u{0}\u{200B} there\n")
            .unwrap();
        assert_eq!(m.text, "hello there\n");
        assert_eq!((m.invisible, m.controls), (1, 1));
    }

    #[test]
    fn markup_is_reported_or_rejected() {
        let pass = MessagePolicy::default();
        let m = pass.check("see <img src=x onerror=alert(1)>").unwrap();
        assert_eq!(m.markup, vec![Markup::EventHandler]);
        let reject = MessagePolicy {
            markup: MarkupAction::Reject,
            ..MessagePolicy::default()
        };
        for evil in [
            "<SCRIPT>alert(1)</script>",
            "<a href=\"java\tscript:alert(1)\">x</a>",
            "<a href=\"&#106;avascript&colon;alert(1)\">x</a>",
            "<iframe src=\"data:text/html;base64,xx\">",
            "vbscript:msgbox",
            "<ｓｃｒｉｐｔ>",
        ] {
            assert_eq!(reject.check(evil).unwrap_err().rule(), "markup", "{evil}");
        }
        assert!(
            reject
                .check("I like JavaScript and the word online = fine")
                .is_ok()
        );
    }

    #[test]
    fn invisible_characters_can_be_rejected() {
        let p = MessagePolicy {
            reject_invisible: true,
            ..MessagePolicy::default()
        };
        assert_eq!(p.check("a\u{200B}b").unwrap_err().rule(), "invisible");
    }

    #[test]
    fn escape_html_escapes_the_five_characters() {
        assert_eq!(
            escape_html("<a href='x'>&\"</a>"),
            "&lt;a href=&#x27;x&#x27;&gt;&amp;&quot;&lt;/a&gt;"
        );
    }
}
