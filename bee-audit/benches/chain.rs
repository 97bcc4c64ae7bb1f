//! Chained appends (fsync every 10 ms, and every record) and verification speed, each
//! beside a reference measured in the same group: plain unchained JSON Lines appends with
//! the same sync policy, and a plain HMAC-SHA256 / SHA-256 pass over the same bytes.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bee_audit::{
    Activity, Actor, AuditSink, ChainKey, ChainedFileSink, Durability, Event, FileSinkConfig,
    KeyRef, Label, Outcome, Record, Severity, Source, SystemClock, Verbatim, verify_files,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

fn record() -> Record {
    let event = Event::new(
        jiff::Timestamp::now(),
        Activity::Authentication {
            method: Label::new("api_key").unwrap(),
            reason: Some(Label::new("bad_secret").unwrap()),
        },
    )
    .outcome(Outcome::Failure)
    .severity(Severity::Medium)
    .correlation_id(Label::new("0f8c2d5e-8a1b-4c3d-9e7f-6a5b4c3d2e1f").unwrap())
    .actor(Actor {
        tenant: Some(Label::new("tenant-42").unwrap()),
        key: Some(KeyRef::parse("pb_1a2B3c4D5e6F").unwrap()),
        ..Actor::default()
    })
    .source(Source {
        address: Some("203.0.113.77".parse().unwrap()),
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) bee-bench/1.0".into()),
    })
    .detail(Label::new("attempt").unwrap(), 3);
    Record::scrub(event, &Verbatim)
}

/// The reference: the same event as plain JSON Lines, one write per record, synced by
/// the same policy, no chain.
struct PlainJsonl {
    file: Arc<File>,
    buf: Mutex<Vec<u8>>,
    every_record: bool,
    stop: Arc<AtomicBool>,
}

impl PlainJsonl {
    fn open(path: &Path, sync: Durability) -> Self {
        let file = Arc::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        if let Durability::Interval(every) = sync {
            let (file, stop) = (Arc::clone(&file), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(every);
                    file.sync_data().unwrap();
                }
            });
        }
        let every_record = sync == Durability::EveryRecord;
        Self {
            file,
            buf: Mutex::new(Vec::with_capacity(1024)),
            every_record,
            stop,
        }
    }

    fn write(&self, record: &Record) {
        let mut buf = self.buf.lock().unwrap();
        buf.clear();
        serde_json::to_writer(&mut *buf, record.event()).unwrap();
        buf.push(b'\n');
        (&*self.file).write_all(&buf).unwrap();
        if self.every_record {
            self.file.sync_data().unwrap();
        }
    }
}

impl Drop for PlainJsonl {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn appends(c: &mut Criterion, name: &str, durability: Durability) {
    let dir = tempfile::tempdir_in(bench_dir()).unwrap();
    let key = ChainKey::generate();
    let config = FileSinkConfig::new(dir.path().join("chained")).durability(durability);
    let (sink, _) = ChainedFileSink::open(config, &key, Arc::new(SystemClock)).unwrap();
    let plain = PlainJsonl::open(&dir.path().join("plain.jsonl"), durability);
    let record = record();

    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    if durability == Durability::EveryRecord {
        group.sample_size(10);
    }
    group.bench_function("chained", |b| b.iter(|| sink.write(&record).unwrap()));
    group.bench_function("plain_jsonl", |b| b.iter(|| plain.write(&record)));
    group.finish();
    sink.close().unwrap();
}

fn append_interval(c: &mut Criterion) {
    appends(
        c,
        "append_fsync_10ms",
        Durability::Interval(Duration::from_millis(10)),
    );
}

fn append_every_record(c: &mut Criterion) {
    appends(c, "append_fsync_every_record", Durability::EveryRecord);
}

/// A little over 64 MiB of chained records in three files.
fn verify_speed(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(bench_dir()).unwrap();
    let key = ChainKey::generate();
    let config = FileSinkConfig::new(dir.path())
        .rotate_bytes(32 << 20)
        .durability(Durability::Never);
    let (sink, _) = ChainedFileSink::open(config, &key, Arc::new(SystemClock)).unwrap();
    let record = record();
    while ChainedFileSink::files(dir.path()).unwrap().len() < 3 {
        for _ in 0..10_000 {
            sink.write(&record).unwrap();
        }
    }
    sink.close().unwrap();
    let files = ChainedFileSink::files(dir.path()).unwrap();
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let hmac_key = [7u8; 32];

    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Bytes(bytes));
    group.sample_size(10);
    group.bench_function("verify_files", |b| {
        b.iter(|| assert!(verify_files(&files, &key, None).unwrap().is_intact()));
    });
    group.bench_function("hmac_sha256_per_line", |b| {
        b.iter(|| hmac_lines(&files, &hmac_key));
    });
    group.bench_function("sha256_whole_file", |b| b.iter(|| sha256_files(&files)));
    group.finish();
}

fn hmac_lines(files: &[PathBuf], key: &[u8; 32]) -> u8 {
    let proto = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
    let mut acc = 0u8;
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        for line in bytes.split(|&b| b == b'\n') {
            acc ^= proto.clone().chain_update(line).finalize().into_bytes()[0];
        }
    }
    acc
}

fn sha256_files(files: &[PathBuf]) -> u8 {
    let mut acc = 0u8;
    for file in files {
        acc ^= Sha256::digest(std::fs::read(file).unwrap())[0];
    }
    acc
}

/// Benchmarks write to the disk under test: `BEE_BENCH_DIR`, or the target directory.
fn bench_dir() -> PathBuf {
    std::env::var_os("BEE_BENCH_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

criterion_group!(benches, append_interval, append_every_record, verify_speed);
criterion_main!(benches);
