//! What the checks found: one line per check as it ends, then a summary.

use std::io::{self, Write};

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The defence held.
    Pass,
    /// A finding: what was seen.
    Fail(String),
    /// The check cannot be made from outside; why, and where it is covered instead.
    NotApplicable(String),
    /// The check could not finish (the probe's own address was blocked, say).
    Incomplete(String),
}

/// The lines printed so far, and the tally.
#[derive(Debug, Default)]
pub(crate) struct Report {
    passed: usize,
    failed: Vec<String>,
    not_applicable: usize,
    incomplete: usize,
}

impl Report {
    /// Prints the line of check `name` and counts it.
    pub(crate) fn record(&mut self, name: &str, outcome: Outcome) {
        let line = match &outcome {
            Outcome::Pass => format!("PASS {name}"),
            Outcome::Fail(what) => format!("FAIL {name}: {what}"),
            Outcome::NotApplicable(why) => format!("SKIP {name}: {why}"),
            Outcome::Incomplete(why) => format!("SKIP {name}: incomplete: {why}"),
        };
        match outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Fail(_) => self.failed.push(name.to_owned()),
            Outcome::NotApplicable(_) => self.not_applicable += 1,
            Outcome::Incomplete(_) => self.incomplete += 1,
        }
        say(&line);
    }

    /// Marks the run incomplete for a reason outside any check (a failed cleanup).
    pub(crate) fn incomplete(&mut self) {
        self.incomplete += 1;
    }

    /// Whether any check failed.
    pub(crate) fn has_findings(&self) -> bool {
        !self.failed.is_empty()
    }

    /// Whether something could not be finished.
    pub(crate) fn is_incomplete(&self) -> bool {
        self.incomplete > 0
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> String {
        let mut line = format!(
            "summary: {} passed, {} failed, {} not applicable, {} incomplete",
            self.passed,
            self.failed.len(),
            self.not_applicable,
            self.incomplete
        );
        if !self.failed.is_empty() {
            line.push_str(&format!("; findings: {}", self.failed.join(", ")));
        }
        line
    }
}

/// A line on standard output; a closed pipe is not worth failing the probe for.
pub(crate) fn say(line: &str) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// The first few problems of a list, and how many there were.
pub(crate) fn problems(list: &[String]) -> Outcome {
    const SHOWN: usize = 3;
    match list.len() {
        0 => Outcome::Pass,
        n if n <= SHOWN => Outcome::Fail(list.join("; ")),
        n => Outcome::Fail(format!(
            "{}; and {} more",
            list[..SHOWN].join("; "),
            n - SHOWN
        )),
    }
}
