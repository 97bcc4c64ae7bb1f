//! The built-in offline responder: answers from the bot's knowledge entries, with no
//! network and no model. The same question to the same bot always gets the same answer.

use super::retrieval::{Retrieval, words};
use super::{BackendFuture, ChatBackend, ChatReply, ChatRequest};

/// Entries quoted in one answer at most.
const MAX_SOURCES: usize = 2;
/// Sentences quoted from one entry at most.
const MAX_SENTENCES: usize = 2;
/// The answer when no entry shares a word with the question.
pub const NO_ANSWER: &str =
    "I could not find anything about that in my knowledge base. Could you rephrase the question?";

/// Answers with the sentences of the best-matching knowledge entries.
///
/// It finds the entries that share the most telling words with the message (BM25), quotes
/// up to two sentences of each that share words with it, and names those entries as
/// sources. `tokens_used` counts the words of the message and of the answer.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineResponder;

impl ChatBackend for OfflineResponder {
    fn reply<'a>(&'a self, request: &'a ChatRequest) -> BackendFuture<'a> {
        Box::pin(async move { Ok(answer(request)) })
    }
}

fn answer(request: &ChatRequest) -> ChatReply {
    let hits = Retrieval::new(&request.knowledge).search(&request.message, MAX_SOURCES);
    let best = hits.first().map_or(0.0, |h| h.score);
    let query = words(&request.message);

    // A second entry is quoted only when it matches about as well as the first.
    let mut parts = Vec::new();
    let mut sources = Vec::new();
    for hit in hits.iter().filter(|h| h.score * 2.0 >= best) {
        let quoted = best_sentences(&hit.entry.content, &query);
        if !quoted.is_empty() {
            parts.push(format!("{}: {}", hit.entry.title, quoted.join(" ")));
            sources.push(hit.entry.title.clone());
        }
    }

    let text = if parts.is_empty() {
        NO_ANSWER.to_owned()
    } else {
        parts.join("\n\n")
    };
    let tokens = count_words(&request.message) + count_words(&text);
    ChatReply {
        text,
        tokens_used: u32::try_from(tokens).unwrap_or(u32::MAX),
        sources,
    }
}

/// The sentences of `content` sharing the most words with the query, in their order.
fn best_sentences<'c>(content: &'c str, query: &[String]) -> Vec<&'c str> {
    let sentences = sentences(content);
    let mut ranked: Vec<(usize, usize)> = sentences
        .iter()
        .enumerate()
        .map(|(i, s)| (i, words(s).iter().filter(|w| query.contains(w)).count()))
        .filter(|&(_, shared)| shared > 0)
        .collect();
    ranked.sort_by_key(|&(_, shared)| std::cmp::Reverse(shared));
    ranked.truncate(MAX_SENTENCES);
    ranked.sort_by_key(|&(i, _)| i);
    let chosen: Vec<&str> = ranked.into_iter().map(|(i, _)| sentences[i]).collect();
    if chosen.is_empty() {
        // The title matched but no sentence did: the entry's opening is the best summary.
        sentences.into_iter().take(1).collect()
    } else {
        chosen
    }
}

/// Splits text after `.`, `!` or `?` followed by whitespace, and at line breaks.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|&(_, n)| n.is_whitespace());
        let ends = c == '\n' || (matches!(c, '.' | '!' | '?') && next_is_space);
        if ends {
            push_trimmed(&mut out, &text[start..i + c.len_utf8()]);
            start = i + c.len_utf8();
        }
    }
    push_trimmed(&mut out, &text[start..]);
    out
}

fn push_trimmed<'t>(out: &mut Vec<&'t str>, piece: &'t str) {
    let piece = piece.trim();
    if !piece.is_empty() {
        out.push(piece);
    }
}

fn count_words(text: &str) -> usize {
    text.split_whitespace().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::KnowledgeEntry;

    fn request(message: &str) -> ChatRequest {
        let entry = |title: &str, content: &str| KnowledgeEntry {
            title: title.into(),
            content: content.into(),
        };
        ChatRequest {
            system_prompt: "You are helpful.".into(),
            knowledge: vec![
                entry(
                    "Opening hours",
                    "We are open Monday to Friday. The shop opens at 9:00 and closes at 17:00.",
                ),
                entry(
                    "Refunds",
                    "Refunds are paid within 14 days. Keep your receipt for a refund.",
                ),
            ],
            history: Vec::new(),
            message: message.into(),
        }
    }

    fn reply(message: &str) -> ChatReply {
        answer(&request(message))
    }

    #[test]
    fn answers_from_the_matching_entry_and_names_it_as_source() {
        let reply = reply("When does the shop close?");
        assert_eq!(reply.sources, ["Opening hours"]);
        assert_eq!(
            reply.text,
            "Opening hours: The shop opens at 9:00 and closes at 17:00."
        );
    }

    #[test]
    fn says_so_when_nothing_matches() {
        let reply = reply("Tell me a joke");
        assert_eq!(reply.text, NO_ANSWER);
        assert!(reply.sources.is_empty());
    }

    #[test]
    fn the_same_question_gets_the_same_answer() {
        assert_eq!(reply("refund receipt"), reply("refund receipt"));
    }

    #[test]
    fn counts_the_words_of_question_and_answer() {
        let reply = reply("refund receipt");
        assert_eq!(
            reply.tokens_used as usize,
            2 + reply.text.split_whitespace().count()
        );
    }

    #[test]
    fn splits_sentences_without_breaking_times_or_decimals() {
        assert_eq!(
            sentences("Open at 9.30 daily. Closed on Sunday!\nCall us"),
            ["Open at 9.30 daily.", "Closed on Sunday!", "Call us"]
        );
    }
}
