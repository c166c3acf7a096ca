//! The latency-detection evaluation at full scale: `cargo bench --bench latency_eval`.
//! SCALE=small runs the test suite's size; SEED changes the scenarios; ONLY filters them by name.

use std::time::Instant;
use vigia::latency::detector::DetectorSettings;
use vigia::latency::eval::{Scale, evaluate, suite};

fn main() {
    // `cargo test --all-targets` runs benches without `--bench`: the small harness already
    // runs in the test suite, so there is nothing to do here.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let scale = match std::env::var("SCALE").as_deref() {
        Ok("small") => Scale::Small,
        _ => Scale::Full,
    };
    let seed = std::env::var("SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    // ONLY=<text> keeps the scenarios whose name contains it (to look at one case).
    let only = std::env::var("ONLY").unwrap_or_default();
    let scenarios: Vec<_> = suite(seed, scale)
        .into_iter()
        .filter(|s| s.name.contains(&only))
        .collect();
    let started = Instant::now();
    let report = evaluate(&scenarios, &DetectorSettings::default());
    if std::env::var_os("VERBOSE").is_some() {
        for (name, delay, false_alarms) in &report.vigia_by_scenario {
            println!("{name:40} detected after {delay:?} min, false alarms {false_alarms:?}");
        }
    }
    println!(
        "{scale:?} scale, seed {seed}, {} scenarios, {:.1} s",
        scenarios.len(),
        started.elapsed().as_secs_f64()
    );
    print!("{}", report.table());

    // `vigia detect --kind quantiles`: two-week 5-minute p95 series with daily cycles.
    let seeds = std::env::var("SERIES_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let started = Instant::now();
    let series = vigia::latency::eval::series::suite(seeds);
    let table = vigia::latency::eval::series::table(&series, 1800.0);
    println!(
        "\n{} quantile series (5 min, 14 days), caught within 30 min, {:.1} s",
        series.len(),
        started.elapsed().as_secs_f64()
    );
    print!("{table}");
}
