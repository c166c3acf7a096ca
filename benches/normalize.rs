//! Parse + normalize + redact + serialize, one core, 200-byte lines.
//! `cargo bench --bench normalize`; figures in docs/benchmarks.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prometheus::IntCounter;
use std::hint::black_box;
use std::sync::Arc;
use vigia::logs::normalize::Normalizer;
use vigia::logs::parse::Format;
use vigia::logs::redact::{DEFAULT_RULES, Redactor};
use vigia::pipeline::{Origin, RawLine};

const LINES: usize = 10_000;

#[path = "support/corpus.rs"]
mod corpus;

use corpus::pad;

fn json_line(i: usize) -> String {
    corpus::json_line_on("2024-05-01", i)
}

/// nginx's combined format with `$request_time`, a browser's user agent and a referer.
fn access_line(i: usize) -> String {
    format!(
        r#"10.42.{}.{} - - [01/May/2024:10:00:{:02} +0000] "GET /api/v1/orders/{} HTTP/1.1" {} {} "https://shop.example.com/cart" "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0" 0.{:03}"#,
        i % 256,
        (i / 7) % 256,
        i % 60,
        100_000 + i,
        if i.is_multiple_of(50) { 500 } else { 200 },
        512 + i % 4096,
        i % 1000
    )
}

fn logfmt_line(i: usize) -> String {
    pad(
        format!(
            "time=2024-05-01T10:00:{:02}Z level=info msg=\"cache lookup\" key=product:{} hit=true took={}us ",
            i % 60,
            i,
            i % 900
        ),
        200,
    )
}

fn plain_line(i: usize) -> String {
    pad(
        format!(
            "2024-05-01T10:00:{:02}.{:03}Z INFO worker-{} processed batch {} in {} ms ",
            i % 60,
            i % 1000,
            i % 8,
            i,
            i % 300
        ),
        200,
    )
}

fn raw(text: String) -> RawLine {
    RawLine {
        bytes: text.into_bytes(),
        read_time_ns: 1_714_557_600_000_000_000,
        container_time_ns: None,
        stream: None,
        truncated: false,
    }
}

fn normalizer() -> Normalizer {
    let rules: Vec<String> = DEFAULT_RULES.iter().map(|s| s.to_string()).collect();
    let redactor = Redactor::new(&rules, &[], |n| {
        IntCounter::new(format!("b_{n}"), "b").unwrap()
    })
    .unwrap();
    Normalizer::new(Format::Auto, Arc::new(redactor))
}

fn bench_corpus(c: &mut Criterion, name: &str, lines: Vec<RawLine>) {
    let origin = Origin {
        source_id: Arc::from("bench"),
        file: Some(Arc::from("/var/log/app/app.log")),
        kubernetes: None,
    };
    let bytes: usize = lines.iter().map(|l| l.bytes.len()).sum();
    let mut group = c.benchmark_group("normalize");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.sample_size(20);
    group.bench_function(format!("{name} ({} B/line)", bytes / lines.len()), |b| {
        let mut normalizer = normalizer();
        let mut out = Vec::with_capacity(512 * lines.len());
        b.iter(|| {
            out.clear();
            for line in &lines {
                normalizer.normalize_into(line, &origin, &mut out);
            }
            black_box(out.len())
        })
    });
    group.finish();
}

fn normalize(c: &mut Criterion) {
    bench_corpus(c, "json", (0..LINES).map(|i| raw(json_line(i))).collect());
    bench_corpus(
        c,
        "access",
        (0..LINES).map(|i| raw(access_line(i))).collect(),
    );
    bench_corpus(
        c,
        "logfmt",
        (0..LINES).map(|i| raw(logfmt_line(i))).collect(),
    );
    bench_corpus(c, "plain", (0..LINES).map(|i| raw(plain_line(i))).collect());
    // A mixed source: formats interleaved line by line (the worst case for the fast path).
    bench_corpus(
        c,
        "mixed",
        (0..LINES)
            .map(|i| {
                raw(match i % 4 {
                    0 => json_line(i),
                    1 => access_line(i),
                    2 => logfmt_line(i),
                    _ => plain_line(i),
                })
            })
            .collect(),
    );
}

criterion_group!(benches, normalize);
criterion_main!(benches);
