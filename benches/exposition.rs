//! Exposition parse throughput: vigia's parser (every line and family rule checked) against
//! the `prometheus-parse` and `openmetrics-parser` crates, on a real node_exporter exposition
//! and on a synthetic one of 1,000,000 series.
//!
//! `cargo bench --bench exposition`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use vigia::metrics::exposition::Format;
use vigia::metrics::exposition::parser::parse_body;

const NODE_EXPORTER: &str = include_str!("data/node_exporter.prom");

/// `series` counter series in families of 1,000, with realistic label sets.
fn synthetic(series: usize) -> String {
    let mut out = String::with_capacity(series * 120);
    for family in 0..series.div_ceil(1000) {
        let name = format!("app_http_requests_{family}_total");
        out.push_str(&format!(
            "# HELP {name} Requests served by route and status.\n# TYPE {name} counter\n"
        ));
        for i in 0..1000.min(series - family * 1000) {
            out.push_str(&format!(
                "{name}{{method=\"GET\",route=\"/api/v1/items/{i}\",status=\"{}\",instance=\"10.0.{}.{}:8080\"}} {}\n",
                [200, 404, 500][i % 3],
                i / 256,
                i % 256,
                i * 7919 % 100_003
            ));
        }
    }
    out
}

fn vigia_parse(body: &str) -> usize {
    let mut samples = 0;
    parse_body(body, Format::Text, |_, line, _| {
        samples += usize::from(matches!(line, vigia::metrics::exposition::Line::Sample));
    })
    .expect("valid");
    samples
}

fn prometheus_parse(body: &str) -> usize {
    let lines = body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines)
        .expect("valid")
        .samples
        .len()
}

fn openmetrics_parser(body: &str) -> usize {
    openmetrics_parser::prometheus::parse_prometheus(body)
        .expect("valid")
        .families
        .len()
}

fn bench(c: &mut Criterion) {
    let inputs = [
        ("node_exporter", NODE_EXPORTER.to_owned(), 100),
        ("synthetic_1M_series", synthetic(1_000_000), 10),
    ];
    for (name, body, samples) in &inputs {
        let mut group = c.benchmark_group(format!("exposition/{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.sample_size(*samples);
        println!(
            "{name}: {} bytes, {} samples",
            body.len(),
            vigia_parse(body)
        );
        group.bench_with_input(BenchmarkId::new("vigia", name), body, |b, body| {
            b.iter(|| vigia_parse(black_box(body)))
        });
        group.bench_with_input(
            BenchmarkId::new("prometheus-parse", name),
            body,
            |b, body| b.iter(|| prometheus_parse(black_box(body))),
        );
        group.bench_with_input(
            BenchmarkId::new("openmetrics-parser", name),
            body,
            |b, body| b.iter(|| openmetrics_parser(black_box(body))),
        );
        group.finish();
        if std::env::args().any(|arg| arg == "--bench") {
            report_spread(name, body);
        }
    }
}

/// Per-parse throughput spread: criterion's mean mixes quiet and busy moments of a shared
/// host; the fastest parses are the code's own cost on a core of its own (see
/// docs/benchmarks.md).
fn report_spread(name: &str, body: &str) {
    let passes = (2_000_000_000 / body.len()).clamp(20, 2000);
    let mut rates: Vec<f64> = (0..passes)
        .map(|_| {
            let started = std::time::Instant::now();
            black_box(vigia_parse(black_box(body)));
            body.len() as f64 / started.elapsed().as_secs_f64() / 1e6
        })
        .collect();
    rates.sort_by(|a, b| b.total_cmp(a));
    println!(
        "exposition/{name} vigia per parse over {passes} parses: fastest {:.0}, p10 {:.0}, median {:.0}, p90 {:.0} MB/s",
        rates[0],
        rates[passes / 10],
        rates[passes / 2],
        rates[passes * 9 / 10],
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
