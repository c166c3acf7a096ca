//! The tailer at its limits, driven directly: node-agent churn (20,000 files created and
//! deleted), `max_open_files` forcing it to let unread bytes go, and a copytruncate whose copy
//! is gone. Each limit is explicit: state freed, bytes counted, a warning.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vigia::logs::frame::{ContainerFormat, MultilineSettings};
use vigia::logs::pipeline::Delivery;
use vigia::logs::source::file::checkpoint::CheckpointStore;
use vigia::logs::source::file::tailer::{ReadFrom, Tailer, TailerSettings};
use vigia::telemetry::AgentMetrics;

fn tailer(dir: &Path, include: &str, max_open_files: usize) -> (Tailer, AgentMetrics) {
    let metrics = AgentMetrics::new();
    let settings = TailerSettings {
        source_id: Arc::from("node"),
        include: vec![dir.join(include).display().to_string()],
        exclude: vec![],
        read_from: ReadFrom::Beginning,
        container: ContainerFormat::Auto,
        multiline: MultilineSettings::none(),
        max_line_bytes: 64 * 1024,
        max_open_files,
        rotate_wait: Duration::ZERO,
        batch_max_events: 512,
        read_budget_bytes: 64 * 1024,
        follow_symlinks: Default::default(),
        symlink_roots: Vec::new(),
    };
    let tailer = Tailer::new(
        settings,
        CheckpointStore::new(&dir.join("data"), "node"),
        metrics.source("node"),
        metrics.file_source("node"),
    )
    .unwrap();
    (tailer, metrics)
}

/// One turn of the driver with a pipeline that delivers at once; returns the lines read.
/// A turn is 100 ms; the checkpoint is written every tenth, as `checkpoint_interval: 1s`.
fn turn(tailer: &mut Tailer, clock: &mut Instant) -> usize {
    *clock += Duration::from_millis(100);
    tailer.discover(*clock);
    let mut lines = 0;
    for batch in tailer.poll(*clock) {
        lines += batch.lines.len();
        batch.ack.resolve(Delivery::Delivered);
    }
    tailer.handle_acks();
    TURNS.with(|turns| {
        let turn = turns.get() + 1;
        turns.set(turn);
        if tailer.checkpoint_dirty() && turn % 10 == 0 {
            tailer.save_checkpoint();
        }
    });
    lines
}

thread_local! {
    static TURNS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn metric(metrics: &AgentMetrics, name: &str, label: Option<(&str, &str)>) -> f64 {
    metrics
        .gather()
        .iter()
        .filter(|family| family.name() == name)
        .flat_map(|family| family.get_metric())
        .filter(|m| {
            label.is_none_or(|(k, v)| {
                m.get_label()
                    .iter()
                    .any(|l| l.name() == k && l.value() == v)
            })
        })
        // The other kind reads 0.
        .map(|m| m.get_counter().get_value() + m.get_gauge().get_value())
        .sum()
}

#[test]
fn twenty_thousand_pods_come_and_go_and_their_state_goes_with_them() {
    const PODS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let pods = dir.path().join("pods");
    std::fs::create_dir_all(&pods).unwrap();
    for pod in 0..PODS {
        std::fs::write(
            pods.join(format!("pod-{pod:05}.log")),
            format!("{{\"level\":\"info\",\"msg\":\"pod {pod} started\"}}\n"),
        )
        .unwrap();
    }
    let (mut tailer, metrics) = tailer(dir.path(), "pods/*.log", 256);
    let mut clock = Instant::now();
    let mut read = 0;
    // Bounded: each turn opens at least the files it closed; 20,000 files at 256 a turn.
    for _ in 0..400 {
        read += turn(&mut tailer, &mut clock);
        if read == PODS {
            break;
        }
    }
    assert_eq!(
        read, PODS,
        "every pod's line read once, 256 handles at most"
    );
    assert!(metric(&metrics, "vigia_files_open", None) <= 256.0);

    for pod in 0..PODS {
        std::fs::remove_file(pods.join(format!("pod-{pod:05}.log"))).unwrap();
    }
    for _ in 0..3 {
        turn(&mut tailer, &mut clock);
    }
    tailer.save_checkpoint();
    assert_eq!(
        metric(&metrics, "vigia_files_watched", None),
        0.0,
        "state freed"
    );
    assert_eq!(metric(&metrics, "vigia_files_open", None), 0.0);
    let checkpoint =
        std::fs::read_to_string(dir.path().join("data/checkpoints/node.json")).unwrap();
    assert!(
        checkpoint.len() < 200,
        "the checkpoint forgets deleted files: {} bytes",
        checkpoint.len()
    );
    assert_eq!(
        metric(&metrics, "vigia_file_unread_bytes_released_total", None),
        0.0,
        "every file was read before it went"
    );
}

#[test]
fn a_file_deleted_before_a_handle_was_free_for_it_is_counted_not_silent() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // Two busy files hold the only two handles; a third waits for one.
    let busy = "{\"msg\":\"busy\"}\n".repeat(100_000);
    std::fs::write(logs.join("a.log"), &busy).unwrap();
    std::fs::write(logs.join("b.log"), &busy).unwrap();
    let (mut tailer, metrics) = tailer(dir.path(), "logs/*.log", 2);
    let mut clock = Instant::now();
    turn(&mut tailer, &mut clock);
    std::fs::write(logs.join("c.log"), "{\"msg\":\"short-lived\"}\n".repeat(10)).unwrap();
    turn(&mut tailer, &mut clock);
    std::fs::remove_file(logs.join("c.log")).unwrap();
    for _ in 0..100 {
        turn(&mut tailer, &mut clock);
    }
    assert_eq!(
        metric(
            &metrics,
            "vigia_file_unread_bytes_released_total",
            Some(("reason", "max_open_files"))
        ),
        220.0,
        "c.log's ten lines went unread, and that is counted"
    );
    assert_eq!(metric(&metrics, "vigia_files_watched", None), 2.0);
}

#[test]
fn a_copytruncate_whose_copy_is_gone_counts_the_unread_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("app.log");
    std::fs::write(&log, "{\"msg\":\"read\"}\n".repeat(10)).unwrap();
    let (mut tailer, metrics) = tailer(dir.path(), "logs/app.log", 8);
    let mut clock = Instant::now();
    assert_eq!(turn(&mut tailer, &mut clock), 10);
    // 10 more lines, then copytruncate with the copy compressed away at once.
    let mut text = "{\"msg\":\"read\"}\n".repeat(10);
    text.push_str(&"{\"msg\":\"unread\"}\n".repeat(10));
    std::fs::write(&log, &text).unwrap();
    tailer.discover(clock);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    for _ in 0..3 {
        turn(&mut tailer, &mut clock);
    }
    assert_eq!(
        metric(
            &metrics,
            "vigia_file_unread_bytes_released_total",
            Some(("reason", "truncated"))
        ),
        170.0
    );
    assert_eq!(metric(&metrics, "vigia_file_truncations_total", None), 1.0);
}
