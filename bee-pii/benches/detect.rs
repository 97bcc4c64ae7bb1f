//! Detect + redact throughput (moderate profile) beside a single simple regex scan over
//! the same text, in the same criterion group.

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, missing_docs)]

use std::hint::black_box;

use bee_pii::{Detector, Redactor};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const WORDS: &[&str] = &[
    "the",
    "assistant",
    "answers",
    "questions",
    "about",
    "our",
    "opening",
    "hours",
    "and",
    "your",
    "booking",
    "please",
    "could",
    "you",
    "tell",
    "me",
    "whether",
    "refund",
    "policy",
    "covers",
    "cancelled",
    "appointments",
    "thanks",
    "a",
    "lot",
    "for",
    "help",
    "with",
    "this",
    "issue",
    "I",
    "would",
    "like",
    "to",
    "know",
    "when",
    "delivery",
    "arrives",
    "at",
    "my",
    "home",
    "clinic",
    "doctor",
    "insurance",
    "form",
    "login",
    "page",
    "shows",
    "an",
    "error",
    "again",
];

const ITEMS: &[&str] = &[
    "maria.rossi+billing@clinic.example.net",
    "(462) 320-8117",
    "4111 1111 1111 1111",
    "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",
    "166.183.76.117",
    "SSN 262-68-2755",
    "GB29 NWBK 6016 1331 9268 19",
    "password: Xk3!pQ9z",
];

/// Deterministic pseudo-random prose with an item of PII in the middle of every `every`
/// bytes (0: none).
fn text(len: usize, every: usize) -> String {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = String::with_capacity(len + 64);
    let mut item = 0;
    while out.len() < len {
        let words = 6 + (next() % 12) as usize;
        for i in 0..words {
            let w = WORDS[(next() % WORDS.len() as u64) as usize];
            if i == 0 {
                out.push_str(&w[..1].to_uppercase());
                out.push_str(&w[1..]);
            } else {
                out.push(' ');
                out.push_str(w);
            }
            if i == words / 2 && next() % 4 == 0 {
                out.push(',');
            }
        }
        out.push_str(if next() % 5 == 0 { "?\n" } else { ". " });
        if every > 0 && (out.len() + every / 2) / every > item {
            out.push_str("Here it is: ");
            out.push_str(ITEMS[item % ITEMS.len()]);
            out.push_str(". ");
            item += 1;
        }
    }
    out.truncate(len);
    while !out.is_char_boundary(out.len()) {
        out.pop();
    }
    out
}

fn bench(c: &mut Criterion) {
    let redactor = Redactor::new(Detector::default());
    // The reference: one simple pattern (a North American phone number) that, like a
    // detector, has to look at every byte. A second pattern with a required literal
    // ('-') is shown too: the regex crate skips to that byte with memchr.
    let reference = regex::Regex::new(r"\b\d{3}[-. ]?\d{3}[-. ]?\d{4}\b").unwrap();
    let literal = regex::Regex::new(r"\d{3}-\d{2}-\d{4}").unwrap();
    let cases = [
        ("prose_1k", text(1 << 10, 0)),
        ("prose_1m", text(1 << 20, 0)),
        ("chat_5k", text(5 << 10, 5 << 10)),
        ("chat_1m", text(1 << 20, 5 << 10)),
        ("dense_64k", text(64 << 10, 100)),
    ];
    for (name, text) in &cases {
        let mut group = c.benchmark_group(*name);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("detect_redact", name), text, |b, t| {
            b.iter(|| redactor.redact_cow(black_box(t)).len())
        });
        group.bench_with_input(BenchmarkId::new("single_regex", name), text, |b, t| {
            b.iter(|| reference.find_iter(black_box(t)).count())
        });
        group.bench_with_input(BenchmarkId::new("literal_regex", name), text, |b, t| {
            b.iter(|| literal.find_iter(black_box(t)).count())
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
