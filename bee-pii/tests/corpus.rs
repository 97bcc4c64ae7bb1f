//! The labelled corpus: every expected value found with its kind, no reject value
//! touched, with the moderate profile.
//!
//! `tests/data/cases.jsonl` is the shared labelled corpus of chat messages (ids
//! `public-NNNN`); `tests/data/extra.jsonl` holds our own cases for traps the corpus does
//! not show. Each line is `{"id", "text", "expect": [{"kind", "value"}], "reject": [..]}`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    missing_docs
)]

use std::collections::BTreeMap;

use bee_pii::{Detection, Detector};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    id: String,
    #[serde(default)]
    #[allow(dead_code)]
    note: String,
    text: String,
    #[serde(default)]
    expect: Vec<Expect>,
    #[serde(default)]
    reject: Vec<String>,
}

#[derive(Deserialize)]
struct Expect {
    kind: String,
    value: String,
}

fn overlaps(d: &Detection, start: usize, end: usize) -> bool {
    d.start < end && start < d.end
}

fn spans(text: &str, value: &str) -> Vec<(usize, usize)> {
    text.match_indices(value)
        .map(|(i, v)| (i, i + v.len()))
        .collect()
}

fn run(data: &str, profile: &str) -> Vec<String> {
    let detector = Detector::preset(profile).unwrap();
    let mut failures = Vec::new();
    let mut per_kind: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut rejects, mut flagged) = (0usize, 0usize);
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let case: Case = serde_json::from_str(line).unwrap();
        let found = detector.detect(&case.text);
        for e in &case.expect {
            let places = spans(&case.text, &e.value);
            assert!(!places.is_empty(), "{}: value not in text", case.id);
            let hit = places.iter().all(|&(s, t)| {
                found
                    .iter()
                    .any(|d| d.kind.name() == e.kind && overlaps(d, s, t))
            });
            let entry = per_kind.entry(e.kind.clone()).or_default();
            entry.1 += 1;
            if hit {
                entry.0 += 1;
            } else {
                failures.push(format!(
                    "{}: missed {} {:?} in {:?} (found {:?})",
                    case.id, e.kind, e.value, case.text, found
                ));
            }
        }
        for r in &case.reject {
            rejects += 1;
            let bad: Vec<_> = spans(&case.text, r)
                .into_iter()
                .flat_map(|(s, t)| found.iter().filter(move |d| overlaps(d, s, t)))
                .collect();
            if !bad.is_empty() {
                flagged += 1;
                failures.push(format!("{}: flagged reject {:?} as {:?}", case.id, r, bad));
            }
        }
    }
    for (kind, (hit, total)) in &per_kind {
        println!(
            "{profile} recall {kind:<16} {hit:>3}/{total:<3} {:.1}%",
            100.0 * *hit as f64 / *total as f64
        );
    }
    println!(
        "{profile} false alarms {flagged}/{rejects} {:.1}%",
        100.0 * flagged as f64 / rejects.max(1) as f64
    );
    failures
}

#[test]
fn shared_corpus_is_fully_found_with_no_false_alarm() {
    let failures = run(include_str!("data/cases.jsonl"), "moderate");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn own_trap_cases_are_found_with_no_false_alarm() {
    let failures = run(include_str!("data/extra.jsonl"), "moderate");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn strict_profile_finds_everything_moderate_finds() {
    // Strict also reports weak kinds without context words; whatever else it adds, it
    // must not lose anything the moderate profile finds.
    let failures = run(include_str!("data/cases.jsonl"), "strict");
    let missed: Vec<_> = failures.iter().filter(|f| f.contains("missed")).collect();
    assert!(missed.is_empty(), "{missed:?}");
}
