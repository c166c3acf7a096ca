//! Read + frame + multiline throughput: the file source's hot path.
//! `cargo bench --bench framing`; figures in docs/benchmarks.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigia::logs::frame::{ContainerFormat, Framer, MultilineMode, MultilineSettings};
use vigia::logs::source::file::checkpoint::CheckpointStore;
use vigia::logs::source::file::tailer::{ReadFrom, Tailer, TailerSettings};
use vigia::telemetry::AgentMetrics;

const LINE_BYTES: usize = 200;

/// A realistic plain-text access/application line, padded to exactly 200 bytes with `\n`.
fn plain_line(i: usize) -> String {
    let mut line = format!(
        "2024-05-01T10:00:{:02}.{:03}Z INFO http request handled method=GET path=/api/v1/orders/{} status=200 duration_ms={} user_agent=\"curl/8.5\"",
        i % 60,
        i % 1000,
        100_000 + i,
        i % 500
    );
    line.truncate(LINE_BYTES - 1);
    while line.len() < LINE_BYTES - 1 {
        line.push(' ');
    }
    line.push('\n');
    line
}

fn plain_corpus(bytes: usize) -> Vec<u8> {
    (0..bytes / LINE_BYTES)
        .flat_map(|i| plain_line(i).into_bytes())
        .collect()
}

fn cri_corpus(bytes: usize) -> Vec<u8> {
    let prefix = "2024-05-01T10:00:00.123456789Z stdout F ";
    (0..bytes / LINE_BYTES)
        .flat_map(|i| {
            let content = &plain_line(i)[..LINE_BYTES - prefix.len() - 1];
            format!("{prefix}{content}\n").into_bytes()
        })
        .collect()
}

fn multiline(mode: MultilineMode) -> MultilineSettings {
    MultilineSettings {
        mode,
        ..MultilineSettings::auto(256 * 1024)
    }
}

fn frame_all(corpus: &[u8], format: ContainerFormat, mode: MultilineMode) -> usize {
    let mut framer = Framer::new(format, multiline(mode), 256 * 1024, 0);
    let mut events = Vec::with_capacity(1024);
    let mut count = 0;
    let now = Instant::now();
    for chunk in corpus.chunks(64 * 1024) {
        framer.push(chunk, now, &mut events);
        count += events.len();
        events.clear();
    }
    framer.finish(now, &mut events);
    count + events.len()
}

fn framing(c: &mut Criterion) {
    let plain = plain_corpus(16 << 20);
    let cri = cri_corpus(16 << 20);
    let mut group = c.benchmark_group("frame");
    group.throughput(Throughput::Bytes(plain.len() as u64));
    group.sample_size(20);
    group.bench_function("plain_200B/multiline_none", |b| {
        b.iter(|| black_box(frame_all(&plain, ContainerFormat::Raw, MultilineMode::None)))
    });
    group.bench_function("plain_200B/multiline_auto", |b| {
        b.iter(|| {
            black_box(frame_all(
                &plain,
                ContainerFormat::Auto,
                MultilineMode::Auto,
            ))
        })
    });
    group.throughput(Throughput::Bytes(cri.len() as u64));
    group.bench_function("cri_200B/multiline_auto", |b| {
        b.iter(|| black_box(frame_all(&cri, ContainerFormat::Auto, MultilineMode::Auto)))
    });
    group.finish();
}

/// The whole tailer on a real file (page cache): open, read, frame, multiline, batch.
fn tailing(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    let corpus = plain_corpus(64 << 20);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&corpus)
        .unwrap();
    let mut group = c.benchmark_group("tail");
    group.throughput(Throughput::Bytes(corpus.len() as u64));
    group.sample_size(10);
    group.bench_function("plain_200B/multiline_auto", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for run in 0..iterations {
                let metrics = AgentMetrics::new();
                let data = dir.path().join(format!("data-{run}"));
                let settings = TailerSettings {
                    source_id: Arc::from("bench"),
                    include: vec![path.display().to_string()],
                    exclude: vec![],
                    read_from: ReadFrom::Beginning,
                    container: ContainerFormat::Auto,
                    multiline: multiline(MultilineMode::Auto),
                    max_line_bytes: 256 * 1024,
                    max_open_files: 16,
                    rotate_wait: Duration::from_secs(10),
                    batch_max_events: 512,
                    read_budget_bytes: 256 * 1024,
                    follow_symlinks: Default::default(),
                    symlink_roots: Vec::new(),
                };
                let started = Instant::now();
                let mut tailer = Tailer::new(
                    settings,
                    CheckpointStore::new(&data, "bench"),
                    metrics.source("bench"),
                    metrics.file_source("bench"),
                )
                .unwrap();
                tailer.discover(Instant::now());
                let mut events = 0;
                loop {
                    let batches = tailer.poll(Instant::now());
                    events += batches.iter().map(|b| b.lines.len()).sum::<usize>();
                    drop(batches);
                    if !tailer.has_backlog() {
                        break;
                    }
                }
                total += started.elapsed();
                assert!(events + 1 >= corpus.len() / LINE_BYTES);
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, framing, tailing);
criterion_main!(benches);
