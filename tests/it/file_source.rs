//! The file source end to end, with the real binary: rotation, truncation, restarts by
//! SIGKILL, container formats, and hostile files. Every wait is bounded.

use crate::support::files::{Collecting, Workspace, seq};
use crate::support::wait_for;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LINES_PER_FILE: u64 = 2_500;
const TOTAL_LINES: u64 = 20_000;
const KILLS: usize = 5;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// Small channels and batches so that what is in flight at a kill is small.
const PIPELINE: &str = "pipeline:\n  channel_capacity: 2\n  batch_max_events: 64";

fn line(seq: u64) -> String {
    format!(
        "{{\"level\":\"info\",\"msg\":\"order placed\",\"seq\":{seq},\"customer\":\"c-{}\"}}\n",
        seq % 977
    )
}

fn wait_until_a_file_is_open(agent: &Collecting) {
    wait_for(DELIVERY_TIMEOUT, "the file to be opened", || {
        agent
            .agent
            .metric("vigia_files_open{component=\"app\"}")
            .filter(|n| *n >= 1.0)
    });
}

/// Appends lines `seqs` to `file`.
fn write_lines(file: &mut File, seqs: std::ops::Range<u64>) {
    for seq in seqs {
        file.write_all(line(seq).as_bytes()).unwrap();
    }
}

fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// Checks what every run delivered: each line at least once, lines of one file in order
/// within a run, and duplicates (lines delivered again after a kill) within `max_duplicates`.
fn check_delivery(runs: &[Vec<serde_json::Value>], total: u64, max_duplicates: usize) -> usize {
    let mut seen = BTreeSet::new();
    let mut delivered = 0;
    for (run, records) in runs.iter().enumerate() {
        let again: Vec<u64> = records
            .iter()
            .map(seq)
            .filter(|s| seen.contains(s))
            .collect();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for s in &again {
            match ranges.last_mut() {
                Some((_, end)) if *end + 1 == *s => *end = *s,
                _ => ranges.push((*s, *s)),
            }
        }
        if !again.is_empty() {
            eprintln!(
                "run {run}: {} lines delivered again: {ranges:?} (run starts with {:?})",
                again.len(),
                records.iter().take(3).map(seq).collect::<Vec<_>>()
            );
        }
        let mut last_by_file: BTreeMap<u64, u64> = BTreeMap::new();
        for record in records {
            let seq = seq(record);
            let file = seq / LINES_PER_FILE;
            if let Some(last) = last_by_file.insert(file, seq) {
                assert!(
                    seq > last,
                    "run {run}: line {seq} of file {file} came after line {last}"
                );
            }
            seen.insert(seq);
            delivered += 1;
        }
    }
    let missing: Vec<u64> = (0..total).filter(|s| !seen.contains(s)).take(10).collect();
    assert!(
        missing.is_empty(),
        "lines never delivered (first 10): {missing:?}"
    );
    let duplicates = delivered - total as usize;
    assert!(
        duplicates <= max_duplicates,
        "{duplicates} duplicates, more than the {max_duplicates} that can be in flight at {KILLS} kills"
    );
    duplicates
}

/// Lines delivered but not yet in a checkpoint at a kill, at most: what the pipeline holds
/// between the source and the console (two channels of 2 batches, one batch in each stage
/// and one being sent), in batches of 64. With `checkpoint_interval: 0s` acks are written
/// as they come, also while the source waits for room in the pipeline.
fn in_flight_bound() -> usize {
    (2 * 2 + 4) * 64
}

/// Lets the last run deliver everything, stops it cleanly, and checks every run's output.
fn drain_and_check(label: &str, mut runs: Vec<Vec<serde_json::Value>>, last: Collecting) {
    wait_until_all_delivered(&runs, &last, TOTAL_LINES);
    let (code, records) = last.stop("TERM");
    assert_eq!(code, Some(0));
    runs.push(records);
    let duplicates = check_delivery(&runs, TOTAL_LINES, KILLS * in_flight_bound());
    eprintln!("{label}: {TOTAL_LINES} lines, {KILLS} kills, {duplicates} duplicates");
}

fn wait_until_all_delivered(runs: &[Vec<serde_json::Value>], current: &Collecting, total: u64) {
    let earlier: BTreeSet<u64> = runs.iter().flatten().map(seq).collect();
    wait_for(DELIVERY_TIMEOUT, "every line to be delivered", || {
        let mut seen = earlier.clone();
        seen.extend(current.snapshot().iter().map(seq));
        (seen.len() as u64 == total).then_some(())
    });
}

#[test]
fn rename_rotation_under_sigkill_restarts_loses_no_line() {
    let workspace = Workspace::new();
    let config = workspace.config(
        &["app.log*"],
        "checkpoint_interval: 0s\nrotate_wait: 1s",
        PIPELINE,
    );
    let logs = workspace.logs();
    let writer = std::thread::spawn(move || {
        let current = logs.join("app.log");
        let mut file = append(&current);
        for seq in 0..TOTAL_LINES {
            if seq > 0 && seq % LINES_PER_FILE == 0 {
                drop(file);
                std::fs::rename(
                    &current,
                    logs.join(format!("app.log.{}", seq / LINES_PER_FILE)),
                )
                .unwrap();
                file = append(&current);
            }
            file.write_all(line(seq).as_bytes()).unwrap();
            if seq % 25 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let mut runs = Vec::new();
    for kill in 0..KILLS {
        let agent = Collecting::start(&config);
        std::thread::sleep(Duration::from_millis(300 + 70 * kill as u64));
        let (_, records) = agent.stop("KILL");
        runs.push(records);
    }
    let last = Collecting::start(&config);
    writer.join().unwrap();
    drain_and_check("rename rotation", runs, last);
}

#[test]
fn copytruncate_under_sigkill_restarts_loses_no_line_outside_the_window() {
    let workspace = Workspace::new();
    let config = workspace.config(
        &["app.log"],
        "checkpoint_interval: 0s\nrotate_wait: 1s",
        PIPELINE,
    );
    let logs = workspace.logs();
    // The writer copies and truncates only once every line written so far was delivered:
    // lines written between the copy and the truncation, or not yet read when the file is
    // truncated, are copytruncate's known hazard (docs/file-tailing.md), not tested here.
    let delivered_up_to = Arc::new(AtomicU64::new(0));
    let watermark = delivered_up_to.clone();
    let writer = std::thread::spawn(move || {
        let current = logs.join("app.log");
        let mut file = append(&current);
        for seq in 0..TOTAL_LINES {
            if seq > 0 && seq % LINES_PER_FILE == 0 {
                wait_for(
                    DELIVERY_TIMEOUT,
                    "the file to be delivered before truncation",
                    || (watermark.load(Ordering::Acquire) >= seq).then_some(()),
                );
                std::fs::copy(
                    &current,
                    logs.join(format!("app.log.{}", seq / LINES_PER_FILE)),
                )
                .unwrap();
                file.set_len(0).unwrap();
            }
            file.write_all(line(seq).as_bytes()).unwrap();
            if seq % 25 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    });
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let track = |records: &[serde_json::Value]| {
        let mut seen = seen.lock().unwrap();
        seen.extend(records.iter().map(seq));
        // Contiguous prefix delivered so far.
        let prefix = (0..).take_while(|s| seen.contains(s)).count() as u64;
        delivered_up_to.store(prefix, Ordering::Release);
    };
    let mut runs = Vec::new();
    for kill in 0..KILLS {
        let agent = Collecting::start(&config);
        let until = std::time::Instant::now() + Duration::from_millis(400 + 70 * kill as u64);
        while std::time::Instant::now() < until {
            track(&agent.snapshot());
            std::thread::sleep(Duration::from_millis(20));
        }
        let (_, records) = agent.stop("KILL");
        track(&records);
        runs.push(records);
    }
    let last = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "the writer to finish", || {
        track(&last.snapshot());
        writer.is_finished().then_some(())
    });
    writer.join().unwrap();
    drain_and_check("copytruncate", runs, last);
}

#[test]
fn a_file_rotated_out_of_the_include_set_while_stopped_is_finished_first() {
    let workspace = Workspace::new();
    let config = workspace.config(&["app.log"], "", "");
    let path = workspace.logs().join("app.log");
    let mut file = append(&path);
    write_lines(&mut file, 0..100);
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "the first 100 lines", || {
        (agent.count() == 100).then_some(())
    });
    let (code, _) = agent.stop("TERM");
    assert_eq!(code, Some(0));
    // While stopped: more lines, then a rename rotation, then lines in the new file.
    write_lines(&mut file, 100..200);
    drop(file);
    std::fs::rename(&path, workspace.logs().join("app.log.1")).unwrap();
    let mut file = append(&path);
    write_lines(&mut file, 200..300);
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "the 200 new lines", || {
        (agent.count() >= 200).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let (_, records) = agent.stop("TERM");
    let seqs: Vec<u64> = records.iter().map(seq).collect();
    assert_eq!(
        seqs,
        (100..300).collect::<Vec<_>>(),
        "exactly the unread lines, in order"
    );
}

#[test]
fn a_node_agent_starts_at_the_end_of_existing_files_on_its_first_start() {
    let workspace = Workspace::new();
    let config = workspace.config(&["*.log"], "", "role: node_agent");
    let path = workspace.logs().join("old.log");
    let mut file = append(&path);
    write_lines(&mut file, 0..50);
    let agent = Collecting::start(&config);
    wait_until_a_file_is_open(&agent);
    write_lines(&mut file, 50..60);
    // A file that appears later is read from its beginning.
    let mut new = append(&workspace.logs().join("new.log"));
    write_lines(&mut new, 60..70);
    wait_for(DELIVERY_TIMEOUT, "the new lines", || {
        (agent.count() >= 20).then_some(())
    });
    let (_, records) = agent.stop("TERM");
    let seqs: BTreeSet<u64> = records.iter().map(seq).collect();
    assert_eq!(seqs, (50..70).collect());
}

#[test]
fn a_deleted_file_is_read_to_its_end_and_its_handle_released() {
    let workspace = Workspace::new();
    let config = workspace.config(&["*.log"], "rotate_wait: 2s", "");
    let path = workspace.logs().join("app.log");
    let mut file = append(&path);
    write_lines(&mut file, 0..30);
    let agent = Collecting::start(&config);
    wait_until_a_file_is_open(&agent);
    std::fs::remove_file(&path).unwrap();
    // Written after the unlink, through the writer's handle: still read.
    write_lines(&mut file, 30..40);
    wait_for(DELIVERY_TIMEOUT, "all 40 lines", || {
        (agent.count() >= 40).then_some(())
    });
    wait_for(DELIVERY_TIMEOUT, "the handle to be released", || {
        (agent.agent.metric("vigia_files_open{component=\"app\"}") == Some(0.0)).then_some(())
    });
    let pid_fds = open_files(&agent);
    assert!(
        !pid_fds
            .iter()
            .any(|p| p.to_string_lossy().contains("app.log")),
        "{pid_fds:?}"
    );
    let (_, records) = agent.stop("TERM");
    assert_eq!(
        records.iter().map(seq).collect::<Vec<_>>(),
        (0..40).collect::<Vec<_>>()
    );
}

fn open_files(agent: &Collecting) -> Vec<PathBuf> {
    let pid = agent.agent.pid();
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubernetes_cri_logs_are_reassembled_with_their_metadata() {
    let workspace = Workspace::new();
    let pod_dir = workspace.logs().join(
        "var/log/pods/shop_checkout-7d9f8b6c5-x2x4q_0b5e4c1a-2f0d-4a5b-9c3e-1d2f3a4b5c6d/app",
    );
    std::fs::create_dir_all(&pod_dir).unwrap();
    std::fs::copy(crate::support::data("logs/cri.log"), pod_dir.join("0.log")).unwrap();
    let config = workspace.config(&["var/log/pods/**/*.log"], "", "");
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "the CRI records", || {
        (agent.count() >= 5).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500)); // nothing more may come
    let (_, records) = agent.stop("TERM");
    crate::support::golden::assert_golden("file-cri.jsonl", &without_paths(&records, &workspace));
}

#[test]
fn docker_json_logs_are_reassembled() {
    let workspace = Workspace::new();
    std::fs::copy(
        crate::support::data("logs/docker.log"),
        workspace.logs().join("docker.log"),
    )
    .unwrap();
    let config = workspace.config(&["*.log"], "", "");
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "the Docker records", || {
        (agent.count() >= 4).then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    let (_, records) = agent.stop("TERM");
    crate::support::golden::assert_golden(
        "file-docker.jsonl",
        &without_paths(&records, &workspace),
    );
}

/// Records as JSON lines, with the temp dir replaced so goldens are stable.
fn without_paths(records: &[serde_json::Value], workspace: &Workspace) -> String {
    let root = workspace.logs().display().to_string();
    records
        .iter()
        .map(|r| format!("{}\n", r.to_string().replace(&root, "<logs>")))
        .collect()
}

#[test]
fn a_10_mib_line_and_binary_garbage_are_survived_and_marked() {
    let workspace = Workspace::new();
    let mut file = append(&workspace.logs().join("app.log"));
    file.write_all(b"{\"seq\":0,\"msg\":\"before\"}\n").unwrap();
    file.write_all(&vec![b'x'; 10 * 1024 * 1024]).unwrap();
    file.write_all(b"\n").unwrap();
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .filter(|b| *b != b'\n')
        .collect();
    file.write_all(&garbage).unwrap();
    file.write_all(b"\n{\"seq\":1,\"msg\":\"after\"}\n")
        .unwrap();
    let config = workspace.config(&["app.log"], "multiline:\n  mode: none", "");
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "the 4 records", || {
        (agent.count() >= 4).then_some(())
    });
    let truncated = agent
        .agent
        .metric("vigia_lines_truncated_total{component=\"app\"}");
    let (_, records) = agent.stop("TERM");
    assert_eq!(records.len(), 4);
    assert_eq!(records[0]["msg"], "before");
    let long = &records[1];
    assert_eq!(long["source"]["truncated"], true);
    assert_eq!(long["msg"].as_str().unwrap().len(), 256 * 1024);
    assert_eq!(records[2]["source"]["invalid_utf8"], true);
    assert_eq!(records[3]["msg"], "after");
    assert_eq!(truncated, Some(1.0));
}

#[test]
fn a_corrupt_checkpoint_falls_back_to_the_previous_generation_loudly() {
    let workspace = Workspace::new();
    let config = workspace.config(
        &["app.log"],
        "checkpoint_interval: 0s\nmultiline:\n  mode: none",
        "",
    );
    let path = workspace.logs().join("app.log");
    let mut file = append(&path);
    write_lines(&mut file, 0..50);
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "50 lines", || {
        (agent.count() == 50).then_some(())
    });
    assert_eq!(agent.stop("TERM").0, Some(0));
    write_lines(&mut file, 50..60);
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "10 more lines", || {
        (agent.count() == 10).then_some(())
    });
    assert_eq!(agent.stop("TERM").0, Some(0));

    // A flipped byte in the current checkpoint.
    let checkpoint = workspace.data().join("checkpoints/app.json");
    let mut bytes = std::fs::read(&checkpoint).unwrap();
    let last = bytes.len() - 5;
    bytes[last] ^= 0x20;
    std::fs::write(&checkpoint, bytes).unwrap();

    let agent = Collecting::start(&config);
    std::thread::sleep(Duration::from_millis(800));
    let corrupt = agent
        .agent
        .metric("vigia_checkpoint_errors_total{component=\"app\",kind=\"corrupt\"}");
    let logs = agent.agent.logs();
    let (code, records) = agent.stop("TERM");
    assert_eq!(code, Some(0));
    assert_eq!(corrupt, Some(1.0));
    assert!(
        logs.iter()
            .any(|l| l.contains("checkpoint unusable") && l.contains("checksum mismatch")),
        "{logs:?}"
    );
    // Only what was acknowledged since the previous generation comes again, not everything.
    assert!(records.len() < 60, "{} lines read again", records.len());
    let seqs: Vec<u64> = records.iter().map(seq).collect();
    assert!(
        seqs.iter().all(|s| *s >= 50),
        "re-read from before the previous generation: {seqs:?}"
    );
}

#[test]
fn sigterm_reads_the_files_to_their_end_before_draining() {
    // A sidecar is stopped after its service exited: its last lines are still unread.
    const LINES: u64 = 60_000;
    let workspace = Workspace::new();
    let config = workspace.config(
        &["app.log"],
        "",
        "shutdown:\n  grace_period: 60s\npipeline:\n  channel_capacity: 2\n  batch_max_events: 64",
    );
    let mut file = append(&workspace.logs().join("app.log"));
    write_lines(&mut file, 0..LINES);
    // The service's last words: a stack trace multiline holds until its timeout.
    file.write_all(
        b"2026-11-28 10:00:00.120 ERROR [main] com.shop.Main - shutting down with 3 orders in flight\njava.lang.IllegalStateException: checkout closed\n\tat com.shop.Checkout.close(Checkout.java:88)\n\tat com.shop.Main.main(Main.java:12)\n",
    )
    .unwrap();
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "the first records", || {
        (agent.count() > 0).then_some(())
    });
    let (code, records) = agent.stop("TERM");
    assert_eq!(code, Some(0), "a clean exit");
    let seqs: BTreeSet<u64> = records
        .iter()
        .filter(|r| r["attrs"]["seq"].is_u64())
        .map(seq)
        .collect();
    assert_eq!(
        seqs.len() as u64,
        LINES,
        "every line read before the agent exited"
    );
    let last = records.last().unwrap();
    let last = last.to_string();
    assert!(
        last.contains("shutting down") && last.contains("Main.java:12"),
        "the stack trace multiline held is emitted whole: {last}"
    );
}

#[test]
fn a_checkpoint_that_cannot_be_written_shows_in_readyz() {
    let workspace = Workspace::new();
    let config = workspace.config(&["app.log"], "checkpoint_interval: 100ms", "");
    let mut file = append(&workspace.logs().join("app.log"));
    write_lines(&mut file, 0..10);
    let agent = Collecting::start(&config);
    wait_for(DELIVERY_TIMEOUT, "the lines", || {
        (agent.count() == 10).then_some(())
    });
    let readyz = || crate::support::agent::http_get(&agent.agent.url("/readyz")).unwrap();
    wait_for(DELIVERY_TIMEOUT, "ready", || {
        (readyz().0 == 200).then_some(())
    });
    // The disk under the checkpoints goes bad: its directory is now a file.
    let checkpoints = workspace.data().join("checkpoints");
    std::fs::rename(&checkpoints, workspace.data().join("moved")).unwrap();
    std::fs::write(&checkpoints, b"not a directory").unwrap();
    write_lines(&mut file, 10..20);
    let body = wait_for(DELIVERY_TIMEOUT, "the source reported failing", || {
        let (status, body) = readyz();
        (status == 503).then_some(body)
    });
    assert!(
        body.contains("source.app") && body.contains("checkpoint"),
        "{body}"
    );
    assert!(
        agent
            .agent
            .metric("vigia_checkpoint_errors_total{component=\"app\",kind=\"write\"}")
            .unwrap_or(0.0)
            >= 1.0
    );
    // Repaired: the next write succeeds and the source is ready again.
    std::fs::remove_file(&checkpoints).unwrap();
    std::fs::rename(workspace.data().join("moved"), &checkpoints).unwrap();
    write_lines(&mut file, 20..30);
    wait_for(DELIVERY_TIMEOUT, "ready again", || {
        (readyz().0 == 200).then_some(())
    });
    let (code, _) = agent.stop("TERM");
    assert_eq!(code, Some(0));
}
