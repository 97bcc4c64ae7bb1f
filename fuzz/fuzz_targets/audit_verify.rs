//! Audit log verification of arbitrary file content.
//!
//! Input: byte 0 bit 0 says whether to verify against the head of the fixture chain; the
//! rest is the log, split into files at form feed bytes (0x0C). Seed files hold the
//! fixture chain (written with the fixture key, so its records authenticate) and edits
//! of it.
//!
//! Invariants: no panic; an intact report counts only lines of the input; against the
//! head, an intact report means the files hold exactly the fixture chain's records.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use bee_audit::{Head, verify_files};
use bee_fuzz::{MAX_INPUT, audit, byte, within};
use libfuzzer_sys::fuzz_target;

#[derive(Debug)]
struct Input {
    with_head: bool,
    files: Vec<String>,
}

bee_fuzz::whole_input!(Input);

impl Input {
    fn read(mut u: Unstructured<'_>) -> Result<Self> {
        within(&u, MAX_INPUT)?;
        let with_head = byte(&mut u) & 1 == 1;
        let files = u
            .take_rest()
            .split(|&b| b == 0x0C)
            .take(8)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        Ok(Input { with_head, files })
    }
}

struct Fixture {
    dir: PathBuf,
    head: Head,
    lines: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("bee-fuzz-audit-{}", std::process::id()));
        let chain = dir.join("chain");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&chain).expect("temp dir");
        let (files, head) = audit::write_chain(&chain);
        let mut lines = Vec::new();
        for file in files {
            let text = std::fs::read_to_string(file).expect("read chain");
            lines.extend(text.lines().filter(|l| !l.is_empty()).map(str::to_owned));
        }
        Fixture { dir, head, lines }
    })
}

fuzz_target!(|input: Input| {
    let fixture = fixture();
    let paths: Vec<PathBuf> = input
        .files
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let path = fixture.dir.join(format!("audit-{:08}.jsonl", i + 1));
            std::fs::write(&path, text).expect("write input file");
            path
        })
        .collect();
    let head = input.with_head.then_some(&fixture.head);
    let Ok(report) = verify_files(&paths, &audit::key(), head) else {
        return;
    };

    let lines: Vec<&str> = input
        .files
        .iter()
        .flat_map(|f| f.lines())
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(
        report.records <= lines.len() as u64,
        "more records than lines"
    );
    if report.is_intact() && input.with_head {
        assert_eq!(
            lines, fixture.lines,
            "a changed log verified against its head"
        );
    }
});
