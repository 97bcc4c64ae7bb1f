//! Lexical retrieval over a bot's knowledge entries (BM25 over words).
//!
//! Small and deterministic on purpose: a bot has tens of entries, not millions, and the
//! same question must always pick the same entries. Ties go to the earlier entry.

use std::collections::HashMap;

use crate::model::KnowledgeEntry;

/// BM25 term-frequency saturation.
const K1: f64 = 1.2;
/// BM25 length normalisation.
const B: f64 = 0.75;
/// Words of a title count this many times, since a title names what the entry is about.
const TITLE_WEIGHT: usize = 2;

/// Words too common to tell entries apart.
const STOPWORDS: &[&str] = &[
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from",
    "how", "i", "if", "in", "is", "it", "me", "my", "of", "on", "or", "our", "please", "so",
    "that", "the", "their", "there", "this", "to", "was", "we", "what", "when", "where", "which",
    "who", "why", "will", "with", "you", "your",
];

/// The knowledge entries of one bot, indexed for lexical search.
#[derive(Debug)]
pub struct Retrieval<'k> {
    entries: &'k [KnowledgeEntry],
    terms: Vec<HashMap<String, usize>>,
    lengths: Vec<usize>,
    average_length: f64,
}

/// An entry and how well it matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored<'k> {
    /// The entry.
    pub entry: &'k KnowledgeEntry,
    /// Its BM25 score, above zero.
    pub score: f64,
}

impl<'k> Retrieval<'k> {
    /// Indexes the entries.
    pub fn new(entries: &'k [KnowledgeEntry]) -> Self {
        let terms: Vec<HashMap<String, usize>> = entries.iter().map(entry_terms).collect();
        let lengths: Vec<usize> = terms.iter().map(|t| t.values().sum()).collect();
        let total: usize = lengths.iter().sum();
        let average_length = if entries.is_empty() {
            1.0
        } else {
            (total as f64 / entries.len() as f64).max(1.0)
        };
        Self {
            entries,
            terms,
            lengths,
            average_length,
        }
    }

    /// The entries that share words with `query`, best first, at most `limit`.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Scored<'k>> {
        let query: Vec<String> = dedup(words(query));
        let mut scored: Vec<(usize, f64)> = (0..self.entries.len())
            .map(|i| (i, self.score(i, &query)))
            .filter(|&(_, score)| score > 0.0)
            .collect();
        // Stable sort: equal scores keep the entries' order.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored
            .into_iter()
            .take(limit)
            .map(|(i, score)| Scored {
                entry: &self.entries[i],
                score,
            })
            .collect()
    }

    fn score(&self, entry: usize, query: &[String]) -> f64 {
        let length = self.lengths[entry] as f64;
        let norm = K1 * (1.0 - B + B * length / self.average_length);
        query
            .iter()
            .filter_map(|term| {
                let tf = *self.terms[entry].get(term)? as f64;
                Some(self.idf(term) * tf * (K1 + 1.0) / (tf + norm))
            })
            .sum()
    }

    fn idf(&self, term: &str) -> f64 {
        let n = self.entries.len() as f64;
        let df = self.terms.iter().filter(|t| t.contains_key(term)).count() as f64;
        ((n - df + 0.5) / (df + 0.5) + 1.0).ln()
    }
}

/// The content words of `text`: lowercase runs of letters and digits, stopwords left out,
/// a plural `s` folded away so that "refunds" finds "refund".
pub(super) fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| fold(&w.to_lowercase()))
        .filter(|w| w.chars().count() > 1 && !STOPWORDS.contains(&w.as_str()))
        .collect()
}

fn fold(word: &str) -> String {
    match word.strip_suffix('s') {
        Some(stem) if stem.chars().count() >= 3 && !stem.ends_with('s') => stem.to_owned(),
        _ => word.to_owned(),
    }
}

fn entry_terms(entry: &KnowledgeEntry) -> HashMap<String, usize> {
    let mut terms = HashMap::new();
    for word in words(&entry.title) {
        *terms.entry(word).or_default() += TITLE_WEIGHT;
    }
    for word in words(&entry.content) {
        *terms.entry(word).or_default() += 1;
    }
    terms
}

fn dedup(mut words: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    words.retain(|w| seen.insert(w.clone()));
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, content: &str) -> KnowledgeEntry {
        KnowledgeEntry {
            title: title.into(),
            content: content.into(),
        }
    }

    fn kb() -> Vec<KnowledgeEntry> {
        vec![
            entry(
                "Opening hours",
                "We are open Monday to Friday, 9:00 to 17:00.",
            ),
            entry("Refunds", "Refunds are paid within 14 days of the return."),
            entry(
                "Shipping",
                "Parcels ship within two days. Shipping is free over 50 EUR.",
            ),
        ]
    }

    #[test]
    fn the_entry_sharing_the_most_telling_words_comes_first() {
        let kb = kb();
        let hits = Retrieval::new(&kb).search("How long do refunds take?", 3);
        assert_eq!(hits[0].entry.title, "Refunds");
        assert_eq!(hits.len(), 1);
    }

    #[test]
    fn a_question_with_no_shared_word_finds_nothing() {
        let kb = kb();
        assert!(
            Retrieval::new(&kb)
                .search("What is the meaning of life?", 3)
                .is_empty()
        );
    }

    #[test]
    fn stopwords_and_case_do_not_count() {
        assert_eq!(words("What ARE the Opening hours?"), ["opening", "hour"]);
    }

    #[test]
    fn equal_scores_keep_the_entries_order() {
        let kb = vec![entry("A", "alpha beta"), entry("B", "alpha beta")];
        let hits = Retrieval::new(&kb).search("alpha", 2);
        assert_eq!(hits[0].entry.title, "A");
        assert_eq!(hits[1].entry.title, "B");
    }

    #[test]
    fn no_entries_find_nothing() {
        assert!(Retrieval::new(&[]).search("anything", 3).is_empty());
    }
}
